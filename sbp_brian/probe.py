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
"""
from __future__ import annotations

import time

import numpy as np

__all__ = ["linear_probe", "PROBE_TRAIN_SAMPLES"]

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
