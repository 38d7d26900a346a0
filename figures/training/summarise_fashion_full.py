"""Summarise the full-set Fashion-MNIST runs (60000 training / 10000 test images) into JSON.

    python figures/training/summarise_fashion_full.py RUNS OUT.json [--epochs 3]
        [--previous EARLIER.json] [--model sbp_fashion] [--baseline OTHER.json]

``RUNS`` holds one run folder per variant and seed, named ``{variant}_s{seed}`` with the
variant one of ``control``, ``nosbp``, ``paper``, ``spread``, ``weighted`` (runs not yet at
``--epochs`` are listed as unfinished and left out), each made by
``sbp-brian train MODEL --dataset fashion-mnist --epochs 3 --seed S`` with the
variant's options (the ``commands`` in the output; MODEL is ``--model``, ``sbp_fashion``
unless told).  Every run present is read; the variants with at least two seeds are
compared (Welch's t-test) with the control and with "without SBP", and every variant's
SBP-paper cost (Eq. 1) against "without SBP" is given per seed, from the count-only test
errors per epoch (undefined for a seed whose two error curves' ranges do not overlap).

The final accuracy of each run uses the package's readout (ties by membrane potential).
Runs made before that readout existed have only count-only numbers in their metrics log;
their final checkpoints are re-scored with :func:`sbp_brian.runs.evaluate_run` (epoch 3's
test presentations; its count-only number must equal the log's, which is asserted).

Beside ``OUT.json`` it draws ``OUT.png``/``.svg``: per variant, mean +- SD over seeds of the
count-only test accuracy and of the hidden activity, per epoch.

``--previous`` carries over the runs of an earlier summary whose folders are not in ``RUNS``
(run folders are not kept in the repository; each carried run is marked ``carried_from``),
so that runs made on different days add up to one summary.  ``--previous-run NAME=FILE``
carries over one run from a file of its per-epoch metrics records (such as
``fashion_weighted_five_epochs.json``).

``--baseline OTHER.json`` compares each variant with the same variant of another summary made
by this script at the same budget, on the seeds both have (Welch's t-test, ``vs_baseline``):
a model change, such as ``sbp_fashion_homeostasis`` against ``sbp_fashion``.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

from sbp_brian.model_files import ModelFileError, load_model
from sbp_brian.network import TrainingConfig
from sbp_brian.runs import (computational_cost, evaluate_run, read_metrics, summarise_costs,
                            welch_test)
from sbp_brian.train import CHECKPOINT, METRICS

OPTIONS = {"control": "--freeze-hidden --no-sbp", "nosbp": "--no-sbp",
           "paper": "--sbp-mode paper", "spread": "--sbp-mode spread",
           "weighted": "--sbp-mode weighted"}
NAME = re.compile(rf"({'|'.join(OPTIONS)})_s(\d+)")


def summarise_run(folder: Path, epochs: int, metrics: list | None = None) -> dict | None:
    """One finished run's numbers; ``None`` for a run still short of ``epochs``.
    ``metrics``: the run's per-epoch records when its folder is gone (then its last epoch
    must have the tie-break readout: there is no checkpoint to re-score)."""
    if metrics is None:
        metrics = read_metrics(folder) if (folder / METRICS).exists() else []
    if len(metrics) < epochs:
        return None
    if len(metrics) > epochs:
        raise SystemExit(f"{folder}: {len(metrics)} epochs logged, expected {epochs}")
    counts_only = [m.get("test_accuracy_counts_only", m["test_accuracy"]) for m in metrics]
    if "test_accuracy_counts_only" in metrics[-1]:
        final, how = metrics[-1]["test_accuracy"], "metrics log"
    else:  # made before the membrane-potential tie-break: re-scored from its checkpoint
        if not (folder / CHECKPOINT).exists():
            raise SystemExit(f"{folder}: the last epoch has only the count-only readout "
                             "and there is no checkpoint to re-score")
        scored = evaluate_run(folder)
        assert abs(scored["accuracy_counts_only"] - counts_only[-1]) < 1e-12, (folder, scored)
        final, how = scored["accuracy"], "sbp-brian evaluate (run made before the tie-break)"
    return {"folder": str(folder), "test_accuracy_final": final, "final_from": how,
            "test_accuracy_counts_only_per_epoch": counts_only,
            "train_accuracy_per_epoch": [m["train_accuracy"] for m in metrics],
            "hidden_spikes_per_neuron_per_sample": [
                m["hidden_spikes_per_neuron_per_sample"] for m in metrics],
            "samples_per_second": [m["samples_per_second"] for m in metrics]}


def add_costs(summary: dict, runs: dict, finals: dict, model) -> None:
    """The SBP paper's cost (Eq. 1) between "without SBP" and each other variant, per seed
    that both have, from the count-only test errors per epoch (the readout every log has)."""
    config = TrainingConfig.from_model(model, n_input=784, n_output=10)
    for variant in summary:
        if variant == "nosbp":
            continue
        costs = {}
        for seed in sorted(set(finals[variant]) & set(finals["nosbp"])):
            errors = [[1 - a for a in runs[f"{name}_s{seed}"]["test_accuracy_counts_only_per_epoch"]]
                      for name in ("nosbp", variant)]
            costs[seed] = computational_cost(*errors, config.n_weights)
        summary[variant]["cost_vs_nosbp"] = summarise_costs(costs)


LABELS = {"control": "control (frozen input weights)", "nosbp": "without SBP (local STDP)",
          "paper": 'SBP "paper"', "spread": 'SBP "spread"', "weighted": 'SBP "weighted" (ours)'}


def plot(runs: dict, finals: dict, stem: Path, epochs: int, model_name: str) -> None:
    """Accuracy and hidden activity per epoch, mean +- SD over each variant's seeds."""
    import matplotlib.pyplot as plt
    from sbp_brian.plotting import plot_comparison, save_figure
    variants = [v for v in OPTIONS if v in finals]

    def per_seed(variant, key):
        return [runs[f"{variant}_s{s}"][key] for s in sorted(finals[variant])]

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    plot_comparison({f"{LABELS[v]}, {len(finals[v])} seed{'s' * (len(finals[v]) > 1)}":
                     per_seed(v, "test_accuracy_counts_only_per_epoch") for v in variants},
                    axes=left, title=f"{model_name}, Fashion-MNIST 60000/10000, {epochs} epochs")
    left.set_ylabel("test accuracy, count-only readout (%)")
    left.set_ylim(0, 112)  # room for the legend above the curves
    left.set_yticks(range(0, 101, 20))
    left.legend(fontsize=7, frameon=False, loc="upper left")
    for variant in variants:
        spikes = np.array(per_seed(variant, "hidden_spikes_per_neuron_per_sample"))
        mean = spikes.mean(axis=0)
        sd = spikes.std(axis=0, ddof=1) if len(spikes) > 1 else 0 * mean
        x = np.arange(1, len(mean) + 1)
        line, = right.plot(x, mean, "o-", ms=3, label=LABELS[variant])
        right.fill_between(x, mean - sd, mean + sd, color=line.get_color(), alpha=0.15)
    right.set_xlabel("epoch")
    right.set_ylabel("hidden spikes per neuron per training sample")
    right.legend(fontsize=7, frameon=False)
    for ax in (left, right):
        ax.set_xticks(range(1, epochs + 1))
    fig.tight_layout()
    save_figure(fig, stem.parent, stem.name)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--previous", type=Path, default=None,
                        help="an earlier summary whose runs absent from RUNS are carried over")
    parser.add_argument("--previous-run", action="append", default=[], metavar="NAME=FILE",
                        help="a run whose folder is gone, from FILE's per-epoch records "
                             "(JSON with an 'epochs' list, one metrics-log record each)")
    parser.add_argument("--model", default="sbp_fashion",
                        help="the model file the runs were trained with (default sbp_fashion)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a summary of the same variants under another model, same budget: "
                             "each variant in both is compared with it (Welch)")
    args = parser.parse_args()
    try:  # an unknown or malformed model fails here, before anything is read
        model = load_model(args.model)
    except ModelFileError as error:
        raise SystemExit(f"--model {args.model}: {error}")
    baseline = None
    if args.baseline is not None:
        baseline = json.loads(args.baseline.read_text())
        lengths = {len(r["test_accuracy_counts_only_per_epoch"])
                   for r in baseline["runs"].values()}
        if lengths != {args.epochs}:
            raise SystemExit(f"--baseline {args.baseline}: runs of {sorted(lengths)} epochs, "
                             f"not {args.epochs}: compare equal budgets only")
    runs, unfinished = {}, []
    for folder in sorted(args.runs.iterdir()):
        if not folder.is_dir() or not NAME.fullmatch(folder.name):
            continue
        run = summarise_run(folder, args.epochs)
        if run is None:
            unfinished.append(folder.name)
        else:
            runs[folder.name] = run
    if args.previous is not None:
        previous = json.loads(args.previous.read_text())
        previous_model = previous.get("model", "sbp_fashion")  # older summaries: sbp_fashion
        if previous_model != args.model:
            raise SystemExit(f"--previous {args.previous}: runs of model {previous_model}, "
                             f"not {args.model}")
        for name, run in previous["runs"].items():
            if not (args.runs / name).exists():
                if len(run["test_accuracy_counts_only_per_epoch"]) != args.epochs:
                    raise SystemExit(f"{args.previous}: {name} has not {args.epochs} epochs")
                runs[name] = {**run, "carried_from": str(args.previous)}
    for item in args.previous_run:
        name, _, file = item.partition("=")
        if not NAME.fullmatch(name) or not file:
            raise SystemExit(f"--previous-run {item!r}: expected VARIANT_sSEED=FILE")
        if (args.runs / name).exists():
            raise SystemExit(f"--previous-run {name}: {args.runs / name} exists; use that")
        run = summarise_run(Path(file), args.epochs, json.loads(Path(file).read_text())["epochs"])
        if run is None:
            raise SystemExit(f"{file}: fewer than {args.epochs} epochs")
        runs[name] = {**run, "carried_from": file}
    finals = {}
    for name in sorted(runs):
        variant, seed = NAME.fullmatch(name).groups()
        finals.setdefault(variant, {})[int(seed)] = runs[name]["test_accuracy_final"]
    summary = {}
    for variant in OPTIONS:
        if variant not in finals:
            continue
        seeds = sorted(finals[variant])
        accs = [finals[variant][s] for s in seeds]
        curves = np.array([runs[f"{variant}_s{s}"]["test_accuracy_counts_only_per_epoch"]
                           for s in seeds])
        summary[variant] = {"seeds": seeds, "final_per_seed": accs,
                            "final_mean": float(np.mean(accs)),
                            "final_sd": float(np.std(accs, ddof=1)) if len(accs) > 1 else None,
                            "counts_only_mean_per_epoch": curves.mean(axis=0).tolist()}
        for other in ("control", "nosbp"):
            if other != variant and other in finals and len(accs) > 1:
                common = sorted(set(seeds) & set(finals[other]))
                summary[variant][f"vs_{other}"] = {"seeds": common, **welch_test(
                    [finals[variant][s] for s in common], [finals[other][s] for s in common])}
        if baseline is not None and variant in baseline["summary"]:
            base = dict(zip(baseline["summary"][variant]["seeds"],
                            baseline["summary"][variant]["final_per_seed"]))
            common = sorted(set(seeds) & set(base))
            if len(common) > 1:
                summary[variant]["vs_baseline"] = {
                    "baseline": str(args.baseline), "seeds": common,
                    "baseline_per_seed": [base[s] for s in common], **welch_test(
                        [finals[variant][s] for s in common], [base[s] for s in common])}
    if "nosbp" in finals:
        add_costs(summary, runs, finals, model)
    out = {"note": f"Fashion-MNIST, model {args.model}, all 60000 training and 10000 test "
                   f"images, {args.epochs} epochs, same seeds and budget for every variant; "
                   "final accuracy: the package's readout (ties by mean membrane potential); "
                   "per epoch: the count-only readout (ties wrong), which every log has. "
                   "Made by figures/training/summarise_fashion_full.py.",
           "model": args.model, "epochs": args.epochs,
           "commands": {v: f"sbp-brian train {args.model} --dataset fashion-mnist --epochs "
                           f"{args.epochs} {o} --seed S --out RUNS/{v}_sS"
                        for v, o in OPTIONS.items() if v in finals},
           "summary": summary, "runs": runs,
           "unfinished_runs_left_out": unfinished}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    plot(runs, finals, args.out.with_suffix(""), args.epochs, args.model)
    if unfinished:
        print("unfinished, left out:", ", ".join(unfinished))
    for variant, s in summary.items():
        tests = "; ".join(f"{k}: {v['difference']:+.3f}, t = {v['welch_t']:.2f}, p = {v['p']:.3f}"
                          for k, v in s.items() if k.startswith("vs_") and v["p"] is not None)
        cost = s.get("cost_vs_nosbp", {})
        if cost.get("mean_reduction") is not None:
            spread = ("" if cost["sd_reduction"] is None else f" +- {cost['sd_reduction']:.2f}")
            tests += (f"; cost reduction vs nosbp: {cost['mean_reduction']:+.2f}{spread} "
                      f"({cost['defined_for_seeds']} seeds)")
        elif cost:
            tests += "; cost vs nosbp undefined (the error curves' ranges do not overlap)"
        print(f"{variant:9s} {s['final_mean']:.4f} +- {s['final_sd'] or 0:.4f} "
              f"{s['final_per_seed']}  {tests}")


if __name__ == "__main__":
    main()
