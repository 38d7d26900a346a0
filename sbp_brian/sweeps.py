"""Sweeps: many trainings over a grid of model-file values and seeds, run as Dask tasks.

A sweep file (TOML) names a model file, a data set, a training budget and the axes to vary::

    [sweep]
    model = "sbp_digits"
    dataset = "digits"
    epochs = 3

    [axes]
    "sbp.p" = [0.1, 0.4, 0.7, 1.0]
    "sbp.f" = [0.1, 0.4, 0.7, 1.0]
    seed = [0, 1, 2]

An axis is a model-file key written as its dotted path (``"sbp.p"``,
``"neurons.hidden.tau_m"``, ``"synapses.input_hidden.stdp.A_plus"``, ``"rule.name"``), a
``seed`` or a ``variant`` (a key of :data:`sbp_brian.runs.VARIANT_KEYS`).  Every point of the
grid is an ordinary run folder under ``DIR/points/`` with its own model file (the sweep's,
with the point's values; ``sbp-brian evaluate``, ``plot`` and ``train --resume`` work on it).
Every point's model file is written and checked before anything runs, so an unknown key, an
empty axis or a value outside its key's range is refused at once, by name.

Points run as tasks on a Dask cluster (:mod:`dask.distributed`): a ``LocalCluster`` of
``workers`` single-threaded worker processes on the loopback address by default, or any
running scheduler given by address (one started by ``dask-jobqueue`` on SLURM, or
``dask scheduler`` and ``dask worker`` by hand; its workers must see ``DIR``).  A worker trains
one point at a time.  A rerun skips finished points and resumes unfinished ones from their
checkpoints; a point that fails is recorded with its error and the others go on.
``DIR/results.csv`` has one row per point: its axes, status, final and best test accuracy,
samples/s, wall time, whether its compiled project was built or restored from the project
cache, its worker, and the error.
"""
from __future__ import annotations

import csv
import itertools
import json
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Sweep", "SweepError", "load_sweep", "run_sweep", "train_point", "RESULTS"]

#: the table of a sweep's points, in its folder
RESULTS = "results.csv"
#: keys of ``[sweep]``: the training options every point shares (those of ``sbp-brian train``)
SWEEP_KEYS = {"model": str, "dataset": str, "data_dir": str, "epochs": int, "samples": int,
              "test_samples": int, "validation": float, "device": str}
#: axes that are options of a run, not model-file keys
RUN_AXES = ("seed", "variant")
#: what a point's training recorded about itself (its project, worker, wall time), in its folder
POINT_RECORD = "sweep_point.json"


class SweepError(ValueError):
    """A sweep file is malformed, or one of its points' model files is refused."""


@dataclass
class Sweep:
    """A sweep file, read: the shared options and the axes (name -> values)."""

    path: Path
    options: dict
    axes: dict
    #: the model file's contents, which every point's model file changes by its values
    base: dict = field(default_factory=dict, repr=False)

    @property
    def model_axes(self) -> list:
        """The axes that are model-file keys (none: every point trains the model as it is)."""
        return [axis for axis in self.axes if axis not in RUN_AXES]

    def points(self) -> list[dict]:
        """Every combination of the axes' values, the first axis varying slowest."""
        names = list(self.axes)
        return [dict(zip(names, values)) for values in itertools.product(*self.axes.values())]

    def run_point(self, point: dict) -> dict:
        """The run that gives ``point`` its result: the point without the axes its variant
        ignores.  A variant that switches SBP off (without SBP, the control) ignores the
        rule's SBP keys (:attr:`~sbp_brian.rules.base.Rule.sbp_keys`), so the without-SBP
        runs of a p x f grid are one run per seed, shared by every cell, not one per cell."""
        from .rules import RULES
        from .runs import VARIANT_KEYS, VARIANTS
        variant = point.get("variant")
        if variant is None or not VARIANTS[VARIANT_KEYS[variant]].get("no_sbp"):
            return point
        rule = RULES.get(point.get("rule.name", self.base.get("rule", {}).get("name", "sbp")))
        ignored = set(rule.sbp_keys) if rule is not None else set()
        return {axis: value for axis, value in point.items() if axis not in ignored}


def point_name(point: dict) -> str:
    """A point's folder name, e.g. ``sbp.p=0.4,sbp.f=0.7,seed=0``."""
    return ",".join(f"{axis}={value}" for axis, value in point.items()).replace("/", "_")


