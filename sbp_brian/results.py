"""The measured results as tables, generated from the artifacts they come from.

Every result in ``docs/results.md`` and ``docs/speed.md`` is an entry of the registry
``docs/results.toml``: the artifact it comes from (a JSON file under ``figures/`` or
``bench/``), how it was made (command, data, budget, seeds, the split it is scored on, the
date) and, where there is one, its figure.  :func:`render_result` turns an entry into
Markdown: a short provenance table, the numbers read from the artifact, the figure.  The
pages hold these tables between markers that ``sbp-brian docs`` rewrites
(:mod:`sbp_brian.docs`), and a test fails when a page and its artifacts differ, so a number
cannot drift from its data or stand without it.

Artifacts come in the formats of the commands that wrote them; each format has one renderer
here (the registry's ``kind``).  Statistics (a mean over seeds, the tests of a variant against
the control, paired by seed and Holm-adjusted over a column) are computed from the artifact's
per-seed numbers with the functions ``compare`` uses (:func:`sbp_brian.runs.paired_tests`,
:func:`sbp_brian.runs.holm`), whatever the artifact itself stored.
"""
from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["REGISTRY", "ResultEntry", "ResultsError", "load_registry", "render_result",
           "render_headline", "RENDERERS"]

#: The registry of measured results, relative to the repository root.
REGISTRY = Path("docs") / "results.toml"

#: Fields every registry entry has (``figure`` and ``notes`` are optional).
REQUIRED_FIELDS = ("page", "title", "artifact", "kind", "command", "data", "budget", "seeds",
                   "split", "date")
OPTIONAL_FIELDS = ("figure", "options")
PAGES = ("results", "speed")


class ResultsError(ValueError):
    """The registry or an artifact is missing, malformed or names something unknown."""


# The variants' names differ between artifact formats (``sbp-brian compare``'s labels and
# folders, the Fashion-MNIST summariser's short keys); one display label each.
VARIANT_LABELS = {
    "control": "control (input weights frozen)",
    "nosbp": "without SBP (local STDP)",
    "paper": 'SBP "paper"',
    "spread": 'SBP "spread"',
    "weighted": 'SBP "weighted" (ours)',
}
_VARIANT_ALIASES = {
    "control (fixed hidden)": "control", "control__fixed_hidden": "control",
    "without SBP": "nosbp", "without_sbp": "nosbp", "without-sbp": "nosbp",
    "SBP paper": "paper", "sbp_paper": "paper",
    "SBP spread": "spread", "sbp_spread": "spread",
    "SBP weighted (ours)": "weighted", "sbp_weighted__ours": "weighted",
}


def variant_key(name: str) -> str:
    """The short key (``control``, ``nosbp``, ``paper``, ``spread``, ``weighted``) of a variant
    named in any artifact's convention."""
    key = _VARIANT_ALIASES.get(name, name)
    if key not in VARIANT_LABELS:
        raise ResultsError(f"unknown variant {name!r}")
    return key


@dataclass(frozen=True)
class ResultEntry:
    """One registry entry (see the module docstring)."""

    id: str
    page: str
    title: str
    artifact: str
    kind: str
    command: str
    data: str
    budget: str
    seeds: str
    split: str
    date: str
    figure: str | None = None
    options: dict | None = None


