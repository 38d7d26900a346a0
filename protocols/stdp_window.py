"""STDP window: the weight change after pre/post pairings at a range of delays (Bi & Poo 1998).

Bi, G. & Poo, M. (1998) Synaptic modifications in cultured hippocampal neurons: dependence on
spike timing, synaptic strength, and postsynaptic cell type. J. Neurosci. 18, 10464-10472.

One synapse per delay ``t_post - t_pre`` (default -80..+80 ms in 5 ms steps); each receives
``n_pairings`` pre/post pairs at ``pairing_rate`` (60 at 1 Hz), with the pair-based STDP rule
(SBP Eq. 12) and the parameters of a model file's ``[synapses.<projection>.stdp]`` table,
applied immediately and without weight bounds.  Exponentials ``A exp(-|dt|/tau)`` are fitted
to each side of the measured window (log-linear least squares), so the fitted A+-, tau+- can
be compared with the model's.

Writes ``stdp_window.csv`` (delay, weight change, fitted value), ``stdp_window_fit.csv``
(model vs fitted parameters) and ``stdp_window.png``/``.svg``.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from brian2 import Hz, Network, SpikeGeneratorGroup, defaultclock, ms

from sbp_brian import equations as eq
from sbp_brian.model_files import load_model
from sbp_brian.targets import use_target

NAME = "stdp_window"
SHOWS = """Weight change per pairing against t_post - t_pre (dots) for the model's pair-STDP
rule, with exponentials fitted to each side (lines); the fitted A+-, tau+- in the title
equal the model file's values."""


def pairing_spikes(delays_ms: np.ndarray, n_pairings: int, interval_ms: float, first_ms: float):
    """Spike indices/times (ms) of the pre and post generators: synapse k pairs at delay k."""
    n = len(delays_ms)
    starts = first_ms + interval_ms * np.arange(n_pairings)
    pre_t = np.tile(starts, n)
    indices = np.repeat(np.arange(n), n_pairings)
    post_t = pre_t + np.repeat(delays_ms, n_pairings)
    return indices, pre_t, post_t


def fit_exponential(delays: np.ndarray, changes: np.ndarray) -> tuple[float, float]:
    """Fit ``|change| = A exp(-|delay|/tau)``; returns (A, tau in ms)."""
    keep = np.abs(changes) > 0
    slope, intercept = np.polyfit(np.abs(delays[keep]), np.log(np.abs(changes[keep])), 1)
    return float(np.exp(intercept)), float(-1 / slope)


def simulate(stdp_params: dict, delays_ms: np.ndarray, n_pairings: int, pairing_rate,
             device: str) -> np.ndarray:
    """Total weight change per delay after all pairings."""
    use_target(device)  # standalone builds go to a temporary folder
    defaultclock.dt = 0.1 * ms
    interval_ms = float(1 / pairing_rate / ms)
    first_ms = 100.0
    indices, pre_t, post_t = pairing_spikes(delays_ms, n_pairings, interval_ms, first_ms)
    n = len(delays_ms)
    pre = SpikeGeneratorGroup(n, indices, pre_t * ms, name="pre")
    post = SpikeGeneratorGroup(n, indices, post_t * ms, name="post")
    params = {**stdp_params, "w_min": -1e6, "w_max": 1e6}  # unbounded: measure the rule itself
    syn = eq.pair_stdp(mode="immediate", **params).synapses(pre, post, connect="i == j",
                                                            name="paired")
    syn.w = 0
    net = Network(pre, post, syn)
    net.run((first_ms + interval_ms * n_pairings + 200) * ms, namespace={})
    return np.array(syn.w[:], copy=True)


def run(out_dir, device: str = "cpp", model: str = "sbp_digits",
        projection: str = "hidden_output", n_pairings: int = 60, pairing_rate=1 * Hz,
        max_delay_ms: float = 80, step_ms: float = 5) -> dict:
    """Run the protocol; returns the model's and the fitted window parameters."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_file = load_model(model)
    stdp = model_file.synapses[projection]["stdp"].params
    stdp_params = {k: stdp[k] for k in ("A_plus", "A_minus", "tau_plus", "tau_minus")}
    delays = np.arange(-max_delay_ms, max_delay_ms + step_ms / 2, step_ms)
    delays = delays[delays != 0]
    total = simulate(stdp_params, delays, n_pairings, pairing_rate, device)
    per_pairing = total / n_pairings
    a_plus, tau_plus = fit_exponential(delays[delays > 0], per_pairing[delays > 0])
    a_minus, tau_minus = fit_exponential(delays[delays < 0], per_pairing[delays < 0])
    fitted = np.where(delays > 0, a_plus * np.exp(-delays / tau_plus),
                      -a_minus * np.exp(delays / tau_minus))
    with open(out_dir / "stdp_window.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["delay_post_minus_pre_ms", "dw_per_pairing", "dw_fitted"])
        writer.writerows(zip(delays, per_pairing, fitted))
    summary = {
        "model_A_plus": float(stdp_params["A_plus"]), "fitted_A_plus": a_plus,
        "model_tau_plus_ms": float(stdp_params["tau_plus"] / ms), "fitted_tau_plus_ms": tau_plus,
        "model_A_minus": float(stdp_params["A_minus"]), "fitted_A_minus": a_minus,
        "model_tau_minus_ms": float(stdp_params["tau_minus"] / ms),
        "fitted_tau_minus_ms": tau_minus,
        "n_pairings": n_pairings, "device": device, "model": model,
    }
    with open(out_dir / "stdp_window_fit.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["quantity", "value"])
        writer.writerows(summary.items())
    _plot(delays, per_pairing, fitted, summary, out_dir)
    return summary


def _plot(delays, per_pairing, fitted, summary, out_dir: Path) -> None:
    import matplotlib.pyplot as plt

    from sbp_brian.plotting import save_figure

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.axhline(0, color="0.7", lw=0.8)
    ax.axvline(0, color="0.7", lw=0.8)
    ax.plot(delays, per_pairing, "o", ms=4, color="k", label="simulated (per pairing)")
    for side, color in ((delays > 0, "tab:red"), (delays < 0, "tab:blue")):
        ax.plot(delays[side], fitted[side], "-", color=color)
    ax.plot([], [], "-", color="0.4", label="fitted A exp(-|dt|/tau)")
    ax.set_xlabel("t_post - t_pre (ms)")
    ax.set_ylabel("weight change per pairing (1)")
    ax.set_title(f"STDP window, {summary['n_pairings']} pairings at 1 Hz\n"
                 f"fit: A+ = {summary['fitted_A_plus']:.4g}, tau+ = "
                 f"{summary['fitted_tau_plus_ms']:.3g} ms; A- = {summary['fitted_A_minus']:.4g}, "
                 f"tau- = {summary['fitted_tau_minus_ms']:.3g} ms", fontsize=8)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    save_figure(fig, out_dir, "stdp_window")
