"""A trained BP-STDP network's response to one test image (BP-STDP paper, Fig. 8).

A layered network of non-leaky integrate-and-fire neurons (BP-STDP Eq. 3) is trained with
BP-STDP (Eqs. 15-21, :mod:`sbp_brian.rules.bpstdp`) by the ordinary trainer, with its model
file's settings and budget (by default ``bpstdp_digits``: scikit-learn's digits, 64-500-10
plus the bias neuron, 10 epochs), on the compiled path.  Then one test image is presented
to the trained network with learning off and no teacher, as at evaluation, and every
layer's spikes and the output neurons' membrane potentials ``U`` are recorded (runtime
device).  The paper's Fig. 8 shows the same for MNIST: after training the target output
neuron fires from the first milliseconds on and the others stay silent.

Writes ``bpstdp_response.npz`` (spikes of every layer, the output potentials, the
thresholds) and ``bpstdp_response.png``/``.svg``: the image, the rasters of the input,
hidden and output layers, and the output potentials with the output threshold.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from brian2 import Network, StateMonitor, ms, mV, seed as brian_seed

from sbp_brian.datasets import load_dataset
from sbp_brian.layered import LayeredConfig, LayeredNetwork
from sbp_brian.model_files import load_model
from sbp_brian.targets import use_target
from sbp_brian.train import Trainer

NAME = "bpstdp_response"
SHOWS = """A BP-STDP network trained on the digits by its model file (bpstdp_digits, 10
epochs), then shown one test image with learning off: the rasters of the input (regular
trains with a random lag), hidden and output layers, and the output neurons' membrane
potentials against the output threshold (the target class drawn thick), as in the BP-STDP
paper's Fig. 8."""


def run(out_dir, device: str = "numpy", model: str = "bpstdp_digits", sample: int = 0,
        epochs: int | None = None, train_samples: int | None = None, seed: int = 0,
        train_device: str = "cpp") -> dict:
    """Train (``epochs`` and ``train_samples`` default to the model file's budget and the
    whole training set), then record test image ``sample`` on ``device``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = load_dataset("digits").subset(train_samples, None)
    model_file = load_model(model)
    overrides = {"seed": seed} if epochs is None else {"seed": seed, "epochs": epochs}
    config = LayeredConfig.from_model(model_file, data.n_inputs, data.n_classes, **overrides)
    with tempfile.TemporaryDirectory(prefix="sbp_brian_bpstdp_response_") as folder:
        trainer = Trainer(config, data, folder, device=train_device, progress=False)
        try:
            history = trainer.fit()
        finally:
            trainer.close()
        weights = [trainer.weights[f"w_{k}"] for k in range(len(config.sizes) - 1)]
    image, label = data.x_test[sample], int(data.y_test[sample])
    response = _present(config, image, weights, device, seed)
    response.update(label=label, image=image, sizes=np.asarray(config.sizes))
    np.savez_compressed(out_dir / "bpstdp_response.npz", **response)
    _plot(response, out_dir)
    counts = np.bincount(response["output_i"], minlength=config.sizes[-1])
    winner = response["output_i"] == int(np.argmax(counts))
    return {"device": device, "train_device": train_device, "model": model,
            "epochs": config.epochs, "training_samples": len(data.x_train),
            "test_accuracy_after_training": history[-1]["test_accuracy"],
            "sample": sample, "label": label, "predicted": int(np.argmax(counts)),
            "output_spike_counts": counts.tolist(),
            "first_output_spike_of_the_predicted_class_ms":
                float(response["output_t_ms"][winner].min()) if winner.any() else None,
            "hidden_spikes": int(len(response["hidden_i"])),
            "input_spikes": int(len(response["input_i"]))}


def _present(config: LayeredConfig, image, weights, device: str, seed: int) -> dict:
    """One sample through the trained network, learning off and no target (evaluation)."""
    use_target(device)
    brian_seed(seed)
    net = LayeredNetwork(config, 1)
    x = np.append(image, 1.0) if config.bias_input else image
    net.load(x[None, :], np.zeros((1, config.sizes[-1])), weights, learning_rate=0.0)
    output = net.layers[-1]
    potentials = StateMonitor(output, "v", record=True, name="output_potentials")
    Network(net.network.objects, potentials).run(config.sample_duration, namespace={})
    hidden = net.spikes[1:-1]
    # copies (np.array): a monitor's arrays are views into memory freed with the network
    offsets = np.cumsum([0] + [m.source.N for m in hidden])  # hidden layers stacked
    return {
        "t_ms": np.array(potentials.t / ms), "output_v_mV": np.array(potentials.v / mV),
        "theta_output_mV": float(config.output["theta"] / mV),
        "duration_ms": float(config.sample_duration / ms),
        "input_i": np.array(net.spikes[0].i[:]), "input_t_ms": np.array(net.spikes[0].t / ms),
        "hidden_i": np.concatenate([np.array(m.i[:]) + o for m, o in zip(hidden, offsets)]),
        "hidden_t_ms": np.concatenate([np.array(m.t / ms) for m in hidden]),
        "output_i": np.array(net.spikes[-1].i[:]),
        "output_t_ms": np.array(net.spikes[-1].t / ms)}


def _plot(data, out_dir: Path) -> None:
    import matplotlib.pyplot as plt

    from sbp_brian.plotting import plot_raster, save_figure

    duration, label = float(data["duration_ms"]), int(data["label"])
    side = int(round(np.sqrt(len(data["image"]))))
    fig = plt.figure(figsize=(10, 8.5))
    grid = fig.add_gridspec(4, 2, width_ratios=[1, 4], height_ratios=[1.2, 1.4, 1.2, 2])
    ax = fig.add_subplot(grid[0:2, 0])
    ax.imshow(np.asarray(data["image"]).reshape(side, side), cmap="gray_r")
    ax.set_title(f"test image: digit {label}", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    rows = (("input", "input (regular trains, rate x 250 Hz; last: bias)"),
            ("hidden", "hidden (integrate-and-fire)"), ("output", "output"))
    for row, (name, title) in enumerate(rows):
        ax = fig.add_subplot(grid[row, 1])
        plot_raster(data[f"{name}_i"], data[f"{name}_t_ms"] * ms, axes=ax,
                    ms=4 if name == "output" else 2)
        if name == "output":
            ax.set_yticks(range(int(data["sizes"][-1])))
            ax.set_ylim(-0.5, int(data["sizes"][-1]) - 0.5)
            ax.tick_params(axis="y", labelsize=6)
        ax.set_xlim(0, duration)
        ax.set_title(title, fontsize=9)
        if row < 2:
            ax.set_xlabel("")
    ax = fig.add_subplot(grid[3, :])
    for k, trace in enumerate(data["output_v_mV"]):
        is_label = k == label
        ax.plot(data["t_ms"], trace, lw=1.6 if is_label else 0.6, zorder=3 if is_label else 2,
                color="C3" if is_label else "0.55", label=f"output {k} (the label)"
                if is_label else ("other outputs" if k == (label + 1) % len(data["output_v_mV"])
                                  else None))
    ax.axhline(data["theta_output_mV"], color="k", ls="--", lw=0.8,
               label=f"threshold {data['theta_output_mV']:g} mV")
    ax.set_xlim(0, duration)
    # linear within one threshold of 0, logarithmic beyond: the silent outputs sink far below
    ax.set_yscale("symlog", linthresh=data["theta_output_mV"])
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("U (mV, symlog)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("output membrane potentials after training, sampled at the start of each "
                 "step (reset to 0 at each spike; no leak, no lower bound)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, out_dir, "bpstdp_response")
