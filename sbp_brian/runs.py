"""Runs on disk: building a trainer from options, evaluation, the SBP paper's cost, comparison.

A run folder holds ``run.json`` (the options it was started with), ``config.json``,
``metrics.jsonl`` (one JSON line per epoch) and ``checkpoint.npz``.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from .datasets import load_dataset
from .model_files import load_model
from .network import TrainingConfig
from .rules import RULES
from .rules.sbp import sbp_variant
from .train import Trainer, TrainingError, read_metrics

__all__ = ["make_trainer", "read_run_options", "read_metrics", "computational_cost", "summarise_costs",
           "evaluate_run", "operations_per_sample", "welch_test", "paired_tests", "holm",
           "VARIANTS", "VARIANT_KEYS", "compare", "model_variants"]

#: The comparison's variants: name -> option overrides.
VARIANTS = {
    "control (fixed hidden)": {"freeze_hidden": True, "no_sbp": True, "sbp_mode": None},
    "without SBP": {"no_sbp": True, "sbp_mode": None},
    "SBP paper": {"no_sbp": False, "sbp_mode": "paper"},
    "SBP spread": {"no_sbp": False, "sbp_mode": "spread"},
    "SBP weighted (ours)": {"no_sbp": False, "sbp_mode": "weighted"},
}
#: Short names of the variants (``sbp-brian compare --variants``), in :data:`VARIANTS` order.
VARIANT_KEYS = dict(zip(("control", "without-sbp", "paper", "spread", "weighted"), VARIANTS))
CONTROL, BASELINE = "control (fixed hidden)", "without SBP"


#: Options that choose or shape the SBP network's rule; a layered network refuses them.
SBP_NETWORK_OPTIONS = ("sbp_mode", "p", "f", "freeze_hidden", "no_sbp", "batch_size",
                       "stdp_scale", "copies")


def make_config(options: dict, data):
    """The network kind a model file describes, with the options applied: a
    :class:`~sbp_brian.network.TrainingConfig` (the SBP network) or, for a rule that trains
    another network (``[rule] name``), a :class:`~sbp_brian.layered.LayeredConfig` (BP-STDP)
    a :class:`~sbp_brian.released.ReleasedConfig` (the SBP paper's released algorithm), an
    :class:`~sbp_brian.rbm.RBMConfig` (its RBM) or an :class:`~sbp_brian.mlp.MLPConfig` (its
    spiking MLP)."""
    model = load_model(options.get("model") or "sbp_digits")
    rule = model.options.get("rule", {}).get("name", "sbp")
    if RULES[rule].network == "released":
        from .released import ReleasedConfig
        return ReleasedConfig.from_model(model, data.n_inputs, data.n_outputs, options)
    if RULES[rule].network == "rbm":
        from .rbm import RBMConfig
        return RBMConfig.from_model(model, data.n_inputs, data.n_outputs, options,
                                    n_train=len(data.y_train), n_eval=len(data.y_test))
    if RULES[rule].network == "mlp":
        from .mlp import MLPConfig
        return MLPConfig.from_model(model, data.n_inputs, data.n_outputs, options,
                                    n_train=len(data.y_train))
    if RULES[rule].network == "layered":
        from .layered import LayeredConfig
        given = [k for k in SBP_NETWORK_OPTIONS if options.get(k) not in (None, False)]
        if given:
            flags = ", ".join("--" + k.replace("_", "-") for k in given)
            raise TrainingError(f"{flags}: options of the SBP network; model "
                                f"{model.name} trains a layered network with rule {rule}")
        overrides = {k: options[k] for k in ("epochs", "seed", "chunk")
                     if options.get(k) is not None}
        return LayeredConfig.from_model(model, data.n_inputs, data.n_outputs, **overrides)
    overrides = {k: options[k] for k in ("epochs", "seed", "chunk", "batch_size")
                 if options.get(k) is not None}
    overrides["rule"] = sbp_variant(
        RULES[rule].from_model(model).describe(), no_sbp=bool(options.get("no_sbp")),
        freeze_hidden=bool(options.get("freeze_hidden")), mode=options.get("sbp_mode"),
        p=options.get("p"), f=options.get("f"))
    config = TrainingConfig.from_model(model, data.n_inputs, data.n_outputs, **overrides)
    scale = options.get("stdp_scale")
    if scale is not None:  # e.g. "without SBP" at the input learning rate of SBP "paper"
        if not scale > 0:
            raise TrainingError(f"--stdp-scale must be > 0, got {scale}")
        config.eta_in *= scale
    return config


def _refuse_final_validation(options: dict) -> None:
    if options.get("final") and options.get("validation") is not None:
        raise TrainingError("--final measures on the test set; --validation is for tuning: "
                            "give one of them")


def make_data(options: dict):
    _refuse_final_validation(options)
    data = load_dataset(options.get("dataset") or "digits", options.get("data_dir"))
    if options.get("fold") is not None:  # cross-validation (sbp-brian train --folds)
        if options.get("validation") is not None:
            raise TrainingError("--folds scores every fold on its own held-out part; "
                                "--validation does not combine with it")
        data = data.fold(options["fold"], options["folds"])
    if options.get("validation") is not None:
        data = data.validation_split(options["validation"], seed=0)
    return data.subset(options.get("samples"), options.get("test_samples"))


def make_trainer(options: dict, out_dir, resume: bool = False, progress: bool = True,
                 build_dir=None, runner=None, record_hidden: bool = False) -> Trainer:
    """A :class:`Trainer` from CLI-style options; writes ``run.json`` for a new run."""
    data = make_data(options)
    config = make_config(options, data)
    trainer = Trainer(config, data, out_dir, device=options.get("device") or "cpp",
                      resume=resume, progress=progress, build_dir=build_dir, runner=runner,
                      threads=1 if options.get("threads") is None else options["threads"],
                      copies=options.get("copies") or 1, record_hidden=record_hidden)
    if not resume:
        (Path(out_dir) / "run.json").write_text(json.dumps(options, indent=2) + "\n")
    return trainer


def read_run_options(run) -> tuple[Path, dict]:
    """The run folder of ``run`` (the folder or a file in it) and the options in its
    ``run.json``; a missing or unreadable ``run.json`` is an error that names it."""
    run = Path(run)
    folder = run.parent if run.is_file() else run
    path = folder / "run.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: not a run folder")
    try:
        options = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise TrainingError(f"{path}: unreadable ({err})") from err
    if not isinstance(options, dict):
        raise TrainingError(f"{path}: expected a JSON object of run options")
    return folder, options


def evaluate_run(checkpoint, device: str | None = None, progress: bool = False) -> dict:
    """Test accuracy of a run's checkpoint, rebuilt from its ``run.json``, on the test
    presentations of the last epoch's evaluation (so a finished run gives the metrics log's
    last test accuracy), with the count-only accuracy beside it."""
    folder, options = read_run_options(checkpoint)
    if device:
        options["device"] = device
    trainer = make_trainer(options, folder, resume=True, progress=progress)
    try:
        acc, responses = trainer.evaluate(epoch=trainer.last_evaluated_epoch)
    finally:
        trainer.close()
    codes = trainer.data.codes
    return {"run": str(folder), "accuracy": acc,
            "accuracy_counts_only": responses.accuracy_counts_only(trainer.data.y_test)
            if codes is None else acc,
            "evaluated_on": trainer.data.name, "n_samples": int(len(responses.counts)),
            "epoch": trainer.state["epoch"]}


def operations_per_sample(config: dict) -> int:
    """The O(n) of the SBP paper's cost (Eq. 1) for a run's described configuration
    (``config.json``'s ``config``): the network kind's own count where it gives one (the RBM's
    ``operations_per_sample``: both directions of both projections, as the paper's figure code
    counts it), else one per synapse, ``m n + n k``."""
    if "operations_per_sample" in config:
        return int(config["operations_per_sample"])
    return config["n_input"] * config["n_hidden"] + config["n_hidden"] * config["n_output"]


def computational_cost(errors_a, errors_b, n_weights: int, levels: int = 5) -> dict:
    """The SBP paper's computational cost (Eq. 1), as its figure code computes it.

    Five error levels evenly spaced between ``max(min e_a, min e_b)`` and
    ``min(max e_a, max e_b)``; for each curve and level the first epoch (1-based) whose error
    is at or below the level; cost = mean over levels x number of weights.
    """
    errors_a, errors_b = np.asarray(errors_a, float), np.asarray(errors_b, float)
    low = max(errors_a.min(), errors_b.min())
    high = min(errors_a.max(), errors_b.max())
    if high < low:  # e.g. one epoch each: no error level is crossed by both curves
        return {"levels": [], "epochs_a": [], "epochs_b": [], "cost_a": None, "cost_b": None,
                "reduction": None, "undefined": "the two error curves' ranges do not overlap"}
    marks = np.linspace(low, high, levels)

    def first_epochs(errors):
        return np.array([np.flatnonzero(errors <= m + 1e-12)[0] + 1 for m in marks])

    epochs_a, epochs_b = first_epochs(errors_a), first_epochs(errors_b)
    cost_a, cost_b = epochs_a.mean() * n_weights, epochs_b.mean() * n_weights
    return {"levels": marks.tolist(), "epochs_a": epochs_a.tolist(),
            "epochs_b": epochs_b.tolist(), "cost_a": float(cost_a), "cost_b": float(cost_b),
            "reduction": float(1 - cost_b / cost_a)}


def compare(options: dict, seeds, out_dir, progress: bool = True, log=print,
            jobs: int = 1, variants=None, models=None) -> dict:
    """Train every variant of :data:`VARIANTS` (or those named in ``variants``, by name or
    :data:`VARIANT_KEYS` key) with the same seeds, data and budget; or, with ``models``, every
    model of that list instead (:func:`model_variants`: model files, each trained by its own
    rule, an SBP model optionally as one of its variants), each against the first.

    Runs already in ``out_dir`` are resumed from their checkpoints (finished ones are kept),
    so a long comparison can be made in parts (some variants or seeds at a time) and a rerun
    over finished runs only summarises them.  ``jobs > 1`` trains that many runs at a time,
    as a sweep over variant and seed on a local Dask cluster of that many worker processes
    (one per CPU core: every run is single-threaded; :mod:`sbp_brian.sweeps`), with a line per
    epoch instead of progress bars and ``results.csv`` beside ``comparison.json``; the runs
    are the same as one at a time (same seeds, same random streams).

    With ``models`` the budget must be given (``options["epochs"]``: every model trains as
    many epochs), runs are trained one at a time, and each model after the first gets its
    difference from the first, paired by seed and Holm-adjusted (``vs_reference``).

    Returns per variant the test accuracies (final epoch, seed order), their mean and SD;
    with the control among the variants and at least two seeds, each other variant's
    difference from it, tested paired by seed (:func:`paired_tests`: paired t and Wilcoxon),
    with the paired p Holm-adjusted over the variants (``vs_control``); with "without SBP" among them,
    the SBP paper's cost between it and each other variant, per seed
    (``cost_vs_without_sbp``).  Writes ``comparison.json`` and ``accuracy.png``/``.svg`` in
    ``out_dir``.
    """
    out_dir = Path(out_dir)
    if jobs < 1:
        raise TrainingError(f"--jobs must be at least 1, got {jobs}")
    if models:
        overrides = _models_compared(options, variants, jobs, models)
    else:
        overrides = {name: VARIANTS[name] for name in _variant_names(variants)}
    variants = list(overrides)
    if options.get("final"):
        _keep_to_the_plan(options, list(seeds), variants, out_dir)
    if jobs > 1:
        results = _train_variants_parallel(options, seeds, out_dir, jobs, log, variants)
    else:
        # compiled projects are shared by one variant's seeds, and are this process's own:
        # two comparisons writing into one folder never share one
        with tempfile.TemporaryDirectory(prefix="sbp_brian_compare_") as builds:
            results = _train_variants(options, seeds, out_dir, Path(builds), progress, log,
                                      overrides)
    if models and len(seeds) > 1:
        _add_tests(results, variants[0], variants[1:], "vs_reference")
    if CONTROL in results and len(seeds) > 1:
        _add_tests(results, CONTROL, [v for v in results if v != CONTROL], "vs_control")
    if BASELINE in results:
        _add_costs(results, seeds, out_dir)
    (out_dir / "comparison.json").write_text(json.dumps(results, indent=2) + "\n")
    model = options.get("model")  # named in the title unless it is the default
    plot_comparison_dir(out_dir, results, seeds, title=f"{options.get('dataset') or 'digits'}, "
                        + (f"model {Path(model).stem}, " if model else "")
                        + f"seeds {', '.join(map(str, seeds))}")
    return results


PLAN = "plan.json"


def _keep_to_the_plan(options: dict, seeds: list, variants: list, out_dir: Path) -> None:
    """A final comparison (``--final``) fixes its seeds, variants and options in ``plan.json``
    before its first run; a later call into the same folder (resuming, or some variants at a
    time) must keep to them: no seeds added after the p-values were seen."""
    _refuse_final_validation(options)  # before anything is written
    plan = {"seeds": seeds, "variants": list(variants),
            "options": {k: v for k, v in options.items() if v is not None}}
    path = out_dir / PLAN
    if not path.exists():
        if any(out_dir.glob("*/seed*/checkpoint.npz")):
            raise TrainingError(f"{out_dir} holds runs started without --final: a final "
                                "comparison starts in a new folder")
        out_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(plan, indent=2) + "\n")
        return
    fixed = json.loads(path.read_text())
    differ = [f"{key} {plan[key]!r} (the plan has {fixed[key]!r})" for key in ("seeds", "options")
              if plan[key] != fixed[key]]
    extra = [v for v in plan["variants"] if v not in fixed["variants"]]
    if extra:
        differ.append(f"variants {extra!r} (not in the plan's {fixed['variants']!r})")
    if differ:
        raise TrainingError(f"{path}: a final comparison keeps the seeds, variants and options "
                            f"fixed at its start; these differ: {'; '.join(differ)}. Start a "
                            "new folder for another comparison")


def model_variants(models) -> dict:
    """The variants of a comparison of models: name -> option overrides.  Each entry of
    ``models`` is a model file or bundled model name, trained as its model file says, or
    ``MODEL:VARIANT`` with VARIANT a key of :data:`VARIANT_KEYS` (an SBP model as one of its
    variants, e.g. ``sbp_fashion:control``); the name is the file's stem, with the variant."""
    variants = {}
    for entry in models:
        model, _, key = str(entry).rpartition(":")
        if not model or key not in VARIANT_KEYS:
            model, key = str(entry), None
        name = Path(model).stem + (f" {key}" if key else "")
        if name in variants:
            raise TrainingError(f"--models names {name!r} twice")
        variants[name] = {"model": model, **(VARIANTS[VARIANT_KEYS[key]] if key else {})}
    return variants


def _models_compared(options: dict, variants, jobs: int, models) -> dict:
    """:func:`model_variants` of ``models``, after refusing what a comparison of models
    cannot honour: SBP variants beside it, parallel runs, a budget each model would set
    itself, or a positional model."""
    if variants:
        raise TrainingError("compare --models takes the variants as MODEL:VARIANT entries "
                            "(e.g. sbp_fashion:control), not --variants")
    if jobs > 1:
        raise TrainingError("compare --models trains one run at a time (--jobs 1)")
    if options.get("model"):
        raise TrainingError("compare --models: name every model in --models, not as the "
                            "positional model")
    if not options.get("epochs"):
        raise TrainingError("compare --models: give the budget (--epochs N), the same for "
                            "every model (model files set different ones)")
    if len(models) < 2:
        raise TrainingError("compare --models needs at least two models")
    return model_variants(models)


def _add_tests(results: dict, reference: str, others: list, key: str) -> None:
    """Each of ``others`` against ``reference``: paired tests by seed, Holm-adjusted over
    ``others`` (``results[variant][key]``; ``vs_reference`` also names the reference)."""
    for variant in others:
        results[variant][key] = paired_tests(results[variant]["accuracies"],
                                             results[reference]["accuracies"])
        if key == "vs_reference":
            results[variant][key]["reference"] = reference
    for variant, p in zip(others, holm([results[v][key]["paired_p"] for v in others])):
        results[variant][key]["holm_p"] = p


def _variant_names(variants) -> list[str]:
    """Full variant names, in :data:`VARIANTS` order, from names or short keys."""
    if not variants:
        return list(VARIANTS)
    wanted = set()
    for name in variants:
        full = VARIANT_KEYS.get(name, name)
        if full not in VARIANTS:
            raise TrainingError(f"unknown variant {name!r}; the variants are "
                                f"{', '.join(VARIANT_KEYS)}")
        wanted.add(full)
    return [variant for variant in VARIANTS if variant in wanted]


def welch_test(a, b) -> dict:
    """Welch's two-sample t-test (unequal variances) of accuracies ``a`` against ``b``:
    the difference of means, t, its degrees of freedom and the two-sided p (``None`` where
    undefined: both samples without spread)."""
    from scipy import stats
    a, b = np.asarray(a, float), np.asarray(b, float)
    result = {"difference": float(a.mean() - b.mean()), "welch_t": None, "df": None, "p": None}
    if a.var() + b.var() > 0:
        test = stats.ttest_ind(a, b, equal_var=False)
        result.update(welch_t=float(test.statistic), df=float(test.df), p=float(test.pvalue))
    return result


def paired_tests(a, b) -> dict:
    """Tests of accuracies ``a`` against ``b`` paired by seed (the same seed gives both runs
    the same initial weights and sample order): the mean difference, the paired t-test and
    Wilcoxon's signed-rank test (exact, two-sided; zero differences dropped).  ``None`` where
    a test is undefined (fewer than two pairs, or no spread)."""
    import warnings
    from scipy import stats
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        raise ValueError(f"paired tests need one value per seed on both sides, got {len(a)} "
                         f"and {len(b)}")
    differences = a - b
    result = {"difference": float(differences.mean()), "n": int(len(a)), "paired_t": None,
              "paired_p": None, "wilcoxon_p": None}
    if len(a) >= 2 and differences.std() > 0:
        test = stats.ttest_rel(a, b)
        result.update(paired_t=float(test.statistic), paired_p=float(test.pvalue))
    if np.any(differences != 0):
        with warnings.catch_warnings():  # scipy warns on tiny samples; the exact p stands
            warnings.simplefilter("ignore")
            result["wilcoxon_p"] = float(stats.wilcoxon(differences).pvalue)
    return result


def holm(p_values) -> list:
    """Holm's step-down adjustment of the p-values of the comparisons one table makes
    (``None`` entries are left out and stay ``None``)."""
    given = [(p, i) for i, p in enumerate(p_values) if p is not None]
    adjusted: list = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(given)):
        running = max(running, min(1.0, (len(given) - rank) * p))
        adjusted[i] = running
    return adjusted