def load_registry(root: Path) -> dict[str, ResultEntry]:
    """The registry's entries by id, checked: known fields and kinds, existing files."""
    path = Path(root) / REGISTRY
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ResultsError(f"no results registry at {path}") from None
    except tomllib.TOMLDecodeError as err:
        raise ResultsError(f"{path}: not valid TOML: {err}") from None
    entries = {}
    for name, fields in data.items():
        if not isinstance(fields, dict):
            raise ResultsError(f"{path}: [{name}] must be a table")
        missing = [f for f in REQUIRED_FIELDS if f not in fields]
        unknown = sorted(set(fields) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
        if missing or unknown:
            raise ResultsError(f"{path}: [{name}] " + "; ".join(
                part for part in (missing and f"missing {', '.join(missing)}",
                                  unknown and f"unknown field(s) {', '.join(unknown)}") if part))
        if fields["kind"] not in RENDERERS:
            raise ResultsError(f"{path}: [{name}] unknown kind {fields['kind']!r}; expected one "
                               f"of {', '.join(RENDERERS)}")
        if fields["page"] not in PAGES:
            raise ResultsError(f"{path}: [{name}] page must be one of {', '.join(PAGES)}")
        named = {key: fields[key] for key in ("artifact", "figure") if key in fields}
        named.update({f"options.{key}": fields.get("options", {})[key]
                      for key in ("baseline", "baselines") if key in fields.get("options", {})})
        for key, relative in named.items():
            if not (Path(root) / relative).is_file():
                raise ResultsError(f"{path}: [{name}] {key} {relative} does not exist")
        entries[name] = ResultEntry(id=name, **fields)
    return entries


# --------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------

def table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table; columns of :class:`Paired` cells become tests (see there)."""
    columns = [_paired_column([row[i] for row in rows]) for i in range(len(header))]
    rows = [[column[r] for column in columns] for r in range(len(rows))]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |"
              for row in rows]
    return "\n".join(lines)


def percent(fraction: float | None, digits: int = 1) -> str:
    return "--" if fraction is None else f"{100 * fraction:.{digits}f} %"


def mean_sd(fractions, digits: int = 1) -> str:
    """``mean +- SD %`` over seeds (SD with n - 1); ``(1 seed)`` where there is no spread."""
    values = np.asarray(fractions, float)
    if len(values) < 2:
        return f"{100 * values.mean():.{digits}f} % (1 seed)"
    return f"{100 * values.mean():.{digits}f} +- {100 * values.std(ddof=1):.{digits}f} %"


def per_seed(fractions, digits: int = 1) -> str:
    return " / ".join(f"{100 * value:.{digits}f}" for value in fractions)


def series(values, digits: int = 1, scale: float = 1.0) -> str:
    return " / ".join(f"{scale * value:.{digits}f}" for value in values)


def p_value(p: float | None) -> str:
    if p is None:
        return "p undefined"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}" if p < 0.1 else f"p = {p:.2f}"


@dataclass(frozen=True)
class Paired:
    """A table cell comparing accuracies ``a`` with ``b`` paired by seed (sequences in seed
    order, or ``{seed: accuracy}`` dicts, matched on the seeds both have).  :func:`table`
    tests every such cell of a column (:func:`sbp_brian.runs.paired_tests`) and adjusts the
    column's paired-t p-values together for multiple comparisons (Holm)."""

    a: Any
    b: Any

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(self.a, dict) and isinstance(self.b, dict):
            seeds = [seed for seed in self.a if seed in self.b]
            return (np.array([self.a[s] for s in seeds], float),
                    np.array([self.b[s] for s in seeds], float))
        return np.asarray(self.a, float), np.asarray(self.b, float)


#: Header of a column of :class:`Paired` cells.
PAIRED_HEADER = "points (paired t-test p; Wilcoxon p; Holm p)"


def _paired_column(cells: list) -> list:
    """Format a column's :class:`Paired` cells, Holm-adjusting their paired-t p-values."""
    from .runs import holm, paired_tests
    tests = {}
    for i, cell in enumerate(cells):
        if isinstance(cell, Paired):
            a, b = cell.pairs()
            tests[i] = paired_tests(a, b) if len(a) == len(b) >= 2 else None
    adjusted = holm([t["paired_p"] if t else None for t in tests.values()])
    out = list(cells)
    for (i, test), holm_p in zip(tests.items(), adjusted):
        if test is None:
            out[i] = "--"
            continue
        out[i] = (f"{100 * test['difference']:+.1f} ({p_value(test['paired_p'])}; Wilcoxon "
                  f"{p_value(test['wilcoxon_p'])}; Holm {p_value(holm_p)})")
    return out


def cost_reduction(cost: dict | None) -> str:
    """The SBP paper's cost (Eq. 1) as a reduction against "without SBP", mean +- SD."""
    if not cost:
        return "--"
    if cost.get("mean_reduction") is None:
        return "undefined (error ranges do not overlap)"
    n = cost.get("defined_for_seeds")
    sd = cost.get("sd_reduction")
    spread = "" if sd is None or n == 1 else f" +- {100 * sd:.0f}"
    seeds = "" if n in (None, 3) else f" ({n} seeds)"
    return f"{100 * cost['mean_reduction']:.0f}{spread} %{seeds}"


def link(path: str, page_dir: str) -> str:
    """A Markdown link to ``path`` (relative to the repository root) from ``page_dir``."""
    target = Path("..") / path if page_dir == "docs" else Path(path)
    return f"[{Path(path).name}]({target.as_posix()})"


# --------------------------------------------------------------------------------------
# Renderers, one per artifact format
# --------------------------------------------------------------------------------------

def _accuracies_per_variant(data: dict) -> dict:
    """Final accuracies per variant (seed order) of a comparison.json or of the Fashion-MNIST
    summariser's output."""
    if "summary" in data:
        return {variant_key(k): list(_by_seed(v).values()) for k, v in data["summary"].items()
                if k in VARIANT_LABELS or k in _VARIANT_ALIASES}
    return {variant_key(name): r["accuracies"] for name, r in data.items()}


def _comparison(data: dict, options: dict) -> str:
    """``sbp-brian compare``'s comparison.json: per variant, final accuracies per seed."""
    results = {variant_key(name): r for name, r in data.items()}
    control = results.get("control", {}).get("accuracies", [])
    baseline = results.get("nosbp", {}).get("accuracies", [])
    other = _accuracies_per_variant(options.get("baseline_data", {}))
    # every variant against one or more variants of the baseline ("baseline_variants" with
    # their "baseline_labels"), or against the same variant of the baseline
    variants = options.get("baseline_variants") or (
        [options["baseline_variant"]] if "baseline_variant" in options else None)
    labels = options.get("baseline_labels") or (
        [options["baseline_label"]] if "baseline_label" in options else [])
    if variants is not None:
        others = [{key: other[variant_key(variant)] for key in results} for variant in variants]
    else:
        others = [other] if other else []
    rows = []
    for key, r in results.items():
        accuracies = r["accuracies"]
        label = options.get("labels", {}).get(key, VARIANT_LABELS[key])  # e.g. another model's
        rows.append([label + options.get("label_suffix", ""), mean_sd(accuracies),
                     per_seed(accuracies), *[Paired(accuracies, o[key]) for o in others],
                     "--" if key == "control" else Paired(accuracies, control),
                     "--" if key == "nosbp" else Paired(accuracies, baseline),
                     "--" if key == "nosbp" else cost_reduction(r.get("cost_vs_without_sbp"))])
    return table(["variant", "test accuracy (mean +- SD)", "per seed",
                  *[f"vs {label}: {PAIRED_HEADER}" for label in labels[:len(others)]],
                  f"vs control: {PAIRED_HEADER}", f'vs "without SBP": {PAIRED_HEADER}',
                  'cost reduction vs "without SBP" (Eq. 1)'], rows)


def _seed_lists(data: dict, options: dict) -> str:
    """``{"test_accuracy_percent": {variant: [percent per seed]}}``."""
    results = {variant_key(name): np.asarray(v) / 100
               for name, v in data["test_accuracy_percent"].items()}
    control = results.get("control", [])
    rows = [[VARIANT_LABELS[key], mean_sd(acc), per_seed(acc),
             "--" if key == "control" else Paired(acc, control)]
            for key, acc in results.items()]
    return table(["variant", "test accuracy (mean +- SD)", "per seed",
                  f"vs control: {PAIRED_HEADER}"], rows)


def _rescore(data: dict, options: dict) -> str:
    """Final checkpoints re-scored by ``sbp-brian evaluate`` with both readouts."""
    rows = []
    for name, r in data["variants"].items():
        tie = np.asarray(r["accuracy_percent"]) / 100
        counts = np.asarray(r["accuracy_counts_only_percent"]) / 100
        rows.append([VARIANT_LABELS[variant_key(name)], mean_sd(counts), per_seed(counts),
                     mean_sd(tie), per_seed(tie)])
    return table(["variant", "count-only readout (ties wrong)", "per seed",
                  "ties by membrane potential", "per seed"], rows)


def _probe(data: dict, options: dict) -> str:
    """``sbp-brian probe`` of every run of a comparison."""
    rows, pixels = [], []
    probes = {variant_key(name): [run["probe_hidden_counts"] for run in r["per_seed"]]
              for name, r in data["variants"].items()}
    for name, r in data["variants"].items():
        def pm(key, scale=100.0, unit=" %"):
            mean, sd = r[key]
            return f"{scale * mean:.1f} +- {scale * sd:.1f}{unit}"
        key = variant_key(name)
        rows.append([VARIANT_LABELS[key], pm("probe_hidden_counts_mean_sd"),
                     "--" if key == "control" else Paired(probes[key], probes["control"]),
                     pm("spiking_readout_mean_sd"), pm("spiking_readout_counts_only_mean_sd"),
                     pm("readout_undecided_by_counts_mean_sd"),
                     pm("hidden_spikes_per_neuron_per_sample_mean_sd", 1.0, "")])
        pixels += [run["probe_pixels"] for run in r["per_seed"]]
    out = table(["variant", "linear probe of the hidden counts",
                 f"probe vs the control's: {PAIRED_HEADER}", "spiking readout, same "
                 "presentations", "count-only readout", "undecided by counts (tie or silent)",
                 "hidden spikes/neuron/sample"], rows)
    return out + f"\n\nThe same regression on the pixels: {percent(np.mean(pixels))}."


def _validation_grid(data: dict, options: dict) -> str:
    """A parameter grid scored on a validation split: per setting, per-epoch numbers."""
    rows = []
    for label, r in data["runs"].items():
        accuracy = r["validation_accuracy_per_epoch"]
        rows.append([label, r["epochs_done"], percent(accuracy[-1]), series(accuracy, 1, 100),
                     percent(r["train_accuracy_per_epoch"][-1]),
                     f"{r['hidden_spikes_per_neuron_per_sample'][-1]:.1f}"])
    return table(["setting", "epochs trained", "final validation accuracy",
                  "validation accuracy per epoch (%)", "training accuracy, last epoch",
                  "hidden spikes/neuron/sample, last epoch"], rows)


def _runs_of(data: dict, key: str) -> list[dict]:
    return [r for name, r in data["runs"].items() if name.rsplit("_s", 1)[0] == key]


def _by_seed(summary: dict) -> dict:
    """A summariser variant's final accuracies by seed (its ``seeds`` list; in order where a
    summary has none)."""
    seeds = summary.get("seeds", range(len(summary["final_per_seed"])))
    return dict(zip(seeds, summary["final_per_seed"]))


def _variants_summary(data: dict, options: dict) -> str:
    """The Fashion-MNIST summariser's output (``figures/training/summarise_fashion_full.py``):
    final accuracies per variant with paired tests, then the per-epoch course."""
    summary = {variant_key(k): v for k, v in data["summary"].items()
               if k in VARIANT_LABELS or k in _VARIANT_ALIASES}
    finals = {key: _by_seed(s) for key, s in summary.items()}
    baseline = options.get("baseline_label")
    other = {variant_key(k): _by_seed(v)
             for k, v in options.get("baseline_data", {}).get("summary", {}).items()
             if k in VARIANT_LABELS or k in _VARIANT_ALIASES}
    header = ["variant", "final test accuracy (mean +- SD)", "per seed"]
    header += [f"vs {baseline}: {PAIRED_HEADER}"] if baseline else []
    others = [key for key in ("control", "nosbp") if key in other and key not in finals]
    header += [f"vs the baseline's {VARIANT_LABELS[key]}: {PAIRED_HEADER}" for key in others]
    header += [f"vs control: {PAIRED_HEADER}"] if "control" in finals and len(finals) > 1 else []
    header += [f'vs "without SBP": {PAIRED_HEADER}'] if "nosbp" in finals else []
    has_cost = any(s.get("cost_vs_nosbp") for s in summary.values())
    header += ['cost reduction vs "without SBP" (Eq. 1)'] if has_cost else []
    rows = []
    for key, s in summary.items():
        row = [VARIANT_LABELS[key], mean_sd(s["final_per_seed"]), per_seed(s["final_per_seed"])]
        if baseline:
            row.append(Paired(finals[key], other.get(key) or dict(zip(
                s["vs_baseline"]["seeds"], s["vs_baseline"]["baseline_per_seed"]))))
        row += [Paired(finals[key], other[other_key]) for other_key in others]
        if "control" in finals and len(finals) > 1:
            row.append("--" if key == "control" else Paired(finals[key], finals["control"]))
        if "nosbp" in finals:
            row.append("--" if key == "nosbp" else Paired(finals[key], finals["nosbp"]))
        if has_cost:
            row.append("--" if key == "nosbp" else cost_reduction(s.get("cost_vs_nosbp")))
        rows.append(row)
    course = []
    for key, s in summary.items():
        runs = _runs_of(data, key)
        hidden = np.mean([r["hidden_spikes_per_neuron_per_sample"] for r in runs], axis=0)
        train = ("--" if any("train_accuracy_per_epoch" not in r for r in runs) else
                 series(np.mean([r["train_accuracy_per_epoch"] for r in runs], axis=0), 1, 100))
        course.append([VARIANT_LABELS[key], series(s["counts_only_mean_per_epoch"], 1, 100),
                       train, series(hidden, 2)])
    return (table(header, rows) + "\n\nPer epoch, mean over seeds:\n\n" +
            table(["variant", "test accuracy, count-only readout (%)", "training accuracy (%)",
                   "hidden spikes/neuron/sample"], course))


def _probe_runs(data: dict, options: dict) -> str:
    """One seed per variant with per-epoch logs, a final re-evaluation and a linear probe."""
    rows = []
    for name, r in data["runs"].items():
        probe, final = r["linear_probe"], r["final_evaluation"]
        rows.append([VARIANT_LABELS[variant_key(name)],
                     series([e["test_accuracy"] for e in r["epochs"]], 1, 100),
                     series([e["hidden_spikes_per_neuron_per_sample"] for e in r["epochs"]], 1),
                     percent(final["accuracy"]), percent(probe["probe_hidden_counts"]),
                     percent(probe["spiking_readout"]), percent(probe["readout_undecided"]),
                     percent(probe["probe_pixels"])])
    out = table(["variant", "test accuracy per epoch, count-only (%)",
                 "hidden spikes/neuron/sample per epoch", "final, ties by membrane potential",
                 "linear probe of the hidden counts", "spiking readout (probe's presentations, "
                 "count-only)", "undecided", "probe of the pixels"], rows)
    check = data.get("control_output_learning_rate_on_validation")
    if check:
        out += "\n\nThe control's output learning rate on a validation split:\n\n" + table(
            ["output A+", "validation accuracy"],
            [[rate, percent(r["validation_accuracy"])] for rate, r in check.items()])
    return out


def _run_epochs(data: dict, options: dict) -> str:
    """One run's metrics log (``metrics.jsonl`` records) per epoch."""
    rows = []
    for record in data["epochs"]:
        tie_break = "test_accuracy_counts_only" in record  # logs before it were count-only
        rows.append([record["epoch"], percent(record["train_accuracy"]),
                     percent(record["test_accuracy"]) if tie_break else "--",
                     percent(record["test_accuracy_counts_only"] if tie_break
                             else record["test_accuracy"]),
                     f"{record['hidden_spikes_per_neuron_per_sample']:.2f}",
                     f"{record['samples_per_second']:.1f}"])
    return table(["epoch", "training accuracy (online)", "test accuracy",
                  "test accuracy, count-only readout", "hidden spikes/neuron/sample",
                  "training samples/s"], rows)


def _batch_sizes(data: dict, options: dict) -> str:
    """``{"test_accuracy_percent": {batch size: {seed: percent}}}`` and count-only numbers."""
    accuracy = {b: {seed: v / 100 for seed, v in s.items()}
                for b, s in data["test_accuracy_percent"].items()}
    counts = {b: np.asarray(list(s.values())) / 100
              for b, s in data["test_accuracy_counts_only_percent"].items()}
    first = next(iter(accuracy))
    rows = [[b, mean_sd(list(acc.values())), per_seed(acc.values()), mean_sd(counts[b]),
             "--" if b == first else Paired(acc, accuracy[first])]
            for b, acc in accuracy.items()]
    return table(["batch size", "test accuracy (mean +- SD)", "per seed",
                  "count-only readout", f"vs batch size {first}: {PAIRED_HEADER}"], rows)


def _copies(data: dict, options: dict) -> str:
    """Network copies against the same rule in one network, per seed."""
    copies = {seed: v / 100 for seed, v in data["test_accuracy_percent"].items()}
    single = {seed: v / 100 for seed, v in data["same_rule_one_network_percent"].items()}
    counts = np.asarray(list(data["test_accuracy_counts_only_percent"].values())) / 100
    hidden = list(data["hidden_spikes_per_neuron_per_sample"].values())
    return table(["simulated as", "test accuracy (mean +- SD)", "per seed", "count-only readout",
                  "hidden spikes/neuron/sample", f"vs one network: {PAIRED_HEADER}"],
                 [[options.get("label", "network copies"), mean_sd(list(copies.values())),
                   per_seed(copies.values()), mean_sd(counts), series(hidden, 2),
                   Paired(copies, single)],
                  ["one network", mean_sd(list(single.values())), per_seed(single.values()),
                   "--", "--", "--"]])


def _bench(data: dict, options: dict) -> str:
    """``sbp-brian bench``'s JSON: samples/s per way, against hidden size, the profile."""
    parts = []
    if "ways" in options.get("show", ["ways", "scaling", "skipped"]) and data["runs"]:
        rows = []
        for r in data["runs"]:
            ratio = r.get("speedup_of_compiled")
            binary = r.get("peak_rss_binary_mb")
            memory = (f"{binary:.0f} MB binary + " if binary else "") + \
                f"{r['peak_rss_python_mb']:.0f} MB Python"
            copies = r.get("network_copies", 1)
            duration = f"{r['sample_duration_ms']:g} ms" + (  # another rule: its own dt
                f" (dt {r['dt_ms']:g} ms)" if r.get("rule", "sbp (paper)") != "sbp (paper)"
                else "")
            rows.append([f"`{r['way']}`" + (f" ({copies} copies)" if copies > 1 else ""),
                         r["target"], duration,
                         f"{r['samples_per_second_median']:.1f}",
                         f"{ratio:.1f}x" if ratio else "1x" if r["way"] == "compiled" else "--",
                         memory, f"{r['compile_or_first_sample_seconds']:.0f} s"])
        parts.append(table(["way", "target", "T", "samples/s (median)", "compiled is faster by",
                            "peak memory", "compile (or first sample)"], rows))
    scaling = data.get("hidden_size_scaling") or []
    if "scaling" in options.get("show", ["ways", "scaling", "skipped"]) and scaling:
        parts.append(table(
            ["hidden neurons", "samples/s (median)", "hidden spikes/neuron/sample",
             "synaptic events/sample", "ns per synaptic event"],
            [[r["n_hidden"], f"{r['samples_per_second_median']:.1f}",
              f"{r['hidden_spikes_per_neuron_per_sample']:.2f}",
              f"{r['synaptic_events_per_sample'] / 1e6:.2f} M",
              f"{r['ns_per_synaptic_event']:.1f}"] for r in scaling]))
    if "profile" in options.get("show", []):
        for r in data["runs"]:
            profile = r.get("profile (code object, seconds, % of all)") or []
            shown = [row for row in profile if row[2] >= options.get("profile_min_percent", 1.0)]
            parts.append(f"Profile of `{r['way']}` at T = {r['sample_duration_ms']:g} ms "
                         f"({r['samples_per_second_median']:.1f} samples/s with the timers on; "
                         "code objects taking at least "
                         f"{options.get('profile_min_percent', 1.0):g} % of the time):\n\n" +
                         table(["code object", "seconds", "share"],
                               [[f"`{name}`", f"{seconds:.2f}", f"{share:.1f} %"]
                                for name, seconds, share in shown]))
    inputs = sorted({r["inputs"] for r in [*data["runs"], *scaling] if "inputs" in r})
    if inputs:
        parts.append("Input images: " + ", ".join(inputs) + ".")
    skipped = data.get("skipped") or {}
    if "skipped" in options.get("show", ["ways", "scaling", "skipped"]) and skipped:
        parts.append("Skipped: " + "; ".join(f"`{way}` ({why})" for way, why in skipped.items()))
    return "\n\n".join(parts)


def _garbage_collector(data: dict, options: dict) -> str:
    """``bench/naive_gc.py``: the naive loop with its Cython cache warm or cold, with Python's
    garbage collector running or frozen after the first sample."""
    rows = []
    for cache in ("warm", "cold"):
        for r in data.get(cache, []):
            rows.append([cache, "frozen" if r["gc_frozen"] else "running",
                         series(r["samples_per_second"], 1),
                         f"{r['first_sample_seconds']:.0f} s",
                         f"{r['tracked_objects_at_end'] / 1000:.0f}k"])
    inputs = sorted({r.get("inputs", "not recorded") for cache in ("warm", "cold")
                     for r in data.get(cache, [])})
    return (table(["Cython cache", "garbage collector", "samples/s per timed chunk",
                   "first sample (compile)", "objects tracked at the end"], rows) +
            "\n\nInput images: " + ", ".join(inputs) + ".")


def _random_layer(data: dict) -> list[float]:
    return [r["accuracy"] for r in data["random_hidden_layer"].values()]


def _baselines(data: dict, options: dict) -> str:
    """``sbp-brian baselines``: logistic regression on the pixels and on the spike counts of
    the untrained random hidden layer, on one split."""
    layer = data["random_hidden_layer"]
    return table(
        ["split", "logistic regression on the pixels",
         "on the untrained random hidden layer's spike counts", "per seed",
         "hidden spikes/neuron/sample"],
        [[f"{data['dataset']}: {data['train_samples']} training / {data['test_samples']} "
          f"{data['evaluated_on']} images", percent(data["pixels"]),
          mean_sd(_random_layer(data)),
          " / ".join(f"{100 * r['accuracy']:.1f} (seed {seed})" for seed, r in layer.items()),
          series([r["hidden_spikes_per_neuron_per_sample"] for r in layer.values()], 1)]])


def baseline_line(data: dict, path: str, page_dir: str) -> str:
    """The sentence under a results table that names its split's linear baselines."""
    return (f"Linear baselines on the same split ({link(path, page_dir)}): logistic regression "
            f"on the pixels {percent(data['pixels'])}; on the spike counts of the untrained "
            f"random hidden layer {mean_sd(_random_layer(data))}.")


def _task_summary(data: dict, options: dict) -> str:
    """One rule's final accuracies on several tasks (over seeds or cross-validation folds),
    beside the paper's numbers (``figures/training/summarise_bpstdp.py``)."""
    rows = [[row["task"], f"`{row['model']}`", row["network"], row["budget"],
             mean_sd(row["accuracies"]), f"{per_seed(row['accuracies'])} ({row['over']})",
             row["paper"]] for row in data["rows"]]
    return table(["task", "model", "network", "budget", "final accuracy (mean +- SD)", "each (%)",
                  "the paper"], rows)


def _paper_table(data: dict, options: dict) -> str:
    """The SBP paper, its released algorithm and the spiking model on one table
    (``figures/training/summarise_sbp_paper.py``): per data set the test error without ->
    with SBP (mean +- SD over seeds) and the cost reduction of Eq. 1, each with its budget."""
    def error(accuracies) -> str:
        errors = 1 - np.asarray(accuracies, dtype=float)
        sd = f" +- {100 * errors.std(ddof=1):.2f}" if len(errors) > 1 else ""
        return f"{100 * errors.mean():.2f}{sd} %"

    def cells(cell: dict | None, missing: str) -> list:
        if cell is None:
            return [missing, "--"]
        if isinstance(cell["with"], str):  # the paper's, as printed
            return [f"{cell['without']} -> {cell['with']} ({cell['budget']})", cell["cost"]]
        budget = f" ({cell['budget']}"
        if "without" not in cell:
            return [f"{error(cell['with'])}{budget})", "--"]
        if "with_curves" in cell:  # the paper's measure: the best epoch of the seed mean
            lowest = []
            for curves in (cell["without_curves"], cell["with_curves"]):
                mean_error = 1 - np.mean(np.asarray(curves, dtype=float), axis=0)
                lowest.append(f"{100 * mean_error.min():.2f} % (epoch "
                              f"{int(mean_error.argmin()) + 1})")
            budget += f"; the paper's measure: {lowest[0]} -> {lowest[1]}"
        cost = cell["cost"]
        reduction = ("undefined" if cost["mean_reduction"] is None else
                     f"{-100 * cost['mean_reduction']:+.0f}"
                     + (f" +- {100 * cost['sd_reduction']:.0f}" if cost["sd_reduction"] else "")
                     + f" % ({cost['defined_for_seeds']} seeds)")
        return [f"{error(cell['without'])} -> {error(cell['with'])}{budget})", reduction]

    names = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "digits": "digits"}
    header = ["model"]
    for dataset in data["datasets"]:
        header += [f"{names[dataset]}: test error without -> with SBP",
                   f"{names[dataset]}: cost change (Eq. 1)"]
    rows = [[row["row"], *[c for dataset in data["datasets"]
                           for c in cells(row["cells"].get(dataset), row["missing"])]]
            for row in data["rows"]]
    return table(header, rows) + f"\n\n{data['note'][:1].upper() + data['note'][1:]}."


