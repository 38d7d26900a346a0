"""Readings of the released SBP algorithm on a validation split of MNIST (kind
``validation_grid`` of docs/results.md): what limits its accuracy, measured.

    python figures/training/released_readings.py DATA_DIR OUT.json [READING ...]

The first 10000 training images of a 10 % validation split of MNIST's training set (its held-out
images scored, the first 2000 of them), 3 epochs, seed 0, for: the released settings (with
SBP); the code's baseline (its symmetric update: without SBP); SBP's update with its gains
switched off (f = 0: what the gains add, against what the update itself changes); the
input weights frozen (what the hidden layer's learning adds); every batch starting from zero
instead of the previous batch's state; a new order every epoch; 100 free and 20 nudged
sweeps instead of 20 and 5 (is the relaxation too short?); the multilayer scripts' larger
learning rates [0.4, 0.1].  Given READING names, only those are measured and the others kept
from OUT.  And, on the released settings after training, how far the free
phase is from its fixed point: the largest change of an output and of a hidden state when 40
more free sweeps follow the 20 (on 50 training images).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from sbp_brian.released import feedforward
from sbp_brian.rules.sbp_released import relax
from sbp_brian.runs import make_config, make_data

READINGS = {
    "released settings": {},
    "without SBP (the code's symmetric update)": {"no_sbp": True},
    "SBP's update without its gains (f = 0)": {"f": 0.0},
    "input weights frozen": {"freeze_hidden": True},
    "state reset every batch": {"state": "reset"},
    "a new order every epoch": {"order": "shuffled"},
    "100 free, 20 nudged sweeps": {"free_iterations": 100, "nudged_iterations": 20},
    "learning rates [0.4, 0.1]": {"alpha": [0.4, 0.1]},
}


def configure(options: dict, data, change: dict):
    config = make_config({**options, **{k: v for k, v in change.items()
                                        if k in ("freeze_hidden", "no_sbp")}}, data)
    if "f" in change:
        config.rule.f = change["f"]
    for key in ("state", "order"):
        if key in change:
            setattr(config, key, change[key])
    for key in ("free_iterations", "nudged_iterations"):
        if key in change:
            setattr(config.rule, key, change[key])
    if "alpha" in change:
        config.rule.alpha = change["alpha"]
    return config


def main() -> None:
    data_dir, out = sys.argv[1], Path(sys.argv[2])
    only = sys.argv[3:]  # names of readings to (re)measure; the others kept from OUT
    options = {"model": "sbp_released", "dataset": "mnist", "data_dir": data_dir,
               "validation": 0.1, "seed": 0}
    data = make_data(options)
    n, epochs = 10000, 3
    x, y = data.x_train[:n], data.y_train[:n]
    xv, yv = data.x_test[:2000], data.y_test[:2000]
    earlier = json.loads(out.read_text()) if only and out.exists() else {"readings": []}
    kept = {r["reading"]: r for r in earlier["readings"]}
    rows, settled = [], earlier.get("free_phase_after_training")
    for name, change in READINGS.items():
        if only and name not in only:
            if name in kept:
                rows.append(kept[name])
            continue
        config = configure(options, data, change)
        runner = config.make_runner("numpy")
        state = config.initial_state(np.random.default_rng(0))
        accuracies = []
        for epoch in range(epochs):
            order = (np.random.default_rng([0, epoch]).permutation(n) if config.shuffle
                     else np.arange(n))
            state, _ = runner.run_state(x[order], np.eye(10)[y[order]], state, True, 0)
            _, held_out = runner.run_state(xv, np.zeros((len(xv), 10)), state, False, 0)
            accuracies.append(held_out.accuracy(yv))
            print(name, epoch + 1, accuracies[-1], flush=True)
        rows.append({"reading": name, "validation_accuracy_per_epoch": accuracies})
        if not change:
            settled = _distance_to_fixed_point(config, state, x[:50])
    out.write_text(json.dumps({
        "note": "MNIST, the first 10000 images of a 10 % validation split's training part, "
                "3 epochs, seed 0; scored on the first 2000 held-out images",
        "readings": rows, "free_phase_after_training": settled}, indent=2) + "\n")


def _distance_to_fixed_point(config, state: dict, x: np.ndarray) -> dict:
    """The largest change of the output and hidden states when 40 more free sweeps follow
    the released 20, from one batch's feed-forward phase."""
    w = [state["w_0"], state["w_1"]]
    b = [state["b_1"], state["b_2"]]
    carried = [{name: state[f"{name}_{layer}"][:len(x)].copy() for name in ("V", "g", "h")}
               for layer in (1, 2)]
    layers, _ = feedforward(x, w, b, carried, config)
    free = relax(layers, w, b, config.rule.free_iterations, config.rule.epsilon)
    longer = relax(free, w, b, 40, config.rule.epsilon)
    return {"max_output_change": float(np.abs(longer[2] - free[2]).max()),
            "mean_output_change": float(np.abs(longer[2] - free[2]).mean()),
            "max_hidden_change": float(np.abs(longer[1] - free[1]).max()),
            "mean_output": float(free[2].mean())}


if __name__ == "__main__":
    main()