def _add_costs(results: dict, seeds, out_dir: Path) -> None:
    """The SBP paper's cost (Eq. 1) between "without SBP" and each other variant, per seed."""
    base = results[BASELINE]["folder"]
    n_weights = None
    for variant in results:
        if variant == BASELINE:
            continue
        costs = []
        for seed in seeds:
            a = [1 - r["test_accuracy"] for r in read_metrics(out_dir / base / f"seed{seed}")]
            b = [1 - r["test_accuracy"] for r in read_metrics(
                out_dir / results[variant]["folder"] / f"seed{seed}")]
            if n_weights is None:
                config = json.loads((out_dir / base / f"seed{seed}" / "config.json").read_text())
                n_weights = operations_per_sample(config["config"])
            costs.append(computational_cost(a, b, n_weights))
        results[variant]["cost_vs_without_sbp"] = summarise_costs(costs)


def summarise_costs(per_seed) -> dict:
    """Mean and SD over seeds of :func:`computational_cost`'s reductions, for the seeds where
    it is defined (the SD ``None`` for fewer than two); ``per_seed``: the seeds' results, a list
    or a dict keyed by seed."""
    values = per_seed.values() if isinstance(per_seed, dict) else per_seed
    reductions = [c["reduction"] for c in values if c["reduction"] is not None]
    return {"per_seed": per_seed, "defined_for_seeds": len(reductions),
            "mean_reduction": float(np.mean(reductions)) if reductions else None,
            "sd_reduction": float(np.std(reductions, ddof=1)) if len(reductions) > 1 else None}