def load_sweep(path) -> Sweep:
    """Read and check a sweep file (module docstring); errors name the file and the key."""
    from .model_files import bundled_models
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise SweepError(f"{path}: cannot read the sweep file: {err}") from None
    unknown = set(data) - {"sweep", "axes"}
    if unknown or "sweep" not in data or "axes" not in data:
        raise SweepError(f"{path}: a sweep file has the tables [sweep] and [axes]"
                         + (f", not {sorted(unknown)}" if unknown else ""))
    options = dict(data["sweep"])
    for key, value in options.items():
        expected = SWEEP_KEYS.get(key)
        if expected is None:
            raise SweepError(f"{path}: [sweep] {key} is not a sweep option; expected one of "
                             f"{', '.join(SWEEP_KEYS)}")
        if not isinstance(value, expected) or isinstance(value, bool):
            raise SweepError(f"{path}: [sweep] {key} must be a {expected.__name__}, got {value!r}")
    if "model" not in options:
        raise SweepError(f"{path}: [sweep] needs model (a model file or a bundled model's name)")
    model = Path(options["model"])
    if not model.is_absolute() and (path.parent / model).exists():
        model = path.parent / model  # a model file beside the sweep file
    elif str(options["model"]) in bundled_models():
        model = bundled_models()[str(options["model"])]
    if not model.exists():
        raise SweepError(f"{path}: [sweep] model {options['model']!r}: no such file or bundled "
                         "model")
    options["model"] = str(model)
    options.setdefault("epochs", budget_epochs(model))
    axes = {}
    for name, values in data["axes"].items():
        if not isinstance(values, list) or not values:
            raise SweepError(f"{path}: axis {name!r} must be a non-empty list of values")
        axes[name] = values
    if not axes:
        raise SweepError(f"{path}: [axes] is empty")
    sweep = Sweep(path, options, axes, tomllib.loads(model.read_text()))
    _check_points(sweep)
    return sweep


def budget_epochs(model) -> int:
    """The epochs a run of ``model`` trains when none are given: its ``[training] epochs``."""
    from .model_files import load_model
    from .sections import SECTIONS
    training = load_model(model).sections.get("training", {})
    return training.get("epochs", SECTIONS["training"].params["epochs"].default)


def _check_points(sweep: Sweep) -> None:
    """Write no file, but build and load every point's model file: unknown keys, wrong units
    and values out of range are refused now, naming the axis."""
    import tempfile

    from .model_files import ModelFileError, load_model
    from .runs import VARIANT_KEYS
    for value in sweep.axes.get("variant", []):
        if value not in VARIANT_KEYS:
            raise SweepError(f"{sweep.path}: axis 'variant': {value!r} is not one of "
                             f"{', '.join(VARIANT_KEYS)}")
    for value in sweep.axes.get("seed", []):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SweepError(f"{sweep.path}: axis 'seed': {value!r} is not a seed (an integer "
                             ">= 0)")
    model_axes = sweep.model_axes
    with tempfile.TemporaryDirectory() as folder:
        for values in itertools.product(*(sweep.axes[a] for a in model_axes)):
            point = dict(zip(model_axes, values))
            text = model_text(sweep.base, point, sweep.path)
            check = Path(folder) / "model.toml"
            check.write_text(text)
            try:
                load_model(check)
            except ModelFileError as err:
                where = ", ".join(f"{a} = {v!r}" for a, v in point.items())
                raise SweepError(f"{sweep.path}: the point {where}: "
                                 f"{str(err).replace(str(check) + ': ', '')}") from None


def model_text(base: dict, point: dict, where) -> str:
    """The model file (TOML text) of ``base`` with the point's model-file values."""
    import copy

    import tomli_w
    data = copy.deepcopy(base)
    for axis, value in point.items():
        *tables, key = axis.split(".")
        if not tables:
            raise SweepError(f"{where}: axis {axis!r} is neither a model-file key "
                             "(SECTION.KEY, e.g. sbp.p) nor one of " + ", ".join(RUN_AXES))
        node = data
        for name in tables:
            node = node.setdefault(name, {})
            if not isinstance(node, dict):
                raise SweepError(f"{where}: axis {axis!r}: {name} is not a table of the model "
                                 "file")
        current = node.get(key)
        if isinstance(current, dict) or (current is None and not isinstance(value, (str, bool))):
            node[key] = {"value": value, "source": f"sweep axis {axis} ({Path(where).name})"}
        else:  # an option (a string or a switch), written as it is
            node[key] = value
    return tomli_w.dumps(data)