def _released_readings(data: dict, options: dict) -> str:
    """``figures/training/released_readings.py``: the released algorithm's validation
    accuracy per epoch under each reading, and how far its free phase is from settling."""
    rows = [[r["reading"], percent(r["validation_accuracy_per_epoch"][-1]),
             series(r["validation_accuracy_per_epoch"], 1, 100)] for r in data["readings"]]
    settled = data["free_phase_after_training"]
    note = data["note"][:1].upper() + data["note"][1:]
    return (table(["reading", "final validation accuracy", "per epoch (%)"], rows)
            + f"\n\n{note}. After the released settings' 3 epochs, 40 more free sweeps "
            "after the released 20 change an output by up to "
            f"{settled['max_output_change']:.3f} ({settled['mean_output_change']:.4f} on "
            f"average; the outputs average {settled['mean_output']:.2f}) and a hidden state by "
            f"up to {settled['max_hidden_change']:.3f}.")


def _sweep_map(data: dict, options: dict) -> str:
    """``sbp-brian sweep``'s sweep.json over a variant axis and two numeric model-file axes
    (the SBP paper's Figs. 4B and 5B): the variants that switch SBP off and whose runs every
    cell shares (one run per seed), then per other variant its map of the final test accuracy
    (mean +- SD over seeds) and each cell against the control, paired by seed, Holm-adjusted
    over the map; where "without SBP" has a run per cell (the map's axes act without SBP too),
    each SBP variant's map minus it, cell by cell (the paper's Fig. 5B)."""
    from .runs import holm, paired_tests
    y_axis, x_axis = [a for a in data["axes"] if a not in ("variant", "seed")][:2]
    rows = [r for r in data["rows"] if str(r.get("status", "")).startswith("done")]
    seeds = data["axes"].get("seed", [None])

    def accuracies(variant, y=None, x=None) -> list:
        found = {r.get("seed"): r["final_accuracy"] for r in rows if r["variant"] == variant
                 and (y is None or (r[y_axis] == y and r[x_axis] == x))}
        return [found[seed] for seed in seeds if seed in found]

    def one_run_per_seed(variant) -> bool:
        runs: dict = {}
        for r in rows:
            if r["variant"] == variant:
                runs.setdefault(r.get("seed"), set()).add(r.get("point"))
        return all(len(points) == 1 for points in runs.values())

    shared = [v for v in data["axes"]["variant"]
              if v in ("control", "without-sbp") and one_run_per_seed(v)]
    def label_of(variant) -> str:  # the registry entry may name a model's own variants
        key = variant_key(variant)
        return options.get("labels", {}).get(key, VARIANT_LABELS[key])

    lines = [table(["variant (SBP off: one run per seed)", "final test accuracy (mean +- SD)",
                    "per seed"],
                   [[label_of(v), mean_sd(accuracies(v)),
                     per_seed(accuracies(v))] for v in shared])] if shared else []
    control = accuracies("control") if "control" in shared else None
    columns = data["axes"][x_axis]

    def cells_of(variant) -> dict:
        return {(y, x): accuracies(variant, y, x)
                for y in data["axes"][y_axis] for x in data["axes"][x_axis]}

    def map_table(cells: dict, cell) -> str:
        return table([f"{y_axis} (row), {x_axis} (column)", *map(str, columns)],
                     [[str(y), *(cell(cells[y, x]) if cells[y, x] else "failed"
                                 for x in columns)] for y in data["axes"][y_axis]])

    baseline = None
    if "without-sbp" in data["axes"]["variant"] and "without-sbp" not in shared:
        baseline = cells_of("without-sbp")
    for variant in (v for v in data["axes"]["variant"] if v not in shared):
        label = label_of(variant)
        cells = cells_of(variant)
        lines.append(f"{label}, final test accuracy (mean +- SD over seeds); rows {y_axis}, "
                     f"columns {x_axis}:")
        lines.append(map_table(cells, mean_sd))
        if baseline is not None and variant != "without-sbp":
            differences = {cell: [a - b for a, b in zip(values, baseline[cell])]
                           if len(values) == len(baseline[cell]) else []
                           for cell, values in cells.items()}
            lines.append(f"{label} minus without SBP, cell by cell (points, mean over "
                         "seeds):")
            lines.append(map_table(differences, lambda d: f"{100 * np.mean(d):+.1f}"))
        if not control:
            continue
        tests = {cell: paired_tests(values, control) for cell, values in cells.items()
                 if len(values) == len(control)}
        adjusted = dict(zip(tests, holm([t["paired_p"] for t in tests.values()])))
        above = [cell for cell, t in tests.items() if t["difference"] > 0]
        best = max(tests, key=lambda cell: tests[cell]["difference"])
        def significant(cells) -> list:
            return [c for c in cells if adjusted[c] is not None and adjusted[c] < 0.05]

        below = [cell for cell in tests if cell not in above]
        lines.append(
            f"Against the control ({mean_sd(control)}), paired by seed: {len(above)} of "
            f"{len(tests)} cells have a higher mean, {len(significant(above))} of them with "
            f"Holm-adjusted paired p < 0.05 (over the {len(tests)} cells); "
            f"{len(significant(below))} of the {len(below)} others are lower with Holm "
            "p < 0.05; the largest difference, "
            f"{100 * tests[best]['difference']:+.1f} points at {y_axis} = {best[0]}, "
            f"{x_axis} = {best[1]} ({p_value(tests[best]['paired_p'])}; Holm "
            f"{p_value(adjusted[best])}), is the best of {len(tests)} cells on the test set, "
            "not a tuned value.")
    return "\n\n".join(lines)


