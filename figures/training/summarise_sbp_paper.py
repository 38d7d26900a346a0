"""The SBP paper, its released algorithm and the faithful spiking model on one table and one
figure (docs/results.md, kind ``paper_table``).

    python figures/training/summarise_sbp_paper.py OUT.json \
        --source released mnist ARTIFACT BUDGET [--source spiking digits ARTIFACT BUDGET ...]

Each ``--source`` gives one data set's numbers of one model: ``released`` (the released
algorithm, ``sbp-brian compare sbp_released ...``: its "without SBP" and "SBP paper"
variants, the code's baseline and its SBP) or ``spiking`` (the faithful spiking model: its
"without SBP", SBP "paper", "weighted" and the control), from a ``comparison.json`` of
``sbp-brian compare``, the comparison's folder (then with every run's test accuracy per
epoch, for the paper's own measure) or a Fashion-MNIST summary (``summarise_fashion_full.py``).  The paper's
numbers, as printed, are the MNIST row of its Fig. 4 and table S2 (the spec of the released
code, section 8); the paper reports the minimum over epochs of the seed-averaged error curve,
this package the last epoch of every seed.  Writes OUT.json and the figure beside it
(OUT.png/.svg: test error without and with SBP per model and data set).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

DATASETS = ("mnist", "fashion-mnist", "digits")
#: The paper's MNIST numbers (5 seeds, 100 epochs): test error without -> with SBP, and the cost
PAPER = {"mnist": {"without": "6.25 +- 0.52 %", "with": "4.86 +- 0.12 %",
                   "cost": "-54 % (1.92 -> 0.88 x 10^7)", "budget": "100 epochs, 5 seeds"}}
#: The table's rows: label -> (model, the variant without SBP, the variant with it)
ROWS = {
    "released algorithm (ours)": ("released", "nosbp", "paper"),
    'faithful spiking model, SBP "paper"': ("spiking", "nosbp", "paper"),
    'faithful spiking model, SBP "weighted" (ours)': ("spiking", "nosbp", "weighted"),
    "faithful spiking model, control (input weights frozen)": ("spiking", None, "control"),
}
_KEYS = {"control (fixed hidden)": "control", "without SBP": "nosbp", "SBP paper": "paper",
         "SBP spread": "spread", "SBP weighted (ours)": "weighted"}


def _variants(artifact: Path) -> dict:
    """Per variant key: final accuracies (seed order), the cost against "without SBP" and,
    from a comparison folder (its runs' metrics), the test accuracy per epoch of every seed."""
    folder = artifact if artifact.is_dir() else None
    data = json.loads((artifact / "comparison.json" if folder else artifact).read_text())
    if "summary" in data:  # summarise_fashion_full.py
        return {key: {"accuracies": v["final_per_seed"], "cost": v.get("cost_vs_nosbp")}
                for key, v in data["summary"].items()}
    variants = {}
    for name, v in data.items():
        variants[_KEYS[name]] = {"accuracies": v["accuracies"],
                                 "cost": v.get("cost_vs_without_sbp")}
        if folder:
            runs = sorted((folder / v["folder"]).glob("seed*/metrics.jsonl"),
                          key=lambda path: int(path.parent.name[4:]))
            variants[_KEYS[name]]["curves"] = [
                [json.loads(line)["test_accuracy"] for line in path.read_text().splitlines()]
                for path in runs]
    return variants


def summarise(sources: list) -> dict:
    found = {}
    for model, dataset, artifact, budget in sources:
        if dataset not in DATASETS or model not in ("released", "spiking"):
            raise SystemExit(f"--source {model} {dataset}: the models are released and spiking, "
                             f"the data sets {', '.join(DATASETS)}")
        found[model, dataset] = (_variants(Path(artifact)), artifact, budget)
    rows = [{"row": "the paper (as printed)", "cells": PAPER, "missing": "not in the paper"}]
    for label, (model, without, with_) in ROWS.items():
        cells = {}
        for dataset in DATASETS:
            if (model, dataset) not in found:
                continue
            variants, artifact, budget = found[model, dataset]
            cell = {"with": variants[with_]["accuracies"], "budget": budget, "artifact": artifact}
            if "curves" in variants[with_]:
                cell["with_curves"] = variants[with_]["curves"]
            if without is not None:
                cell["without"] = variants[without]["accuracies"]
                if "curves" in variants[without]:
                    cell["without_curves"] = variants[without]["curves"]
                cost = variants[with_]["cost"] or {}
                cell["cost"] = {k: cost.get(k) for k in ("mean_reduction", "sd_reduction",
                                                          "defined_for_seeds")}
            cells[dataset] = cell
        rows.append({"row": label, "cells": cells, "missing": "not measured yet"})
    return {"datasets": list(DATASETS), "rows": rows,
            "note": "test error = 1 - test accuracy; this package: the last epoch of every seed "
                    "and, where the artifact has every epoch, the paper's measure beside it; the "
                    "paper's measure: the minimum over epochs of the seed-averaged error curve"}


def plot(summary: dict, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    fig, axes = plt.subplots(1, len(DATASETS), figsize=(12, 3.8), sharey=False)
    for ax, dataset in zip(axes, DATASETS):
        labels, without, with_ = [], [], []
        for row in summary["rows"][1:]:
            cell = row["cells"].get(dataset)
            if cell is None:
                continue
            labels.append(row["row"].replace("faithful spiking model, ", "spiking, ")
                          .replace(" (input weights frozen)", ""))
            without.append(100 * (1 - np.asarray(cell["without"])) if "without" in cell else None)
            with_.append(100 * (1 - np.asarray(cell["with"])))
        x = np.arange(len(labels))
        for offset, values, name, color in ((-0.2, without, "without SBP", "0.6"),
                                            (0.2, with_, "the row's variant", "C0")):
            shown = [i for i, v in enumerate(values) if v is not None]
            for i in shown:
                v = values[i]
                ax.bar(x[i] + offset, v.mean(), 0.4, yerr=v.std(ddof=1) if len(v) > 1 else 0,
                       color=color, label=name if i == shown[0] else None)
                ax.plot(np.full(len(v), x[i] + offset), v, "k.", ms=3)
        if dataset == "mnist":
            ax.axhline(6.25, color="0.4", ls="--", lw=1, label="paper: without SBP 6.25 %")
            ax.axhline(4.86, color="C0", ls="--", lw=1, label="paper: with SBP 4.86 %")
        ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=7)
        ax.set_title(dataset)
        ax.set_ylabel("test error (%)")
        ax.legend(fontsize=6)
    fig.tight_layout()
    for suffix in (".png", ".svg"):
        fig.savefig(out.with_suffix(suffix), dpi=150)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--source", nargs=4, action="append", required=True,
                        metavar=("MODEL", "DATASET", "ARTIFACT", "BUDGET"))
    args = parser.parse_args()
    summary = summarise(args.source)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    plot(summary, args.out)


if __name__ == "__main__":
    main()
