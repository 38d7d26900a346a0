"""``sbp-brian probe RUN``: how much of a run's accuracy its hidden code allows.

A linear probe separates the hidden representation from the spiking readout: a logistic
regression (on standardised features) is fitted to the hidden layer's spike counts, one
Bernoulli presentation per image, on training images, and scored on test images; the
network's own spiking readout (most output spikes, ties by mean membrane potential; also
count-only, ties wrong) is scored on the same test presentations, and a logistic regression
on the pixels of the same training images gives the data's linear ceiling.  If probe and
readout agree, the hidden code limits the accuracy; if the readout is far below the probe,
the output layer does.  (Dale's law on the output synapses does not by itself limit a linear
arg-max readout: adding the same constant to a hidden neuron's weights onto every output
changes no decision, so any readout can be shifted to the signs Dale's law asks for.)

The run's checkpoint is simulated with learning off (the compiled path with a hidden spike
monitor, or the runtime reference), and the probe's training presentations use their own
random stream (``chunk_seed`` phase 2) while the test presentations are the ones
``sbp-brian evaluate`` uses (the last epoch's evaluation), so the readout accuracy reported
here is the run's logged test accuracy on those images.

``sbp-brian baselines`` (:func:`baselines`) gives the same two linear readouts without a
trained run, for the results tables: the logistic regression on the pixels, and on the spike
counts of the model's untrained hidden layer (its random initial weights, frozen: the
control's hidden layer), on a data set's split.  Every spiking variant should be read against
both lines.
"""
from __future__ import annotations

import tempfile
import time

import numpy as np

__all__ = ["linear_probe", "baselines", "PROBE_TRAIN_SAMPLES"]

#: Training images the probe fits on by default (fewer when the run trains on fewer).
PROBE_TRAIN_SAMPLES = 3000


def _logistic(x_train, y_train, x_test, y_test) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return float(model.fit(x_train, y_train).score(x_test, y_test))


def linear_probe(run, train_samples: int | None = None, test_samples: int | None = None,
                 device: str | None = None, progress: bool = False) -> dict:
    """Probe of a run folder's checkpoint (see the module docstring); returns a dict of
    accuracies (``probe_hidden_counts``, ``spiking_readout``, ``probe_pixels``) and activity
    figures.  ``train_samples``: the first images of the run's training set (which its
    ``--samples`` may have cut short); by default :data:`PROBE_TRAIN_SAMPLES` or all of them,
    whichever is fewer."""
    from .runs import make_trainer, read_run_options
    folder, options = read_run_options(run)
    if device:
        options["device"] = device
    start = time.perf_counter()
    trainer = make_trainer(options, folder, resume=True, progress=progress, record_hidden=True)
    try:
        data = trainer.data
        if data.codes is not None:
            raise ValueError(f"{data.name}: the probe compares class readouts; this data set's "
                             "outputs are codes scored by cosine (its metrics log has them)")
        available = len(data.y_train)
        if train_samples is None:
            train_samples = min(PROBE_TRAIN_SAMPLES, available)
        elif not 2 <= train_samples <= available:
            raise ValueError(f"train_samples {train_samples}: the run trains on {available} "
                             f"images of {data.name} (its --samples and --validation options); "
                             f"give 2 to {available}")
        n_test = len(data.y_test) if test_samples is None else min(test_samples,
                                                                   len(data.y_test))
        x_train, y_train = data.x_train[:train_samples], data.y_train[:train_samples]
        x_test, y_test = data.x_test[:n_test], data.y_test[:n_test]
        hidden_train = trainer.responses(x_train, phase=2,
                                         mix_epoch=trainer.last_evaluated_epoch).hidden_counts
        test = trainer.responses(x_test, epoch=trainer.last_evaluated_epoch, phase=1)
        hidden_test = test.hidden_counts
    finally:
        trainer.close()
    return {
        "run": str(folder), "epoch": trainer.state["epoch"],
        "train_samples": int(train_samples), "test_samples": int(n_test),
        "evaluated_on": data.name,
        "probe_hidden_counts": _logistic(hidden_train, y_train, hidden_test, y_test),
        "spiking_readout": test.accuracy(y_test),
        "spiking_readout_counts_only": test.accuracy_counts_only(y_test),
        "readout_undecided_by_counts": test.undecided_by_counts(),
        "readout_silent": float(np.mean(test.counts.sum(axis=1) == 0)),
        "probe_pixels": _logistic(x_train, y_train, x_test, y_test),
        "hidden_spikes_per_neuron_per_sample": float(np.mean(hidden_test)),
        "silent_hidden_fraction": float(np.mean(hidden_test.sum(axis=0) == 0)),
        "seconds": round(time.perf_counter() - start, 1),
    }


def baselines(options: dict, seeds=(0, 1, 2), progress: bool = False, log=print) -> dict:
    """Linear baselines on the split that ``options`` (``sbp-brian train``'s: model, dataset,
    data_dir, samples, test_samples, validation, device) gives: a logistic regression on the
    pixels of all its training images, scored on its test (or validation) images; and one on
    the spike counts of the model's untrained hidden layer, one Bernoulli presentation per
    image, for each seed's random initial weights (the fixed random layer of the control,
    before any training)."""
    from .runs import make_data, make_trainer
    start = time.perf_counter()
    data = make_data(options)
    log(f"[baselines] {data.name}: logistic regression on {len(data.y_train)} training "
        f"images' pixels ...")
    result = {"dataset": data.name, "model": options.get("model") or "sbp_digits",
              "train_samples": int(len(data.y_train)), "test_samples": int(len(data.y_test)),
              "evaluated_on": "validation" if "validation" in data.name else "test",
              "pixels": _logistic(data.x_train, data.y_train, data.x_test, data.y_test),
              "random_hidden_layer": {}}
    for seed in seeds:
        log(f"[baselines] seed {seed}: spike counts of the untrained hidden layer ...")
        with tempfile.TemporaryDirectory(prefix="sbp_brian_baseline_") as folder:
            trainer = make_trainer({**options, "seed": seed, "freeze_hidden": True,
                                    "no_sbp": True, "sbp_mode": None}, folder,
                                   progress=progress, record_hidden=True)
            try:
                hidden_train = trainer.responses(data.x_train, phase=2).hidden_counts
                hidden_test = trainer.responses(data.x_test, phase=1).hidden_counts
            finally:
                trainer.close()
        result["random_hidden_layer"][str(seed)] = {
            "accuracy": _logistic(hidden_train, data.y_train, hidden_test, data.y_test),
            "hidden_spikes_per_neuron_per_sample": float(np.mean(hidden_test))}
    result["seconds"] = round(time.perf_counter() - start, 1)
    return result
