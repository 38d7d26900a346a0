"""Summarise runs of the layered network (BP-STDP, GLSNN, BRP) into a task table of docs/results.md
(kind ``task_summary``).

    python figures/training/summarise_bpstdp.py OUT.json --row TASK PAPER FOLDER [FOLDER ...]
        [--row ...] [--commands TEXT]

Each ``--row`` is one task: its name, the paper's number (as printed), and the run folders
that measure it: ordinary run folders (``sbp-brian train``; the final epoch's test accuracy of
``metrics.jsonl``, one per seed; ``FOLDER@E``: the accuracy after epoch ``E`` instead, the
row's budget then being ``E`` epochs) or a cross-validation folder (``sbp-brian train --folds
K``; the final accuracy of every fold, from ``folds.json``).  The model, network sizes and budget
are read from the runs' ``run.json`` and ``config.json``; rows whose runs disagree on them are
refused.  ``ARTIFACT#TASK#RUN`` carries over one run of an earlier summary whose folder is
gone (run folders are not kept in the repository): the accuracy of run ``RUN`` (e.g. ``seed
0``) in row ``TASK`` of the JSON file ``ARTIFACT``, whose model, data, network and budget must
be the row's; the row records it under ``carried``.  ``ARTIFACT@COMMIT#TASK#RUN`` reads
``ARTIFACT`` as it was at git commit ``COMMIT`` (for rows since moved to another table; run
from the repository's root).  A row of carried runs only takes its model, data, network and
budget from the first one's row.
"""
from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path


def _run_summary(folder: str) -> tuple[list[float], dict, list[str]]:
    """Final accuracies, the configuration and what each accuracy is, of one folder."""
    folder, _, at_epoch = folder.partition("@")
    folder = Path(folder)
    folds = folder / "folds.json"
    if folds.exists():
        summary = json.loads(folds.read_text())
        config = json.loads((folder / "fold1" / "config.json").read_text())
        options = json.loads((folder / "fold1" / "run.json").read_text())
        return summary["accuracies"], {**config, "options": options}, [
            f"fold {k + 1}" for k in range(summary["folds"])]
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    config = json.loads((folder / "config.json").read_text())
    options = json.loads((folder / "run.json").read_text())
    if at_epoch:
        records = [r for r in records if r["epoch"] <= int(at_epoch)]
        if records[-1]["epoch"] != int(at_epoch):
            raise SystemExit(f"{folder}: no epoch {at_epoch} in its metrics")
        config["config"]["epochs"] = int(at_epoch)
    seed = options.get("seed")  # None: the model file's, which the configuration holds
    return [records[-1]["test_accuracy"]], {**config, "options": options}, [
        f"seed {config['config'].get('seed') if seed is None else seed}"]


def _learning_rate(config: dict) -> str:
    """The rule's learning rate as the table shows it (BP-STDP's mu, GLSNN's eta_w, BRP's
    two rates and optimiser), and its decay over epochs where ``[training] lr_decay`` sets
    one."""
    rule = config["rule"]
    if rule["rule"] == "brp":
        rate = (f"eta = {rule['eta']}, eta_hidden = {rule['eta_hidden']} "
                f"({rule['optimizer']}, batch {rule['batch_size']})")
    else:
        rate = next(f"{key} = {rule[key]}" for key in ("mu", "eta_w") if key in rule)
    decay = config.get("lr_decay") or 0
    factor = "" if decay == 1 else f"{decay:g} "
    return rate + (f", divided by 1 + {factor}e in epoch e (from 0)" if decay else "")


def summarise(rows: list[list[str]], renamed: dict | None = None) -> list[dict]:
    """The rows' records; ``renamed`` maps a model path given to the runs to the name the
    table shows (e.g. a copy of a model file kept in the repository)."""
    renamed = renamed or {}
    out = []
    for task, paper, *folders in rows:
        accuracies, labels, configs, carried = [], [], [], []
        for folder in folders:
            if "#" in folder:
                carried.append((len(accuracies), folder))
                continue
            values, config, names = _run_summary(folder)
            accuracies += values
            labels += names
            configs.append(config)
        if not configs:  # every run carried: the row is the earlier one's
            out.append(_carried_row(task, paper, [reference for _, reference in carried]))
            continue
        shapes = {json.dumps(c["config"]["sizes"]) for c in configs}
        models = {c["options"].get("model") for c in configs}
        epochs = {c["config"]["epochs"] for c in configs}
        if len(shapes) > 1 or len(models) > 1 or len(epochs) > 1:
            raise SystemExit(f"{task}: the runs differ in model, sizes or epochs")
        config = configs[0]["config"]
        sizes = config["sizes"]
        bias = " (+ bias neuron)" if config.get("bias_input") else ""
        model = models.pop()
        kinds = {label.split()[0] for label in labels}
        over = (("seed " if kinds == {"seed"} else "fold ") if len(labels) == 1 else
                ("seeds " if kinds == {"seed"} else "folds "))
        out.append({
            "task": task, "model": renamed.get(model, model), "dataset": configs[0]["dataset"],
            "network": "-".join(str(n - (config.get("bias_input") and i == 0))
                                for i, n in enumerate(sizes)) + bias,
            "budget": f"{config['epochs']} epoch{'s' if config['epochs'] != 1 else ''}, T = "
                      f"{config['sample_duration'].replace('. ', ' ')}, {_learning_rate(config)}",
            "over": over + ", ".join(label.split()[1] for label in labels),
            "accuracies": accuracies, "runs": labels, "paper": paper,
            "folders": list(folders)})
        for at, reference in reversed(carried):
            _carry(out[-1], at, reference)
    return out


