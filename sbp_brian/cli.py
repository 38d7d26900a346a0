"""The ``sbp-brian`` command (``sbp-brian COMMAND --help`` for each one's options).

Subcommands:

* ``doctor``    -- which targets (numpy, cython, cpp, cuda) work here, and the
  compiled-project cache;
* ``models``    -- list bundled model files, or validate files;
* ``protocol``  -- run a plasticity protocol from ``protocols/``;
* ``figures``   -- regenerate every protocol figure;
* ``train``     -- train a network (fast path by default; ``--resume`` continues a run);
* ``evaluate``  -- test accuracy of a run's checkpoint;
* ``probe``     -- linear probe of a run's hidden spike counts;
* ``baselines`` -- linear baselines of a data set's split (pixels, a random hidden layer);
* ``cost``      -- the SBP paper's computational cost (Eq. 1) of two runs;
* ``plot``      -- accuracy curves of runs on one plot;
* ``compare``   -- control, without SBP and the SBP modes, over seeds (``--jobs N`` at a time),
  or several models (``--models``), each trained by its own rule;
* ``bench``     -- the speed benchmark (samples/s of every way to run the workload);
* ``docs``      -- rewrite (or ``--check``) the tables of README.md and docs/ made from data.

Exit codes: 0 done, 1 ``docs --check`` found pages out of date, 2 bad input (one line naming
the problem), 130 interrupted (Ctrl-C).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from .cli_support import load_protocol, protocol_names
from .parameters import ParameterError
from .targets import TARGETS, TargetError
from .datasets import DatasetError
from .train import CHECKPOINT as CHECKPOINT_NAME
from .train import TrainingError, interrupts_stop_at_once
from .bench import DEFAULT_COPIES, WAYS
from .runs import VARIANT_KEYS
from .results import ResultsError
from .sweeps import SweepError


def _doctor(args) -> int:
    from .targets import doctor
    for status in doctor():
        mark = "ok " if status.usable else ("compile-only" if status.compiles else "no ")
        print(f"{status.target:7s} {mark:12s} {status.reason}")
    from .project_cache import summary
    print(f"compiled-project cache: {summary()}")
    return 0


def _models(args) -> int:
    from .model_files import bundled_models, load_model
    if not args.files:
        for name, path in bundled_models().items():
            model = load_model(path)
            print(f"{name:20s} {path}\n    {model.description}")
        return 0
    for file in args.files:
        model = load_model(file)
        print(f"{file}: ok ({model.name}: {len(model.neurons)} neuron populations, "
              f"{len(model.synapses)} projections, {len(model.sources)} sourced values)")
    return 0


def _protocol(args) -> int:
    module = load_protocol(args.name)
    out = Path(args.out or Path("runs") / args.name)
    start = time.perf_counter()
    summary = module.run(out, **({"device": args.device} if args.device else {}))
    summary["seconds"] = round(time.perf_counter() - start, 2)
    print(json.dumps(summary, indent=2))
    print(f"wrote {out}/")
    return 0


def _figures(args) -> int:
    from .figures import regenerate
    regenerate(args.out, only=args.only, device=args.device)
    print(f"wrote {args.out}/README.md")
    return 0


def _train_options(args) -> dict:
    return {"model": args.model, "dataset": args.dataset, "data_dir": args.data_dir,
            "sbp_mode": None if args.no_sbp else args.sbp_mode, "no_sbp": args.no_sbp,
            "freeze_hidden": args.freeze_hidden or None, "p": args.p, "f": args.f,
            "epochs": args.epochs, "samples": args.samples, "test_samples": args.test_samples,
            "seed": getattr(args, "seed", None), "device": args.device,
            "threads": getattr(args, "threads", None), "validation": args.validation,
            "batch_size": args.batch_size, "copies": getattr(args, "copies", None),
            "stdp_scale": args.stdp_scale, "final": args.final or None}


def _refuse_other_options(args, options: dict, out: Path) -> None:
    """--resume continues a run with the options in its run.json: an option given on the
    command line that differs from them (other than --epochs, which extends a run) is an
    error rather than silently ignored."""
    defaults = _train_options(build_parser().parse_args(["train"]))
    given = {key: value for key, value in _train_options(args).items()
             if value != defaults[key] and key != "epochs"}
    other = {key: value for key, value in given.items()
             if options.get(key, defaults[key]) != value}
    if other:
        listed = ", ".join(f"{key} {value!r} (the run has {options.get(key, defaults[key])!r})"
                           for key, value in other.items())
        raise TrainingError(f"--resume continues {out} with the options it was started with "
                            f"(run.json); these differ: {listed}. Only --epochs may change")


def _train(args) -> int:
    from .runs import make_trainer, read_run_options
    if args.folds is not None:
        return _train_folds(args)
    out = Path(args.out or Path("runs") / "train")
    if args.resume:
        options = read_run_options(out)[1] if (out / "run.json").exists() \
            else _train_options(args)
        _refuse_other_options(args, options, out)
        extended = args.epochs is not None and args.epochs != options.get("epochs")
        if extended:  # train a run further (checked against its checkpoint by the trainer)
            options["epochs"] = args.epochs
    else:
        options, extended = _train_options(args), False
    trainer = make_trainer(options, out, resume=args.resume)
    if extended:
        (out / "run.json").write_text(json.dumps(options, indent=2) + "\n")
    try:
        records = trainer.fit()
    except KeyboardInterrupt:
        print(f"sbp-brian: interrupted; the last checkpoint in {out} is kept: continue with "
              f"`sbp-brian train --resume --out {out}`", file=sys.stderr)
        return 130
    finally:
        trainer.close()
    last = records[-1] if records else None
    if last:
        print(json.dumps({"out": str(out), **last}, indent=2))
    return 0


def _train_folds(args) -> int:
    """``train --folds N``: one run per fold of a stratified N-fold cross-validation over all
    samples (``OUT/fold1`` ..), then the folds' final test accuracies, their mean and SD, in
    ``OUT/folds.json``.  ``--resume`` continues the folds that have a checkpoint."""
    from .runs import make_trainer, read_metrics
    if args.folds < 2:
        raise TrainingError(f"--folds must be at least 2, got {args.folds}")
    out = Path(args.out or Path("runs") / "train")
    accuracies = []
    for k in range(args.folds):
        folder = out / f"fold{k + 1}"
        options = {**_train_options(args), "fold": k, "folds": args.folds}
        trainer = make_trainer(options, folder, resume=args.resume and
                               (folder / CHECKPOINT_NAME).exists())
        try:
            trainer.fit()
        except KeyboardInterrupt:
            print(f"sbp-brian: interrupted; the checkpoints in {out} are kept: continue with "
                  f"`sbp-brian train --folds {args.folds} --resume --out {out}` and the same "
                  "options", file=sys.stderr)
            return 130
        finally:
            trainer.close()
        accuracies.append(read_metrics(folder)[-1]["test_accuracy"])
        print(f"fold {k + 1}/{args.folds}: test {accuracies[-1]:.4f}", flush=True)
    summary = {"out": str(out), "folds": args.folds, "accuracies": accuracies,
               "mean": float(np.mean(accuracies)), "sd": float(np.std(accuracies, ddof=1))}
    (out / "folds.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


def _evaluate(args) -> int:
    from .runs import evaluate_run
    print(json.dumps(evaluate_run(args.checkpoint, args.device), indent=2))
    return 0


def _probe(args) -> int:
    from .probe import linear_probe
    try:
        result = linear_probe(args.run, args.train_samples, args.test_samples, args.device,
                              progress=True)
    except ValueError as err:
        raise TrainingError(str(err)) from err
    print(json.dumps(result, indent=2))
    return 0


def _baselines(args) -> int:
    from .probe import baselines
    options = {"model": args.model, "dataset": args.dataset, "data_dir": args.data_dir,
               "samples": args.samples, "test_samples": args.test_samples,
               "validation": args.validation, "device": args.device}
    # progress on stderr, so that stdout is the JSON alone
    result = baselines(options, args.seeds, progress=True,
                       log=lambda line: print(line, file=sys.stderr))
    text = json.dumps({"options": {k: v for k, v in options.items() if v is not None},
                       "seeds": args.seeds, **result}, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


def _cost(args) -> int:
    from .runs import computational_cost, operations_per_sample, read_metrics
    a, b = read_metrics(args.run_a), read_metrics(args.run_b)
    config = json.loads((Path(args.run_a) / "config.json").read_text())["config"]
    operations = operations_per_sample(config)
    result = computational_cost([1 - r["test_accuracy"] for r in a],
                                [1 - r["test_accuracy"] for r in b], operations)
    print(json.dumps({"run_a": args.run_a, "run_b": args.run_b,
                      "operations_per_sample": operations, **result}, indent=2))
    return 0


def _figure_path(text: str) -> str:
    """``plot --out``: a name ending in .png, .svg or nothing (both files are written)."""
    if Path(text).suffix not in ("", ".png", ".svg"):
        raise argparse.ArgumentTypeError(
            f"{text!r}: the figure is written as .png and .svg; give a name ending in .png, "
            ".svg or neither")
    return text


def _plot(args) -> int:
    from .plotting import plot_accuracy_curves, save_figure
    import matplotlib.pyplot as plt
    from .runs import read_metrics
    fig, ax = plt.subplots(figsize=(5, 3.5))
    plot_accuracy_curves({run: read_metrics(run) for run in args.runs}, axes=ax)
    out = Path(args.out)
    save_figure(fig, out.parent, out.stem)
    print(f"wrote {out.parent / out.stem}.png/.svg")
    return 0


def _spread(sd: float | None, spec: str) -> str:
    """``+- SD``, or ``(1 seed)`` where there is no spread to report."""
    return "(1 seed)" if sd is None else f"+- {sd:{spec}}"


def _p(p: float | None) -> str:
    return "p undefined" if p is None else f"p = {p:.3f}"


def _sweep(args) -> int:
    from .sweeps import load_sweep, run_sweep
    rows = run_sweep(load_sweep(args.file), args.out, scheduler=args.scheduler,
                     workers=args.workers)
    failed = list(dict.fromkeys(row["point"] for row in rows if row["status"] == "failed"))
    print(f"sbp-brian: {len(rows) - len(failed)} of {len(rows)} points done; table in "
          f"{Path(args.out) / 'results.csv'}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def _compare(args) -> int:
    from .runs import compare
    options = _train_options(args)
    options.pop("seed")
    if args.seeds is None and args.final:
        raise TrainingError("compare --final: give the seeds (--seeds S ...), fixed before "
                            "any run")
    results = compare(options, args.seeds or [0, 1, 2], args.out or Path("runs") / "compare",
                      jobs=args.jobs, variants=args.variants, models=args.models)
    against = (f"vs {next(iter(results))}" if args.models else "vs control")
    tests = "vs_reference" if args.models else "vs_control"
    print(f"{'variant':26s} {'test accuracy (mean +- SD)':28s} "
          f"{against + ' (paired by seed)':44s} cost reduction vs without SBP")
    for variant, r in results.items():
        cost = r.get("cost_vs_without_sbp")
        cost_text = (f"{cost['mean_reduction']:+.0%} {_spread(cost['sd_reduction'], '.0%')}"
                     if cost and cost["mean_reduction"] is not None else
                     "undefined (error curves do not overlap)" if cost else "")
        test = r.get(tests)
        test_text = "" if test is None else f"{test['difference']:+.4f}, " + ", ".join(
            f"{name} {_p(test[key])}" for name, key in (("t-test", "paired_p"),
                                                        ("Wilcoxon", "wilcoxon_p"),
                                                        ("Holm", "holm_p")))
        print(f"{variant:26s} {r['mean']:.4f} {_spread(r['sd'], '.4f'):19s} {test_text:44s} "
              f"{cost_text}")
    return 0


def _bench(args) -> int:
    from .bench import benchmark_suite
    try:
        result = benchmark_suite(ways=args.ways, sizes=args.sizes, durations=args.durations,
                                 chunk=args.chunk, n_chunks=args.chunks, out=args.out,
                                 profile=args.profile, copies=args.copies)
    except (ValueError, RuntimeError) as err:
        raise TrainingError(str(err)) from err
    print(f"{'way':12s} {'T':>6s} {'samples/s':>10s} {'compiled is':>12s} {'python MB':>9s} "
          f"{'binary MB':>9s} {'compile s':>9s}")  # compile: or first sample
    for r in result["runs"]:
        ratio = r["speedup_of_compiled"]
        print(f"{r['way']:12s} {r['sample_duration_ms']:5g}ms {r['samples_per_second_median']:10.1f} "
              f"{f'{ratio:.1f}x' if ratio else '--':>12s} {r['peak_rss_python_mb']:9.0f} "
              f"{r['peak_rss_binary_mb'] or 0:9.0f} "
              f"{r['compile_or_first_sample_seconds']:9.1f}")
    for r in result["hidden_size_scaling"]:
        print(f"compiled 784-{r['n_hidden']}-10: {r['samples_per_second_median']:.1f} samples/s, "
              f"{r['hidden_spikes_per_neuron_per_sample']:.2f} hidden spikes/neuron/sample, "
              f"{r['synaptic_events_per_sample'] / 1e6:.2f} M synaptic events/sample, "
              f"{r['ns_per_synaptic_event']:.1f} ns per event")
    for r in result["runs"]:
        for name, seconds, percent in r["profile (code object, seconds, % of all)"] or []:
            print(f"  profile {r['way']} T={r['sample_duration_ms']:g} ms: {name:40s} "
                  f"{seconds:7.2f} s {percent:5.1f} %")
    for way, why in result["skipped"].items():
        print(f"{way}: skipped ({why})")
    if args.out:
        print(f"wrote {args.out} and {Path(args.out).with_suffix('.png')}")
    return 0


def _docs(args) -> int:
    from .docs import regenerate
    problems = regenerate(args.root, check=args.check)
    for problem in problems:
        print(f"sbp-brian docs: {problem}", file=sys.stderr)
    if not problems:
        print("README.md and docs/: every generated part is up to date" if args.check else
              "README.md and docs/: generated parts rewritten from their data")
    return 1 if problems else 0


def _add_training_options(parser) -> None:
    parser.add_argument("model", nargs="?", help="model file or bundled model name "
                        "(default sbp_digits)")
    parser.add_argument("--dataset", default="digits",
                        help="digits, iris, xor, xor2, fashion-mnist, mnist, nettalk, "
                        "dvsgesture, dvsgesture-released or npz:PATH")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="folder with the data set's files: IDX files (mnist, "
                        "fashion-mnist), nettalk.data (nettalk), the DvsGesture folder "
                        "(dvsgesture); docs/data.md")
    parser.add_argument("--no-sbp", action="store_true", help="local STDP only (the baseline)")
    parser.add_argument("--freeze-hidden", action="store_true",
                        help="input weights frozen (the control)")
    parser.add_argument("--sbp-mode", choices=("paper", "spread", "weighted"),
                        help="the SBP reading: paper (Eqs. 13-15), spread, weighted (ours) "
                             "(default: the model file's [sbp] mode)")
    parser.add_argument("--p", type=float, help="SBP proportional factor p in [0.1, 1] "
                        "(default: the model file's)")
    parser.add_argument("--f", type=float, help="SBP fraction factor f in [0.1, 1] "
                        "(default: the model file's)")
    parser.add_argument("--epochs", type=int, help="passes over the training set (default: "
                        "the model file's [training] epochs)")
    parser.add_argument("--stdp-scale", type=float, metavar="S",
                        help="multiply the input synapses' learning rate (eta_in) by S; "
                             "--no-sbp --stdp-scale 0.7 is the learning-rate-matched control of "
                             "SBP \"paper\", whose gain averages f (1 + p/N_hidden), within "
                             "0.1 %% of f = 0.7 in the bundled models")
    parser.add_argument("--batch-size", type=int, metavar="B",
                        help="mini-batch SBP: sum B samples' changes with frozen weights, then "
                             "update (default 1: the paper's per-sample rule)")
    parser.add_argument("--samples", type=int, metavar="N",
                        help="use the first N training samples")
    parser.add_argument("--test-samples", type=int, metavar="N",
                        help="use the first N test samples")
    parser.add_argument("--validation", type=float, metavar="FRACTION",
                        help="evaluate on a validation split of the training set (tuning): "
                             "this fraction of each class, 0 < FRACTION < 1")
    parser.add_argument("--final", action="store_true",
                        help="the final measurement on the test set, recorded in run.json "
                             "(compare: its seeds and variants fixed in plan.json before any "
                             "run); without it a run on the test set is exploratory. Refused "
                             "with --validation")
    parser.add_argument("--device", default="cpp", choices=TARGETS,
                        help="cpp (compiled, the fast path), cuda (brian2cuda where a GPU "
                             "works), or the runtime reference, numpy or cython")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="OpenMP threads for --device cpp, BLAS threads of the batched numpy "
                             "kinds (default 1: fastest on 2 cores; a seeded batched run then "
                             "does not depend on OMP_NUM_THREADS)")
    parser.add_argument("--copies", type=int, metavar="C",
                        help="simulate C network copies side by side, each on its own sample "
                             "(for GPUs; mini-batch SBP: needs --batch-size a multiple of C)")
    parser.add_argument("--out", metavar="DIR", help="run folder")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sbp-brian", description="Plasticity-based learning in spiking networks (Brian2).",
        epilog="Exit codes: 0 done, 1 `docs --check` found pages out of date, 2 bad input (one "
               "line naming the problem), 130 interrupted.")
    commands = parser.add_subparsers(dest="command", required=True)
    doctor = commands.add_parser("doctor", help="report which code-generation targets work here")
    doctor.set_defaults(func=_doctor)
    models = commands.add_parser("models", help="list bundled model files or validate files")
    models.add_argument("files", nargs="*", help="model files to validate")
    models.set_defaults(func=_models)
    protocol = commands.add_parser("protocol", help="run a plasticity protocol")
    protocol.add_argument("name", help=f"one of: {', '.join(protocol_names())}")
    protocol.add_argument("--out", help="output folder (default runs/NAME)")
    protocol.add_argument("--device", choices=TARGETS,
                          help="code-generation target (default: the protocol's own)")
    protocol.set_defaults(func=_protocol)
    figures = commands.add_parser("figures", help="regenerate all protocol figures into figures/")
    figures.add_argument("--out", default="figures", help="output folder (default figures)")
    figures.add_argument("--only", nargs="+", metavar="NAME", help="only these protocols")
    figures.add_argument("--device", choices=TARGETS, help="force one target for all protocols")
    figures.set_defaults(func=_figures)
    train = commands.add_parser("train", help="train a network (fast path: cpp_standalone)")
    _add_training_options(train)
    train.add_argument("--seed", type=int, help="random seed (default: the model file's "
                       "[simulation] seed)")
    train.add_argument("--resume", action="store_true",
                       help="continue from OUT/checkpoint.npz (with a larger --epochs: train "
                            "a finished run further)")
    train.add_argument("--folds", type=int, metavar="K",
                       help="K-fold cross-validation over all samples (stratified; the BP-STDP "
                            "paper's Iris protocol): one run per fold in OUT/fold1.., their "
                            "mean and SD in OUT/folds.json")
    train.set_defaults(func=_train)
    evaluate = commands.add_parser("evaluate", help="test accuracy of a run's checkpoint")
    evaluate.add_argument("checkpoint", help="run folder or its checkpoint.npz")
    evaluate.add_argument("--device", choices=TARGETS,
                          help="code-generation target (default: the run's own)")
    evaluate.set_defaults(func=_evaluate)
    probe = commands.add_parser(
        "probe", help="linear probe of a run's hidden spike counts against its spiking readout")
    probe.add_argument("run", help="run folder")
    probe.add_argument("--train-samples", type=int, metavar="N",
                       help="training images for the probe's fit (default 3000, or all of "
                            "the run's if it trains on fewer)")
    probe.add_argument("--test-samples", type=int, metavar="N",
                       help="first N test images (default all)")
    probe.add_argument("--device", choices=TARGETS,
                       help="code-generation target (default: the run's own)")
    probe.set_defaults(func=_probe)
    base = commands.add_parser(
        "baselines", help="linear baselines of a data set's split: logistic regression on the "
                          "pixels and on an untrained random hidden layer's spike counts")
    base.add_argument("model", nargs="?", help="model file or bundled model name (default "
                      "sbp_digits): its untrained hidden layer")
    base.add_argument("--dataset", default="digits",
                      help="digits, iris, xor, fashion-mnist, mnist, nettalk, dvsgesture or "
                      "npz:PATH")
    base.add_argument("--data-dir", metavar="DIR",
                      help="folder with the data set's files (docs/data.md)")
    base.add_argument("--samples", type=int, metavar="N", help="use the first N training samples")
    base.add_argument("--test-samples", type=int, metavar="N",
                      help="use the first N test samples")
    base.add_argument("--validation", type=float, metavar="FRACTION",
                      help="score on a validation split of the training set, as train does")
    base.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], metavar="S",
                      help="initial-weight seeds of the random hidden layer")
    base.add_argument("--device", default="cpp", choices=TARGETS,
                      help="code-generation target of the hidden layer's simulation")
    base.add_argument("--out", metavar="FILE", help="also write the JSON to FILE")
    base.set_defaults(func=_baselines)
    cost = commands.add_parser("cost", help="the SBP paper's computational cost of two runs")
    cost.add_argument("run_a", help="run without SBP (folder)")
    cost.add_argument("run_b", help="run with SBP (folder)")
    cost.set_defaults(func=_cost)
    plot = commands.add_parser("plot", help="accuracy curves of runs on one plot")
    plot.add_argument("runs", nargs="+", help="run folders")
    plot.add_argument("--out", default="accuracy.png", type=_figure_path,
                      help="figure path; written as .png and .svg (default accuracy.png)")
    plot.set_defaults(func=_plot)
    compare = commands.add_parser("compare", help="control, without SBP and the SBP modes, "
                                  "same seeds and budget")
    _add_training_options(compare)
    compare.add_argument("--seeds", type=int, nargs="+", metavar="S",
                         help="seeds: one run per variant and seed (default 0 1 2; with "
                              "--final they must be given)")
    compare.add_argument("--variants", nargs="+", choices=list(VARIANT_KEYS),
                         metavar="VARIANT",
                         help=f"only these ({', '.join(VARIANT_KEYS)}; default all); finished "
                              "runs in OUT are kept, so a comparison can be made in parts")
    compare.add_argument("--models", nargs="+", metavar="MODEL",
                         help="compare these models instead of one model's SBP variants, "
                              "each trained by its own rule for --epochs N, every one against "
                              "the first (MODEL:VARIANT trains an SBP model as one of its "
                              "variants, e.g. sbp_fashion:control)")
    compare.add_argument("--jobs", type=int, default=1, metavar="N",
                         help="train N runs at a time, as a sweep on N Dask worker processes "
                              "(default 1; up to one per CPU core)")
    compare.set_defaults(func=_compare)
    sweep = commands.add_parser(
        "sweep", help="train a grid of model-file values and seeds as Dask tasks (a sweep file)")
    sweep.add_argument("file", help="sweep file (TOML: [sweep] and [axes])")
    sweep.add_argument("--out", required=True, metavar="DIR",
                       help="sweep folder: one run folder per point, results.csv")
    sweep.add_argument("--scheduler", metavar="ADDRESS",
                       help="a running Dask scheduler (e.g. tcp://host:8786); default: a local "
                            "cluster of --workers processes")
    sweep.add_argument("--workers", type=int, default=2, metavar="N",
                       help="worker processes of the local cluster (default 2)")
    sweep.set_defaults(func=_sweep)
    bench = commands.add_parser(
        "bench", help="training samples/s of the SBP workload (784-N-10), every way to run it, "
                      "and of BP-STDP's (784-500-10)")
    bench.add_argument("--ways", nargs="+", default=list(WAYS), choices=WAYS,
                       help=f"which ways ({', '.join(WAYS)}; default all)")
    bench.add_argument("--sizes", type=int, nargs="*", default=[100, 500, 1000, 2000],
                       help="hidden sizes for the compiled way (default 100 500 1000 2000)")
    bench.add_argument("--durations", type=float, nargs="+", default=[50.0],
                       help="sample durations T in ms (default 50)")
    bench.add_argument("--chunk", type=int, default=None, help="samples per timed chunk")
    bench.add_argument("--chunks", type=int, default=None, help="timed chunks per way")
    bench.add_argument("--out", default="bench/results.json")
    bench.add_argument("--copies", type=int, default=DEFAULT_COPIES,
                       help="network copies of the copies ways (default %(default)s; a divisor "
                            "of the chunk)")
    bench.add_argument("--profile", action="store_true",
                       help="Brian2's per-code-object timers in the compiled way (a few %% slower)")
    bench.set_defaults(func=_bench)
    docs = commands.add_parser(
        "docs", help="rewrite the tables of README.md and docs/ from the artifacts, the model-"
                     "file schema and the command-line options")
    docs.add_argument("--check", action="store_true",
                      help="only report the pages whose generated parts differ (exit code 1)")
    docs.add_argument("--root", default=".", help="the repository (default: this folder)")
    docs.set_defaults(func=_docs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with interrupts_stop_at_once():
            return args.func(args)
    except KeyboardInterrupt:
        print("sbp-brian: interrupted", file=sys.stderr)
        return 130
    except (ParameterError, TargetError, TrainingError, DatasetError, ResultsError,
            FileNotFoundError, SweepError) as err:
        print(f"sbp-brian: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
