"""f-I curves and membrane traces of the current-based and conductance-based LIF neurons.

Each neuron receives a constant current ``I_ext``; the firing rate is compared with the
closed form ``1 / (t_ref + tau_m ln((V_inf - V_reset)/(V_inf - V_th)))``,
``V_inf = V_L + I/g_L`` (no synaptic input, so the conductance LIF of SBP Eq. 5 reduces to
the current LIF with ``C_m = tau_m g_L``).  Parameters are the model file's hidden neuron.
Membrane traces at three currents show the reset and the refractory clamp.

Writes ``fi_curve.csv``, ``fi_traces.npz`` and ``fi_curve.png``/``.svg``.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from brian2 import Hz, Network, SpikeMonitor, StateMonitor, defaultclock, mV, ms, nA, second

from sbp_brian import equations as eq
from sbp_brian.model_files import load_model
from sbp_brian.targets import use_target

NAME = "fi_curve"
SHOWS = """Firing rate against constant current for the current- and conductance-based LIF
neurons with the closed-form curve, and membrane traces at three currents showing the
reset and the refractory clamp."""


def analytic_rate(currents, params):
    """Closed-form LIF rate (Hz array) for constant currents; 0 below rheobase."""
    v_inf = params["V_L"] + currents / params["g_L"]
    rates = np.zeros(len(currents))
    above = v_inf > params["V_th"]
    period = params["t_ref"] + params["tau_m"] * np.log(
        (v_inf[above] - params["V_reset"]) / (v_inf[above] - params["V_th"]))
    rates[above] = np.asarray(1 / period / Hz)
    return rates


def run(out_dir, device: str = "numpy", model: str = "sbp_digits", max_current=0.6 * nA,
        n_currents: int = 25, duration=2 * second, dt=0.1 * ms) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cond_params = dict(load_model(model).neurons["hidden"].params)
    lif_params = {k: cond_params[k] for k in ("tau_m", "V_L", "V_th", "V_reset", "t_ref")}
    lif_params["C_m"] = cond_params["tau_m"] * cond_params["g_L"]
    models = {"lif": eq.lif(**lif_params), "conductance_lif": eq.conductance_lif(**cond_params)}
    currents = np.linspace(0, float(max_current / nA), n_currents) * nA
    trace_currents = np.array([0.15, 0.25, 0.5]) * nA
    use_target(device)  # standalone builds go to a temporary folder
    defaultclock.dt = dt
    objects, spikes, traces = [], {}, {}
    for name, neuron in models.items():
        group = neuron.group(len(currents), name=f"{name}_fi")
        group.I_ext = currents
        shown = neuron.group(len(trace_currents), name=f"{name}_traces")
        shown.I_ext = trace_currents
        spikes[name] = SpikeMonitor(group, name=f"{name}_spikes")
        traces[name] = StateMonitor(shown, "v", record=True, name=f"{name}_v")
        objects += [group, shown, spikes[name], traces[name]]
    Network(*objects).run(duration, namespace={})
    expected = analytic_rate(currents, cond_params)
    rows = []
    measured = {}
    for name in models:
        trains = spikes[name].spike_trains()
        rates = []
        for index in range(len(currents)):
            t = np.asarray(trains[index] / second)
            # rate from the inter-spike intervals, free of the first spike's latency
            rates.append((len(t) - 1) / (t[-1] - t[0]) if len(t) > 2 else 0.0)
        measured[name] = np.array(rates)
    for index, current in enumerate(currents):
        rows.append({"current_nA": float(current / nA), "analytic_Hz": float(expected[index]),
                     **{f"{name}_Hz": float(measured[name][index]) for name in models}})
    with open(out_dir / "fi_curve.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    t_ms = np.asarray(traces["lif"].t / ms)
    np.savez_compressed(out_dir / "fi_traces.npz", t_ms=t_ms, currents_nA=trace_currents / nA,
                        **{f"{name}_v_mV": np.asarray(traces[name].v / mV) for name in models})
    _plot(rows, t_ms, {name: np.asarray(traces[name].v / mV) for name in models},
          trace_currents, cond_params, out_dir)
    firing = expected > 5
    errors = {name: float(np.max(np.abs(measured[name][firing] / expected[firing] - 1)))
              for name in models}
    return {"device": device, "dt_ms": float(dt / ms), "max_relative_error": errors}


def _plot(rows, t_ms, traces, trace_currents, params, out_dir: Path) -> None:
    import matplotlib.pyplot as plt

    from sbp_brian.plotting import plot_state, save_figure

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    ax = axes[0]
    current = [r["current_nA"] for r in rows]
    ax.plot(current, [r["analytic_Hz"] for r in rows], "-", color="0.5", label="closed form")
    ax.plot(current, [r["lif_Hz"] for r in rows], "o", ms=4, mfc="none", label="LIF")
    ax.plot(current, [r["conductance_lif_Hz"] for r in rows], "x", ms=4,
            label="conductance LIF")
    ax.set_xlabel("I_ext (nA)")
    ax.set_ylabel("firing rate (Hz)")
    ax.set_title(f"f-I curve (t_ref = {params['t_ref']})", fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    keep = t_ms < 150
    for ax, name in zip(axes[1:], ("lif", "conductance_lif")):
        for index, current in enumerate(trace_currents):
            plot_state(t_ms[keep] * ms, traces[name][index][keep] * mV, var_unit=mV,
                       var_name="V", axes=ax, lw=0.9, label=f"I = {float(current / nA):.2f} nA")
        ax.axhline(float(params["V_th"] / mV), color="0.6", ls="--", lw=0.8)
        ax.set_title(f"{name}: reset to {params['V_reset']}, clamped for t_ref", fontsize=9)
        ax.legend(fontsize=7, frameon=False, loc="lower right")
    fig.tight_layout()
    save_figure(fig, out_dir, "fi_curve")
