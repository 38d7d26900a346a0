"""Response of an untrained three-layer network to one input (cf. BRP Fig. 7, BP-STDP Fig. 8).

One 8x8 digit (scikit-learn's digits) is encoded as Bernoulli spike trains (SBP Eq. 2:
a spike in each time step with probability intensity * max_rate * dt, Brian2's
``PoissonGroup``) and presented for the model's sample duration to a network built from the
model file: conductance-LIF hidden neurons (half excitatory, half inhibitory, Dale's law)
behind TM-STP synapses, and conductance-LIF outputs.  The weights are random and untrained:
input weights uniform in [0, ``w_in_max``], output weights uniform in [0, ``w_out_max``]
times the hidden neuron's sign; these scales only set a visible activity level.

Writes ``network_response.npz`` (spikes of every layer, output membrane potentials) and
``network_response.png``/``.svg``: rasters of the three layers and the outputs' membrane
potentials.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from brian2 import (Network, PoissonGroup, SpikeMonitor, StateMonitor, defaultclock, ms, mV,
                    seed as brian_seed)

from sbp_brian.model_files import load_model
from sbp_brian.targets import use_target

NAME = "network_response"
SHOWS = """One 8x8 digit, the rasters of the input (Bernoulli spikes), hidden (excitatory
black, inhibitory red) and output layers, and the outputs' membrane potentials of the
untrained network built from the model file (its STP, conductances and Dale's law; random
weights)."""


def run(out_dir, device: str = "numpy", model: str = "sbp_digits", sample: int = 0,
        n_hidden: int = 100, w_in_max: float = 4.0, w_out_max: float = 3.0,
        seed: int = 1, duration_factor: float = 2.0) -> dict:
    from sklearn.datasets import load_digits

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_file = load_model(model)
    digits = load_digits()
    image = digits.data[sample] / 16.0
    label = int(digits.target[sample])
    sim = model_file["simulation"]
    sizes = model_file["sizes"]
    use_target(device)  # standalone builds go to a temporary folder
    defaultclock.dt = sim["dt"]
    brian_seed(seed)
    rng = np.random.default_rng(seed)
    n_in, n_out = len(image), sizes["output"]
    n_inhibitory = int(round(sizes["inhibitory_fraction"] * n_hidden))
    signs = np.where(np.arange(n_hidden) < n_hidden - n_inhibitory, 1, -1)
    inputs = PoissonGroup(n_in, rates=image * model_file["input"]["max_rate"], name="inputs")
    hidden = model_file.neuron_model("hidden", dale=True).group(n_hidden, name="hidden")
    hidden.dale_sign = signs
    output = model_file.neuron_model("output").group(n_out, name="output")
    input_hidden = model_file.synapse_model("input_hidden").synapses(inputs, hidden,
                                                                     name="input_hidden")
    input_hidden.w = rng.uniform(0, w_in_max, n_in * n_hidden)
    hidden_output = model_file.synapse_model("hidden_output").synapses(hidden, output,
                                                                       name="hidden_output")
    hidden_output.w = rng.uniform(0, w_out_max, n_hidden * n_out) * np.repeat(signs, n_out)
    monitors = {name: SpikeMonitor(group, name=f"{name}_spikes")
                for name, group in (("input", inputs), ("hidden", hidden), ("output", output))}
    output_v = StateMonitor(output, "v", record=True, name="output_v")
    duration = sim["sample_duration"] * duration_factor
    Network(inputs, hidden, output, input_hidden, hidden_output, *monitors.values(),
            output_v).run(duration, namespace={})
    data = {"label": label, "image": image, "t_ms": np.asarray(output_v.t / ms),
            "output_v_mV": np.asarray(output_v.v / mV), "hidden_signs": signs}
    for name, mon in monitors.items():
        data[f"{name}_i"] = np.asarray(mon.i[:])
        data[f"{name}_t_ms"] = np.asarray(mon.t / ms)
    np.savez_compressed(out_dir / "network_response.npz", **data)
    _plot(data, float(duration / ms), out_dir)
    counts = np.bincount(data["output_i"], minlength=n_out)
    return {"device": device, "label": label, "input_spikes": int(len(data["input_i"])),
            "hidden_spikes": int(len(data["hidden_i"])), "output_spike_counts": counts.tolist()}


def _plot(data, duration_ms: float, out_dir: Path) -> None:
    import matplotlib.pyplot as plt

    from sbp_brian.plotting import plot_raster, plot_state, save_figure

    fig = plt.figure(figsize=(10, 7))
    grid = fig.add_gridspec(4, 2, width_ratios=[1, 4], height_ratios=[1, 1.4, 0.8, 1.6])
    ax = fig.add_subplot(grid[0:2, 0])
    ax.imshow(data["image"].reshape(8, 8), cmap="gray_r")
    ax.set_title(f"input: digit {data['label']}", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    rows = (("input", 0, "input (Bernoulli, Eq. 2)"), ("hidden", 1, "hidden (E: black, I: red)"),
            ("output", 2, "output"))
    for name, row, title in rows:
        ax = fig.add_subplot(grid[row, 1])
        indices, times = data[f"{name}_i"], data[f"{name}_t_ms"] * ms
        if name == "hidden":
            inhibitory = data["hidden_signs"][indices] < 0
            plot_raster(indices[~inhibitory], times[~inhibitory], axes=ax, ms=3)
            plot_raster(indices[inhibitory], times[inhibitory], axes=ax, ms=3, color="tab:red")
        else:
            plot_raster(indices, times, axes=ax, ms=4)
        ax.set_xlim(0, duration_ms)
        ax.set_title(title, fontsize=9)
        if row < 2:
            ax.set_xlabel("")
    ax = fig.add_subplot(grid[3, :])
    plot_state(data["t_ms"] * ms, data["output_v_mV"] * mV, var_unit=mV, var_name="V output",
               axes=ax, lw=0.8)
    ax.set_xlim(0, duration_ms)
    ax.set_title("output membrane potentials (untrained, random weights)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, out_dir, "network_response")