def finished(folder: Path, epochs: int) -> dict | None:
    """The summary of a point whose run has trained ``epochs`` epochs, else ``None``."""
    from .runs import read_metrics
    if not (Path(folder) / "metrics.jsonl").exists():
        return None
    records = read_metrics(folder)
    if not records or records[-1]["epoch"] < epochs:
        return None
    accuracies = [r["test_accuracy"] for r in records]
    record = Path(folder) / POINT_RECORD  # kept for a rerun's table
    return {"final_accuracy": accuracies[-1], "best_accuracy": max(accuracies),
            "epochs": records[-1]["epoch"],
            "samples_per_second": records[-1].get("samples_per_second"),
            **(json.loads(record.read_text()) if record.exists() else {})}


def train_point(options: dict, folder: str, prefix: str | None = None) -> dict:
    """Train (or resume) one point's run in ``folder``; its summary.  Runs in a Dask worker,
    one training at a time per worker process.  With ``prefix``, a line per epoch (and one at
    the start) is printed to the worker's standard output."""
    from distributed import get_worker

    from .runs import make_trainer
    start = time.perf_counter()
    resume = (Path(folder) / "checkpoint.npz").exists()
    trainer = make_trainer(options, folder, resume=resume, progress=False)
    if prefix is not None:
        trainer.log = lambda text: print(f"{prefix}: {text}", flush=True)
        trainer.log("resumed" if resume else "started")
    try:
        trainer.fit()
        runner = trainer._runner
        # a compiled project built here, or restored from the project cache
        compiled = getattr(runner, "compiled", hasattr(runner, "cache_hit"))
        project = "none" if not compiled else "from cache" if runner.cache_hit else "built"
    finally:
        trainer.close()
    record = {"compiled_project": project, "worker": get_worker().address,
              "wall_seconds": round(time.perf_counter() - start, 2)}
    (Path(folder) / POINT_RECORD).write_text(json.dumps(record) + "\n")
    return finished(Path(folder), options["epochs"])


def _brian2_import_plugin():
    """A Dask worker plugin that imports Brian2 in the worker's main thread before any task:
    its import installs a Ctrl-C handler, which Python allows only there (tasks run in other
    threads)."""
    from distributed import WorkerPlugin

    class ImportBrian2(WorkerPlugin):
        name = "sbp-brian-import-brian2"

        def setup(self, worker):
            import brian2  # noqa: F401

    return ImportBrian2()


def _point_options(sweep: Sweep, point: dict, folder: Path) -> dict:
    """A run's options; ``point``: a run point (:meth:`Sweep.run_point`)."""
    from .runs import VARIANT_KEYS, VARIANTS
    options = dict(sweep.options)
    if sweep.model_axes:
        model = folder / "model.toml"
        if not model.exists():
            folder.mkdir(parents=True, exist_ok=True)
            model.write_text(model_text(
                sweep.base, {a: v for a, v in point.items() if a not in RUN_AXES}, sweep.path))
        options["model"] = str(model)
    if "seed" in point:
        options["seed"] = point["seed"]
    if "variant" in point:
        options.update(VARIANTS[VARIANT_KEYS[point["variant"]]])
    return options


def run_sweep(sweep: Sweep, out_dir, scheduler: str | None = None, workers: int = 2,
              progress: bool = True, log=print, folder_of=None, prefix_of=None,
              figures: bool = True) -> list[dict]:
    """Run every point not finished yet (module docstring); returns the table's rows and
    writes ``out_dir/results.csv`` (and the figures of :func:`plot_sweep`).  ``folder_of``:
    a point's run folder (default ``out_dir/points/NAME``); ``prefix_of``: the prefix of a
    point's lines per epoch (default: none)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    points = sweep.points()
    # runs by name: points that differ only in axes their variant ignores share one
    run_names = [point_name(sweep.run_point(p)) for p in points]
    runs = {name: sweep.run_point(p) for name, p in zip(run_names, points)}
    folders = {name: Path(folder_of(run)) if folder_of else out_dir / "points" / name
               for name, run in runs.items()}
    results = {name: {} for name in runs}
    pending = []
    for name, run in runs.items():
        done = finished(folders[name], sweep.options["epochs"])
        if done is None:
            pending.append(run)
        else:  # a rerun keeps what is finished
            results[name].update(status="done earlier", **done, error="")
    if scheduler is None and workers < 1:
        raise SweepError(f"--workers must be at least 1, got {workers}")
    if pending:
        _run_points(sweep, pending, len(runs), folders, results, scheduler, workers, progress,
                    log, prefix_of)
    else:
        log(f"[sweep] all {len(runs)} runs finished earlier")
    table = [{"point": name, **p, **results[name]} for name, p in zip(run_names, points)]
    write_results(out_dir / RESULTS, table, list(sweep.axes))
    if figures:
        plot_sweep(out_dir, sweep, table)
    (out_dir / "sweep.json").write_text(json.dumps(
        {"sweep": str(sweep.path), "options": sweep.options, "axes": sweep.axes,
         "rows": table}, indent=1) + "\n")
    return table


#: the Dask setting that unsets, in the workers a nanny starts, the glibc malloc variable Dask
#: sets there by default: with it, every large numpy temporary is mapped and unmapped again
#: (the released algorithm trained 5.7 times more slowly in a worker than in a shell)
KEEP_MALLOC_DEFAULTS = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


def local_cluster(workers: int):
    """A ``LocalCluster`` of ``workers`` single-threaded worker processes on the loopback
    address, with glibc's own memory settings (:data:`KEEP_MALLOC_DEFAULTS`)."""
    import dask
    from dask.distributed import LocalCluster
    with dask.config.set(KEEP_MALLOC_DEFAULTS):
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                            host="127.0.0.1", dashboard_address="127.0.0.1:0")