def _sweep_scaling(data: dict, options: dict) -> str:
    """``bench/sweep_scaling.py``: one sweep's wall time per number of Dask workers, with an
    empty and a filled project cache, the speed-up against one worker with the same cache,
    and the compiled projects built and restored."""
    return table(["workers", "project cache", "wall (s)", "speed-up", "points",
                  "projects built", "restored from the cache", "seconds per point (median)"],
                 [[m["workers"], m["cache"], f"{m['wall_seconds']:.1f}", f"{m['speedup']:.2f}x",
                   m["points"], m["built"], m["from_cache"],
                   f"{np.median(m['point_seconds']):.1f}"] for m in data["measurements"]])


RENDERERS: dict[str, Callable[[dict, dict], str]] = {
    "sweep_map": _sweep_map,
    "sweep_scaling": _sweep_scaling,
    "released_readings": _released_readings,
    "paper_table": _paper_table,
    "task_summary": _task_summary,
    "comparison": _comparison,
    "seed_lists": _seed_lists,
    "rescore": _rescore,
    "probe": _probe,
    "validation_grid": _validation_grid,
    "variants_summary": _variants_summary,
    "probe_runs": _probe_runs,
    "run_epochs": _run_epochs,
    "batch_sizes": _batch_sizes,
    "copies": _copies,
    "bench": _bench,
    "garbage_collector": _garbage_collector,
    "baselines": _baselines,
}