def _slug(variant: str) -> str:
    """A variant's folder name."""
    return "".join(ch if ch.isalnum() else "_" for ch in variant).strip("_").lower()


def _summary(accuracies: dict) -> dict:
    """Per variant: folder, final test accuracies in seed order, mean and SD (``None`` with
    one seed: a single run has no spread to report)."""
    return {variant: {"folder": _slug(variant), "accuracies": accs,
                      "mean": float(np.mean(accs)),
                      "sd": float(np.std(accs, ddof=1)) if len(accs) > 1 else None}
            for variant, accs in accuracies.items()}


def _start_run(options: dict, variant: str, seed: int, out_dir: Path, progress: bool,
               build_dir: Path, runner=None, overrides=None) -> tuple[Trainer, Path, bool]:
    """A trainer for one variant (its option ``overrides``, by default the SBP variant's)
    and seed, its folder, and whether it resumes an interrupted or finished run."""
    folder = out_dir / _slug(variant) / f"seed{seed}"
    resume = (folder / "checkpoint.npz").exists()
    overrides = VARIANTS[variant] if overrides is None else overrides
    trainer = make_trainer({**options, **overrides, "seed": seed}, folder,
                           resume=resume, progress=progress, build_dir=build_dir, runner=runner)
    return trainer, folder, resume