def _run_points(sweep: Sweep, pending: list, n_runs: int, folders: dict, rows: dict, scheduler,
                workers: int, progress: bool, log, prefix_of) -> None:
    """Train the pending runs (of ``n_runs``) as Dask tasks, recording each one's summary or
    error in ``rows`` (by run name)."""
    from dask.distributed import Client, as_completed
    from tqdm import tqdm

    cluster = None if scheduler is not None else local_cluster(workers)
    client = Client(cluster if cluster is not None else scheduler)
    try:
        client.register_plugin(_brian2_import_plugin())
        log(f"[sweep] {len(pending)} of {n_runs} runs to train "
            f"({n_runs - len(pending)} finished earlier), "
            f"{len(client.scheduler_info()['workers'])} workers; dashboard: "
            f"{client.dashboard_link}")
        futures = {}
        for point in pending:
            name = point_name(point)
            options = _point_options(sweep, point, folders[name])
            futures[client.submit(train_point, options, str(folders[name]),
                                  prefix_of(point) if prefix_of else None,
                                  key=f"point-{name}", pure=False)] = name
        bar = tqdm(total=len(futures), unit="run", disable=not progress, dynamic_ncols=True)
        for future in as_completed(futures):
            name = futures[future]
            try:
                rows[name].update(status="done", **future.result(), error="")
            except Exception as error:  # a bad value, a crash, a killed worker: recorded
                rows[name].update(status="failed", error=f"{type(error).__name__}: {error}")
                log(f"[sweep] {name} failed: {rows[name]['error']}")
            bar.update(1)
        bar.close()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _label(point: dict) -> str:
    return ", ".join(f"{axis} {value}" for axis, value in point.items()) or "all points"