def _carried_row(task: str, paper: str, references: list[str]) -> dict:
    """A row of runs all carried from earlier summaries: the model, data, network and budget
    of the first one's row, checked against the others' by :func:`_carry`."""
    artifact, earlier_task, _ = references[0].split("#")
    earlier = _earlier_row(artifact, earlier_task, references[0])
    row = {"task": task, **{key: earlier[key] for key in ("model", "dataset", "network",
                                                           "budget")},
           "over": "", "accuracies": [], "runs": [], "paper": paper, "folders": []}
    for reference in references:
        _carry(row, len(row["runs"]), reference)
    return row


def _earlier_row(artifact: str, task: str, reference: str) -> dict:
    earlier = next((r for r in _read_artifact(artifact)["rows"] if r["task"] == task), None)
    if earlier is None:
        raise SystemExit(f"{reference}: no row {task!r} in {artifact}")
    return earlier


def _read_artifact(artifact: str) -> dict:
    """An earlier summary: the file ``ARTIFACT``, or ``ARTIFACT@COMMIT`` as git kept it then."""
    path, _, commit = artifact.partition("@")
    if not commit:
        return json.loads(Path(path).read_text())
    shown = subprocess.run(["git", "show", f"{commit}:{path}"], capture_output=True, text=True)
    if shown.returncode:
        raise SystemExit(f"{artifact}: {shown.stderr.strip()}")
    return json.loads(shown.stdout)


def _source(artifact: str) -> str:
    """How a carried run's record names its artifact."""
    path, _, commit = artifact.partition("@")
    return f"{path} (commit {commit})" if commit else path


def _carry(row: dict, at: int, reference: str) -> None:
    """Insert the run ``ARTIFACT#TASK#RUN`` of an earlier summary into ``row`` at position
    ``at``, after checking that it measured the same model, data, network and budget."""
    artifact, task, run = reference.split("#")
    earlier = _earlier_row(artifact, task, reference)
    if run not in earlier["runs"]:
        raise SystemExit(f"{reference}: no row {task!r} with run {run!r} in {artifact}")
    differ = [key for key in ("model", "dataset", "network", "budget")
              if earlier[key] != row[key]]
    if differ:
        raise SystemExit(f"{reference}: not the {', '.join(differ)} of row {row['task']!r}")
    index = earlier["runs"].index(run)
    row["accuracies"].insert(at, earlier["accuracies"][index])
    row["runs"].insert(at, run)
    kind = row["runs"][0].split()[0] + ("s" if len(row["runs"]) > 1 else "")
    row["over"] = f"{kind} {', '.join(label.split()[1] for label in row['runs'])}"
    folders = earlier.get("folders") or []  # the run's folder where the row names one per run
    row.setdefault("carried", []).append({"run": run, "from": _source(artifact), "task": task, **(
        {"folder": folders[index]} if len(folders) == len(earlier["runs"]) else {})})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--row", nargs="+", action="append", required=True,
                        metavar="TASK PAPER FOLDER", help="a task, the paper's number, folders")
    parser.add_argument("--commands", default="", help="how the runs were made")
    parser.add_argument("--what", default="", help="what the table is")
    parser.add_argument("--rename", action="append", default=[], metavar="PATH=NAME",
                        help="show the model file PATH the runs were given as NAME")
    args = parser.parse_args()
    if any(len(row) < 3 for row in args.row):
        parser.error("--row needs TASK PAPER and at least one FOLDER")
    renamed = dict(item.split("=", 1) for item in args.rename)
    data = {"what": args.what, "commands": args.commands,
            "rows": summarise(args.row, renamed)}
    Path(args.out).write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