def _train_variants(options: dict, seeds, out_dir: Path, builds: Path, progress: bool,
                    log, variants: dict) -> dict:
    """Train (or resume, or keep) the runs of ``variants`` (name -> option overrides);
    their final test accuracies."""
    accuracies = {}
    for variant, overrides in variants.items():
        runner = None
        accs = []
        for seed in seeds:
            trainer, folder, resumed = _start_run(options, variant, seed, out_dir, progress,
                                                  builds / _slug(variant), runner, overrides)
            log(f"[compare] {variant}, seed {seed}" + (" (resumed)" if resumed else ""))
            trainer.fit()
            runner = trainer._runner
            accs.append(read_metrics(folder)[-1]["test_accuracy"])
        if runner is not None:
            from .targets import reset_target
            reset_target()
        accuracies[variant] = accs
    return _summary(accuracies)


def _train_variants_parallel(options: dict, seeds, out_dir: Path, jobs: int, log,
                             variants) -> dict:
    """:func:`_train_variants` with up to ``jobs`` runs at a time: a sweep over variant and
    seed (:mod:`sbp_brian.sweeps`) on a local Dask cluster of ``jobs`` worker processes, each
    run in the folder ``compare`` uses and printing a line per epoch.  The runs are the same
    as one at a time (same seeds, same random streams); an interrupt (Ctrl-C) stops them,
    and they keep their last checkpoints (rerunning the command resumes them)."""
    from .sweeps import Sweep, budget_epochs, run_sweep
    short = {full: key for key, full in VARIANT_KEYS.items()}
    sweep = Sweep(out_dir / "comparison.json",
                  {**options, "epochs": options.get("epochs") or budget_epochs(
                      options.get("model") or "sbp_digits")},
                  {"variant": [short[v] for v in variants], "seed": list(seeds)})
    log(f"[compare] {len(variants) * len(seeds)} runs, {jobs} at a time")
    rows = run_sweep(sweep, out_dir, workers=jobs, progress=False, log=log, figures=False,
                     folder_of=lambda p: out_dir / _slug(VARIANT_KEYS[p["variant"]])
                     / f"seed{p['seed']}",
                     prefix_of=lambda p: f"[compare] {VARIANT_KEYS[p['variant']]}, seed "
                                         f"{p['seed']}")
    failed = [f"{VARIANT_KEYS[r['variant']]}, seed {r['seed']} ({r['error']})" for r in rows
              if r["status"] == "failed"]
    if failed:
        raise TrainingError("runs of the comparison failed (finished runs are kept; rerun the "
                            "command to resume the others): " + "; ".join(failed))
    return _summary({variant: [read_metrics(out_dir / _slug(variant) / f"seed{seed}")[-1][
        "test_accuracy"] for seed in seeds] for variant in variants})


def plot_comparison_dir(out_dir, results: dict, seeds, title: str = "") -> list:
    """``accuracy.png``/``.svg`` in ``out_dir``: each variant's test accuracy per epoch."""
    import matplotlib.pyplot as plt
    from .plotting import plot_comparison, save_figure
    out_dir = Path(out_dir)
    curves = {variant: [[record["test_accuracy"] for record in read_metrics(
        out_dir / result["folder"] / f"seed{seed}")] for seed in seeds]
        for variant, result in results.items()}
    fig, ax = plt.subplots(figsize=(6, 4))
    plot_comparison(curves, axes=ax, title=title)
    fig.tight_layout()
    return save_figure(fig, out_dir, "accuracy")