def read_artifact(root: Path, entry: ResultEntry) -> dict:
    path = Path(root) / entry.artifact
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ResultsError(f"[{entry.id}]: cannot read {entry.artifact}: {err}") from None


def _read_json(root: Path, entry: ResultEntry, relative: str) -> dict:
    path = Path(root) / relative
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ResultsError(f"[{entry.id}]: cannot read {relative}: {err}") from None


def render_result(root: Path, entry: ResultEntry, page_dir: str = "docs") -> str:
    """The Markdown of one result: provenance, the artifact's numbers, the figure."""
    options = dict(entry.options or {})
    other = {key: _read_json(root, entry, options[key]) for key in ("baseline", "baselines")
             if key in options}  # artifacts the table compares with
    if "baseline" in other:
        options["baseline_data"] = other["baseline"]
    try:
        numbers = RENDERERS[entry.kind](read_artifact(root, entry), options)
    except (KeyError, TypeError, IndexError, ValueError) as err:
        raise ResultsError(f"[{entry.id}]: {entry.artifact} does not have the layout of kind "
                           f"{entry.kind!r}: {err!r}") from None
    provenance = table(["", ""], [
        ["command", f"`{entry.command}`"], ["data", entry.data], ["budget", entry.budget],
        ["seeds", entry.seeds], ["scored on", entry.split], ["date", entry.date],
        ["artifact", link(entry.artifact, page_dir)]])
    parts = [provenance, numbers]
    if "baselines" in other:
        parts.append(baseline_line(other["baselines"], options["baselines"], page_dir))
    if entry.figure:
        parts.append(f"![{entry.title}]({(Path('..') / entry.figure).as_posix()})")
    return "\n\n".join(parts)