def _numeric(values: list) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def plot_sweep(out_dir, sweep: Sweep, rows: list[dict]) -> list:
    """The figures of a sweep's finished points, in ``out_dir``: accuracy curves (mean +- SD
    over seeds per combination of the other axes; up to 16 of them), the map of the final
    accuracy over the first two numeric model-file axes (the SBP paper's Fig. 4B; one panel
    per combination of the other axes, seeds averaged) and, with a ``variant`` axis that has
    ``without-sbp``, each variant's map minus that of the without-SBP runs (cell by cell, the
    same seeds) and the SBP paper's cost (Eq. 1) against them.  Returns the files written."""
    import matplotlib.pyplot as plt
    import numpy as np

    from .plotting import plot_accuracy_map, plot_comparison, save_figure
    from .runs import computational_cost, read_metrics
    out_dir = Path(out_dir)
    done = [r for r in rows if r.get("status", "").startswith("done")]
    if not done:
        return []
    curve = {r["point"]: [m["test_accuracy"]
                          for m in read_metrics(out_dir / "points" / r["point"])] for r in done}
    others = [a for a in sweep.axes if a != "seed"]
    groups: dict = {}
    for r in done:
        groups.setdefault(tuple((a, r[a]) for a in others), []).append(r)
    paths = []
    if len(groups) <= 16:
        fig, ax = plt.subplots(figsize=(6, 4))
        plot_comparison({_label(dict(key)): [curve[r["point"]] for r in group]
                         for key, group in groups.items()}, axes=ax, title=sweep.path.name)
        fig.tight_layout()
        paths += save_figure(fig, out_dir, "accuracy_curves")
    numeric = [a for a in sweep.axes if a not in RUN_AXES and _numeric(sweep.axes[a])]
    baseline = "variant" in sweep.axes and "without-sbp" in sweep.axes["variant"]
    if len(numeric) >= 2:
        y_axis, x_axis = numeric[:2]
        panel_axes = [a for a in others if a not in (x_axis, y_axis)]
        panels: dict = {}
        for r in done:
            key = tuple((a, r[a]) for a in panel_axes)
            cell = (sweep.axes[y_axis].index(r[y_axis]), sweep.axes[x_axis].index(r[x_axis]))
            panels.setdefault(key, {}).setdefault(cell, []).append(r["final_accuracy"])
        shape = (len(sweep.axes[y_axis]), len(sweep.axes[x_axis]))

        def grid(cells: dict):
            out = np.full(shape, np.nan)
            for (i, j), values in cells.items():
                out[i, j] = 100 * np.mean(values)
            return out

        def draw(stem: str, maps: dict, centre=None) -> list:
            fig, axes = plt.subplots(1, len(maps), figsize=(4.2 * len(maps), 3.6), squeeze=False)
            finite = np.concatenate([m[np.isfinite(m)] for m in maps.values()])
            limits = None  # one colour scale for every panel
            if finite.size and centre is None:
                limits = (finite.min(), max(finite.max(), finite.min() + 1e-9))
            elif finite.size:
                span = max(np.abs(finite - centre).max(), 1e-9)
                limits = (centre - span, centre + span)
            for ax, (title, values) in zip(axes[0], maps.items()):
                plot_accuracy_map(values, sweep.axes[y_axis], sweep.axes[x_axis], axes=ax,
                                  row_label=y_axis, col_label=x_axis, title=title,
                                  cmap="RdBu" if centre is not None else "viridis",
                                  centre=centre, limits=limits)
            fig.tight_layout()
            return save_figure(fig, out_dir, stem)

        maps = {_label(dict(key)) + " (final accuracy, %)": grid(cells)
                for key, cells in panels.items()}
        paths += draw("accuracy_map", maps)
        if baseline:  # each cell against the without-SBP runs of the same cell
            def without_sbp(key):
                return tuple((a, "without-sbp" if a == "variant" else v) for a, v in key)

            differences = {_label(dict(key)) + " - without SBP (points)":
                           grid(cells) - grid(panels[without_sbp(key)])
                           for key, cells in panels.items()
                           if dict(key)["variant"] != "without-sbp"
                           and without_sbp(key) in panels}
            if differences:
                paths += draw("difference_map", differences, centre=0.0)
    if baseline:
        paths += _plot_costs(out_dir, sweep, done, curve, computational_cost)
    return paths


def _plot_costs(out_dir: Path, sweep: Sweep, done: list, curve: dict, cost) -> list:
    """Bars: per combination of the other axes, the mean +- SD over seeds of the SBP paper's
    cost reduction (Eq. 1) against the without-SBP point of the same seed."""
    import matplotlib.pyplot as plt
    import numpy as np

    from .plotting import save_figure
    from .runs import operations_per_sample
    base = {r.get("seed"): r for r in done if r["variant"] == "without-sbp"}
    if not base:
        return []
    config = json.loads((out_dir / "points" / next(iter(base.values()))["point"] /
                         "config.json").read_text())["config"]
    n_weights = operations_per_sample(config)
    reductions: dict = {}
    runs = {r["point"]: r for r in done}  # a run shared by several cells counts once
    for r in runs.values():
        if r["variant"] == "without-sbp" or r.get("seed") not in base:
            continue
        errors = [1 - a for a in curve[r["point"]]]
        base_errors = [1 - a for a in curve[base[r.get("seed")]["point"]]]
        value = cost(base_errors, errors, n_weights)["reduction"]
        point = sweep.run_point({a: r[a] for a in sweep.axes})
        key = _label({a: v for a, v in point.items() if a != "seed"})
        reductions.setdefault(key, []).append(np.nan if value is None else 100 * value)
    if not reductions:
        return []
    fig, ax = plt.subplots(figsize=(max(4.5, 0.5 * len(reductions) + 2), 4.5))
    labels = list(reductions)
    means = [np.nanmean(v) if np.isfinite(v).any() else np.nan for v in reductions.values()]
    sds = [np.nanstd(v, ddof=1) if np.isfinite(v).sum() > 1 else 0 for v in reductions.values()]
    ax.bar(range(len(labels)), means, yerr=sds, color="C0")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(range(len(labels)), labels, rotation=40, ha="right", fontsize=6)
    ax.set_ylabel("cost reduction (%, Eq. 1)")
    ax.set_title("against without SBP, same seed: mean +- SD over seeds", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_dir, "cost")


def write_results(path: Path, rows: list[dict], axes: list) -> None:
    columns = ["point", *axes, "status", "final_accuracy", "best_accuracy", "epochs",
               "samples_per_second", "wall_seconds", "compiled_project", "worker", "error"]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
