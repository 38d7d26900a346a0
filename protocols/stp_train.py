"""Short-term plasticity: presynaptic trains through Tsodyks-Markram synapses (SBP Eq. 4).

Markram, Wang & Tsodyks (1998) Differential signaling via the same axon of neocortical
pyramidal neurons. PNAS 95, 5323-5328.  Tsodyks & Markram (1997) PNAS 94, 719-723.

A train of ``n_spikes`` presynaptic spikes at 20 Hz and at 50 Hz, then one recovery spike
``recovery_ms`` after the train, reaches a conductance-LIF neuron (the model file's hidden
neuron) through a TM-STP synapse, for a depressing and a facilitating parameter set.  Per
spike: the conductance jump (``g_w w u+ x-``), the EPSC amplitude ``dg (V_E - V)`` at the
spike, and the EPSP amplitude (peak depolarisation after the spike above the pre-spike
potential); the closed-form recursion of the efficacies is written beside them.

Writes ``stp_train.csv`` and ``stp_train.png``/``.svg``.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from brian2 import Network, SpikeGeneratorGroup, StateMonitor, defaultclock, mV, ms, nS, pA

from sbp_brian import equations as eq
from sbp_brian.model_files import load_model
from sbp_brian.targets import use_target

NAME = "stp_train"
SHOWS = """Membrane potential of a conductance-LIF neuron driven through a depressing and a
facilitating Tsodyks-Markram synapse at 20 and 50 Hz (left), and the EPSC amplitudes
relative to the first (dots) against the closed-form recursion (lines), the last point
being the recovery spike 500 ms after the train (right)."""

#: (U, tau_f, tau_d) of typical neocortical synapses (Markram et al. 1998)
PARAMETER_SETS = {
    "depressing": dict(U=0.5, tau_f=20 * ms, tau_d=800 * ms),
    "facilitating": dict(U=0.1, tau_f=1000 * ms, tau_d=100 * ms),
}
FREQUENCIES_HZ = (20, 50)


def train_times_ms(frequency_hz: float, n_spikes: int, recovery_ms: float, start_ms: float):
    train = start_ms + 1000.0 / frequency_hz * np.arange(n_spikes)
    return np.append(train, train[-1] + recovery_ms)


def run(out_dir, device: str = "numpy", model: str = "sbp_digits", n_spikes: int = 8,
        recovery_ms: float = 500.0, peak_conductance=2 * nS) -> dict:
    """Run every (parameter set, frequency) pair in one simulation; returns per-spike numbers."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    neuron = load_model(model).neuron_model("hidden")
    use_target(device)  # standalone builds go to a temporary folder
    defaultclock.dt = 0.1 * ms
    start_ms = 20.0
    cases = [(name, f) for name in PARAMETER_SETS for f in FREQUENCIES_HZ]
    spike_ms = [train_times_ms(f, n_spikes, recovery_ms, start_ms) for _, f in cases]
    duration = max(t[-1] for t in spike_ms) + 50
    source = SpikeGeneratorGroup(len(cases), np.repeat(np.arange(len(cases)), n_spikes + 1),
                                 np.concatenate(spike_ms) * ms, name="presynaptic")
    target = neuron.group(len(cases), name="postsynaptic")
    objects = [source, target]
    for index, (name, _) in enumerate(cases):
        synapse = eq.combine(eq.tm_stp(**PARAMETER_SETS[name]),
                             eq.conductance_transmission(factor="efficacy", g_w=peak_conductance))
        objects.append(synapse.synapses(source, target, connect=f"i == {index} and j == {index}",
                                        name=f"stp_{index}"))
        objects[-1].w = 1
    monitor = StateMonitor(target, ["v", "gE"], record=True, name="traces")
    Network(*objects, monitor).run(duration * ms, namespace={})
    p = neuron.namespace
    dt_ms = 0.1
    decay = float(np.exp(-dt_ms * ms / p["tau_E"]))
    rows, traces = [], {}
    for index, ((name, freq), times) in enumerate(zip(cases, spike_ms)):
        v = monitor.v[index]
        g = monitor.gE[index]
        steps = np.round(times / dt_ms).astype(int)
        jumps = (g[steps + 1] - g[steps] * decay)
        expected = eq.tm_efficacies(times * ms, **PARAMETER_SETS[name]) * peak_conductance
        next_steps = np.append(steps[1:], len(v) - 1)
        for n, (step, stop) in enumerate(zip(steps, next_steps)):
            window = v[step:min(stop, step + int(30 / dt_ms))]
            rows.append({
                "synapse": name, "frequency_hz": freq, "spike": n + 1,
                "time_ms": round(float(times[n]), 3),
                "conductance_jump_nS": float(jumps[n] / nS),
                "recursion_jump_nS": float(expected[n] / nS),
                "epsc_pA": float(jumps[n] * (p["V_E"] - v[step + 1]) / pA),
                "epsp_mV": float((window.max() - v[step]) / mV),
            })
        traces[(name, freq)] = (np.asarray(monitor.t / ms), np.asarray(v), times)
    _write(rows, out_dir)
    _plot(rows, traces, out_dir)
    return {"rows": len(rows), "device": device,
            "max_relative_error": max(abs(r["conductance_jump_nS"] / r["recursion_jump_nS"] - 1)
                                      for r in rows)}


def _write(rows: list[dict], out_dir: Path) -> None:
    with open(out_dir / "stp_train.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _plot(rows, traces, out_dir: Path) -> None:
    import matplotlib.pyplot as plt

    from sbp_brian.plotting import plot_state, save_figure

    fig, axes = plt.subplots(len(PARAMETER_SETS), 2, figsize=(9, 5.5),
                             gridspec_kw={"width_ratios": [2, 1]})
    colors = {20: "tab:blue", 50: "tab:orange"}
    for row_axes, name in zip(axes, PARAMETER_SETS):
        trace_ax, amp_ax = row_axes
        for freq in FREQUENCIES_HZ:
            t, v, times = traces[(name, freq)]
            keep = t < times[-2] + 60  # the train; the recovery spike is in the right panel
            plot_state(t[keep] * ms, v[keep] * 1.0, var_unit=mV, var_name="V", axes=trace_ax,
                       color=colors[freq], lw=0.8, label=f"{freq} Hz")
            selected = [r for r in rows if r["synapse"] == name and r["frequency_hz"] == freq]
            first = selected[0]["epsc_pA"]
            spikes = [r["spike"] for r in selected]
            amp_ax.plot(spikes, [r["epsc_pA"] / first for r in selected], "o", ms=4,
                        color=colors[freq])
            amp_ax.plot(spikes, [r["recursion_jump_nS"] / selected[0]["recursion_jump_nS"]
                                 for r in selected], "-", lw=0.8, color=colors[freq])
        p = PARAMETER_SETS[name]
        trace_ax.set_title(f"{name}: U = {p['U']}, tau_f = {p['tau_f']}, tau_d = {p['tau_d']}",
                           fontsize=9)
        trace_ax.legend(fontsize=8, frameon=False)
        amp_ax.set_xlabel("spike number (last: recovery spike)")
        amp_ax.set_ylabel("EPSC / EPSC_1 (1)")
        amp_ax.set_title("dots: simulated; lines: recursion", fontsize=8)
    fig.tight_layout()
    save_figure(fig, out_dir, "stp_train")