def render_headline(root: Path) -> str:
    """README's results tables: each variant's final test accuracy on digits and
    Fashion-MNIST at the benchmark budgets, the first command's run, and the speed of the
    compiled path against the naive Brian2 loop and dense numpy; each row links to its page
    and the artifact it comes from."""
    registry = load_registry(root)
    needed = ("digits_comparison", "fashion_ten_epochs", "digits_main_command", "speed_benchmark",
              "baselines_digits", "baselines_fashion")
    missing = [name for name in needed if name not in registry]
    if missing:
        raise ResultsError(f"README's results table needs the results {', '.join(missing)} "
                           f"in {Path(root) / REGISTRY}")

    def source(entry_id: str, anchor: str) -> str:
        return (f"[{registry[entry_id].page}](docs/{registry[entry_id].page}.md#{anchor}), "
                f"{link(registry[entry_id].artifact, '.')}")

    digits = {variant_key(k): v["accuracies"]
              for k, v in read_artifact(root, registry["digits_comparison"]).items()}
    fashion = {variant_key(k): v["final_per_seed"] for k, v in
               read_artifact(root, registry["fashion_ten_epochs"])["summary"].items()}
    last = read_artifact(root, registry["digits_main_command"])["epochs"][-1]
    rows = [[f"digits, 10 epochs, seeds {registry['digits_comparison'].seeds}",
             *(mean_sd(digits[key]) for key in VARIANT_LABELS),
             source("digits_comparison", "every-variant-3-seeds")],
            [f"Fashion-MNIST, 10 epochs, seeds {registry['fashion_ten_epochs'].seeds}",
             *(mean_sd(fashion[key]) for key in VARIANT_LABELS),
             source("fashion_ten_epochs", "10-epochs-the-benchmark")],
            ["digits, the first command above (the model file's seed)",
             *(percent(last["test_accuracy"]) if key == "paper" else "--"
               for key in VARIANT_LABELS),
             source("digits_main_command", "the-readmes-first-command")]]
    accuracy = table(["data set, budget", *VARIANT_LABELS.values(), "from"], rows)
    lines = {name: read_artifact(root, registry[f"baselines_{name}"])
             for name in ("digits", "fashion")}
    accuracy += ("\n\nEvery spiking variant is to be read against the linear baselines of the "
                 "same splits ([results](docs/results.md#linear-baselines)): logistic regression "
                 f"on the pixels {percent(lines['digits']['pixels'])} (digits) and "
                 f"{percent(lines['fashion']['pixels'])} (Fashion-MNIST); on the spike counts "
                 "of the untrained random hidden layer "
                 f"{mean_sd(_random_layer(lines['digits']))} and "
                 f"{mean_sd(_random_layer(lines['fashion']))}.")
    bench = read_artifact(root, registry["speed_benchmark"])["runs"]
    compiled = next(r for r in bench if r["way"] == "compiled")
    ways = {"compiled": "compiled (`cpp_standalone`, the default)",
            "naive": "naive Brian2 loop (one `run()` per sample, Cython)",
            "dense": "dense numpy simulation"}
    speed = table(
        [f"784-500-10, T = {compiled['sample_duration_ms']:g} ms, one CPU core", "samples/s",
         "compiled is faster by", "from"],
        [[label, f"{r['samples_per_second_median']:.1f}",
          "--" if way == "compiled" else f"{r['speedup_of_compiled']:.1f}x",
          source("speed_benchmark", "the-latest-run")]
         for way, label in ways.items() for r in bench
         if r["way"] == way and r["sample_duration_ms"] == compiled["sample_duration_ms"]])
    return accuracy + "\n\n" + speed
