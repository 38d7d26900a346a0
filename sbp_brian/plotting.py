"""Plot helpers in brian2tools' API shape: ``axes=None``, ``time_unit=ms``, return the Axes.

Axes are labelled with units.  Importing this module selects matplotlib's Agg backend
when no display is available, so figures can be written on a headless machine.
"""
from __future__ import annotations

import os

import matplotlib

if not os.environ.get("DISPLAY") and not os.environ.get("MPLBACKEND"):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from brian2 import Hz, Quantity, ms  # noqa: E402
from brian2.units.fundamentalunits import get_unit  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

__all__ = ["plot_raster", "plot_state", "plot_rate", "plot_accuracy_curves",
           "plot_comparison", "plot_accuracy_map", "save_figure"]


def _axes(axes):
    return axes if axes is not None else plt.gca()


def _magnitude(values, unit):
    return np.asarray(values / unit) if unit is not None else np.asarray(values)


def plot_raster(spike_indices, spike_times, time_unit=ms, axes=None, **kwds):
    """Raster plot: one dot per spike at (time, neuron index)."""
    ax = _axes(axes)
    kwds.setdefault("marker", "|")
    kwds.setdefault("linestyle", "none")
    kwds.setdefault("color", "k")
    ax.plot(_magnitude(spike_times, time_unit), np.asarray(spike_indices), **kwds)
    ax.set_xlabel(f"time ({time_unit})")
    ax.set_ylabel("neuron index")
    return ax


def plot_state(times, values, time_unit=ms, var_unit=None, var_name=None, axes=None, **kwds):
    """Plot a state variable over time; ``var_unit=None`` picks the best unit of ``values``."""
    ax = _axes(axes)
    if var_unit is None and isinstance(values, Quantity):
        var_unit = values.get_best_unit() if values.size else get_unit(values.dim)
    ax.plot(_magnitude(times, time_unit), _magnitude(values, var_unit).T, **kwds)
    ax.set_xlabel(f"time ({time_unit})")
    label = var_name or "value"
    ax.set_ylabel(f"{label} ({var_unit})" if var_unit is not None else label)
    return ax


def plot_rate(times, rate, time_unit=ms, rate_unit=Hz, axes=None, **kwds):
    """Plot a population rate over time."""
    ax = _axes(axes)
    ax.plot(_magnitude(times, time_unit), _magnitude(rate, rate_unit), **kwds)
    ax.set_xlabel(f"time ({time_unit})")
    ax.set_ylabel(f"rate ({rate_unit})")
    return ax


def plot_accuracy_curves(runs: dict, axes=None, key: str = "test_accuracy", **kwds):
    """Accuracy per epoch of several runs (``{label: metrics records}``) on one plot."""
    ax = _axes(axes)
    for label, records in runs.items():
        epochs = [r["epoch"] for r in records]
        ax.plot(epochs, [100 * r[key] for r in records], "o-", ms=3, label=str(label), **kwds)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
    ax.set_ylabel(f"{key.replace('_', ' ')} (%)")
    ax.legend(fontsize=7, frameon=False)
    return ax


def plot_comparison(curves: dict, axes=None, title: str = ""):
    """Mean +- SD over seeds of the accuracy per epoch, one line per variant
    (``{variant: [per-seed lists of accuracies]}``, as written by ``sbp-brian compare``)."""
    ax = _axes(axes)
    for variant, per_seed in curves.items():
        n = min(len(a) for a in per_seed)
        acc = 100 * np.array([a[:n] for a in per_seed])
        epochs = np.arange(1, n + 1)
        mean, sd = acc.mean(axis=0), acc.std(axis=0, ddof=1) if len(acc) > 1 else 0 * acc[0]
        line, = ax.plot(epochs, mean, "o-", ms=3, label=f"{variant} ({mean[-1]:.1f} %)")
        ax.fill_between(epochs, mean - sd, mean + sd, color=line.get_color(), alpha=0.15)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
    ax.set_ylabel("test accuracy (%), mean +- SD over seeds")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, frameon=False)
    return ax


def plot_accuracy_map(values, row_values, col_values, axes=None, row_label: str = "",
                      col_label: str = "", title: str = "", cmap: str = "viridis",
                      centre: float | None = None, limits: tuple | None = None):
    """A grid of accuracies in percentage points (``values[i, j]`` at ``row_values[i]``,
    ``col_values[j]``; NaN: no value), each cell annotated, as the SBP paper's Fig. 4B.
    ``centre``: a diverging colour scale symmetric about this value (differences);
    ``limits``: the colour scale's ``(low, high)``, to share one scale between panels."""
    ax = _axes(axes)
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    scale = {}
    if limits is not None:
        scale = {"vmin": limits[0], "vmax": limits[1]}
    elif centre is not None and finite.size:
        span = max(np.abs(finite - centre).max(), 1e-9)
        scale = {"vmin": centre - span, "vmax": centre + span}
    image = ax.imshow(values, origin="lower", cmap=cmap, aspect="auto", **scale)
    for (i, j), value in np.ndenumerate(values):
        # dark text on the light part of the scale (the top of viridis, the middle of RdBu)
        light = np.isfinite(value) and (abs(image.norm(value) - 0.5) < 0.3 if centre is not None
                                        else image.norm(value) > 0.6)
        ax.text(j, i, "--" if not np.isfinite(value) else f"{value:.1f}", ha="center",
                va="center", fontsize=7, color="k" if light else "w")
    ax.set_xticks(range(len(col_values)), [str(v) for v in col_values])
    ax.set_yticks(range(len(row_values)), [str(v) for v in row_values])
    ax.set_xlabel(col_label)
    ax.set_ylabel(row_label)
    ax.set_title(title, fontsize=9)
    ax.figure.colorbar(image, ax=ax, shrink=0.8)
    return ax


def save_figure(fig, out_dir, stem: str, dpi: int = 150) -> list:
    """Write ``stem.png`` and ``stem.svg`` into ``out_dir``; returns the paths."""
    from pathlib import Path
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "svg"):
        path = out_dir / f"{stem}.{ext}"
        # SVG with a fixed hash salt and no date, so regenerated figures diff cleanly
        metadata = {"Date": None} if ext == "svg" else {}
        with matplotlib.rc_context({"svg.hashsalt": "sbp-brian"}):
            fig.savefig(path, dpi=dpi, metadata=metadata)
        paths.append(path)
    plt.close(fig)
    return paths
