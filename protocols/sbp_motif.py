"""The SBP motif: input neurons i -> hidden neuron j -> output neuron k.

Fitzsimonds, Song & Poo (1997) Propagation of activity-dependent synaptic depression in
simple neural networks. Nature 388, 439-448.  Tao, Zhang, Bi & Poo (2000) Selective
presynaptic propagation of long-term potentiation in defined neural networks. J. Neurosci.
20, 3233-3243.  Zhang et al. (2021) Sci. Adv. 7, eabh0146, Eqs. 12-15.

For each pairing delay ``t_k - t_j`` one copy of the motif is simulated: ``n_inputs``
input neurons fire seeded Poisson trains (rates spread from 2 to 40 Hz, the same trains in
every copy) onto the hidden neuron j through weak synapses; j and k are made to fire
``n_pairings`` times at ``pairing_rate`` by a suprathreshold voltage kick, k at the given
delay after j.  Pair STDP (the model file's ``hidden_output`` parameters) accumulates on
the j->k synapse and on the i->j synapses without being applied.  The SBP step
(:mod:`sbp_brian.rules.sbp`) then gives the propagated change at the i->j synapses, i.e. the
part caused by the j->k change (:func:`sbp_brian.rules.sbp.propagated_change`), for the
"paper", "spread" and "weighted" modes and several p and f.

Writes ``sbp_motif.csv`` (delay, induced change, mode, p, f, propagated change summed over
inputs, inputs reached), ``sbp_motif_traces.npz`` (membrane potentials of j and k) and
``sbp_motif.png``/``.svg``.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from brian2 import Network, SpikeGeneratorGroup, SpikeMonitor, StateMonitor, defaultclock, ms, mV, nS

from sbp_brian import equations as eq
from sbp_brian.model_files import load_model
from sbp_brian.rules.sbp import SBP_MODES, propagated_change
from sbp_brian.targets import use_target

NAME = "sbp_motif"
SHOWS = """Membrane potentials of hidden neuron j and output neuron k during a pairing at
+10 ms (LTP at j->k) and -10 ms (LTD); the STDP change induced at j->k against the pairing
delay; the change propagated to the input synapses i->j by the SBP step in the "paper",
"spread" and "weighted" modes (same sign as the induced change), and its linear scaling
with f for three values of p (in the spread modes p sets how many inputs share the signal,
not its total, so their three lines coincide)."""
DELAYS_MS = (-40, -30, -20, -10, -5, 5, 10, 20, 30, 40)
P_VALUES = (0.1, 0.3, 1.0)
F_VALUES = (0.1, 0.4, 0.7, 1.0)
KICK = 40 * mV  # a voltage kick that makes j or k fire in the next time step


def simulate(delays_ms, n_inputs: int, n_pairings: int, interval_ms: float, stdp: dict,
             hidden: eq.NeuronModel, output: eq.NeuronModel, seed: int, w_out: float):
    """One motif copy per delay; returns accumulated STDP, input counts and traces."""
    defaultclock.dt = 0.1 * ms
    n = len(delays_ms)
    rng = np.random.default_rng(seed)
    first_ms = 100.0
    duration_ms = first_ms + interval_ms * n_pairings + 100
    rates = np.linspace(2, 40, n_inputs)
    indices, times = [], []
    for i, rate in enumerate(rates):
        train = np.unique(np.round(rng.uniform(0, duration_ms, rng.poisson(rate * duration_ms
                                                                           / 1000)), 1))
        indices.append(np.full(len(train), i))
        times.append(train)
    base_i, base_t = np.concatenate(indices), np.concatenate(times)
    inputs = SpikeGeneratorGroup(n * n_inputs,
                                 (np.arange(n)[:, None] * n_inputs + base_i[None, :]).ravel(),
                                 np.tile(base_t, n) * ms, name="inputs")
    counts = np.bincount(base_i, minlength=n_inputs)
    pair_t = first_ms + interval_ms * np.arange(n_pairings)
    kick_j = np.tile(pair_t, n)
    kick_k = (pair_t[None, :] + np.asarray(delays_ms)[:, None]).ravel()
    copy = np.repeat(np.arange(n), n_pairings)
    kicks = SpikeGeneratorGroup(2 * n, np.concatenate([copy, n + copy]),
                                np.concatenate([kick_j, kick_k]) * ms, name="kicks")
    j = eq.with_dale_sign(hidden).group(n, name="hidden_j")
    k = output.group(n, name="output_k")
    kick = eq.voltage_transmission(v_w=KICK)
    kick_to_j = kick.synapses(kicks, j, connect="i == j", name="kick_j")
    kick_to_k = kick.synapses(kicks, k, connect="i == j + N_pre/2", name="kick_k")
    kick_to_j.w = kick_to_k.w = 1
    accumulate = eq.pair_stdp(mode="accumulate", **stdp)
    input_syn = eq.combine(eq.conductance_transmission(g_w=0.5 * nS), accumulate).synapses(
        inputs, j, connect=f"j == i // {n_inputs}", name="input_j")
    input_syn.w = 1
    # a weak j->k synapse: k fires only when kicked, so the delay is the one imposed
    output_syn = eq.combine(eq.conductance_transmission(signed=True, g_w=0.5 * nS),
                            accumulate).synapses(j, k, connect="i == j", name="j_k")
    output_syn.w = w_out
    spikes_j, spikes_k = SpikeMonitor(j, name="spikes_j"), SpikeMonitor(k, name="spikes_k")
    traces = StateMonitor(j, "v", record=True, name="v_j"), StateMonitor(k, "v", record=True,
                                                                         name="v_k")
    Network(inputs, kicks, j, k, kick_to_j, kick_to_k, input_syn, output_syn, spikes_j,
            spikes_k, *traces).run(duration_ms * ms, namespace={})
    return {
        "ltp_in": np.array(input_syn.dw_ltp[:]).reshape(n, n_inputs),
        "ltd_in": np.array(input_syn.dw_ltd[:]).reshape(n, n_inputs),
        "dw_out": np.array(output_syn.dw_ltp[:] + output_syn.dw_ltd[:]),
        "counts": counts,
        "spike_counts_j": np.bincount(spikes_j.i[:], minlength=n),
        "spike_counts_k": np.bincount(spikes_k.i[:], minlength=n),
        "t_ms": np.asarray(traces[0].t / ms), "v_j_mV": np.asarray(traces[0].v / mV),
        "v_k_mV": np.asarray(traces[1].v / mV), "pair_t_ms": pair_t,
    }


def propagate(result: dict, delays_ms, w_out: float, p_values=P_VALUES, f_values=F_VALUES):
    """The SBP step of every mode, p and f on each motif copy; one row per combination."""
    rows = []
    for c, delay in enumerate(delays_ms):
        ltp, ltd = result["ltp_in"][c][:, None], result["ltd_in"][c][:, None]
        dw_out = np.array([[result["dw_out"][c]]])
        for mode in SBP_MODES:
            for p in p_values:
                for f in f_values:
                    change = propagated_change(mode, ltp, ltd, dw_out, p=p, f=f,
                                               w_out=np.array([[w_out]]),
                                               pre_activity=result["counts"])
                    rows.append({"delay_ms": delay, "induced_dw_jk": float(dw_out[0, 0]),
                                 "mode": mode, "p": p, "f": f,
                                 "propagated_dw_ij_sum": float(change.sum()),
                                 "inputs_reached": int(np.count_nonzero(change)),
                                 "local_dw_ij_sum": float((ltp + ltd).sum())})
    return rows


def run(out_dir, device: str = "numpy", model: str = "sbp_digits", n_inputs: int = 10,
        n_pairings: int = 20, pairing_rate_hz: float = 5.0, seed: int = 1,
        delays_ms=DELAYS_MS, w_out: float = 1.5) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_file = load_model(model)
    stdp = dict(model_file.synapses["hidden_output"]["stdp"].params)
    use_target(device)  # standalone builds go to a temporary folder
    result = simulate(delays_ms, n_inputs, n_pairings, 1000.0 / pairing_rate_hz, stdp,
                      model_file.neuron_model("hidden"), model_file.neuron_model("output"),
                      seed, w_out)
    rows = propagate(result, delays_ms, w_out)
    with open(out_dir / "sbp_motif.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    np.savez_compressed(out_dir / "sbp_motif_traces.npz", delays_ms=np.asarray(delays_ms),
                        **{k: result[k] for k in ("t_ms", "v_j_mV", "v_k_mV", "pair_t_ms",
                                                  "counts", "dw_out")})
    _plot(rows, result, delays_ms, out_dir)
    return {"device": device, "n_rows": len(rows),
            "spikes_j": result["spike_counts_j"].tolist(),
            "spikes_k": result["spike_counts_k"].tolist(),
            "induced_dw_jk": [round(float(x), 6) for x in result["dw_out"]]}


def _plot(rows, result, delays_ms, out_dir: Path) -> None:
    import matplotlib.pyplot as plt

    from sbp_brian.plotting import plot_state, save_figure

    fig = plt.figure(figsize=(10, 7))
    grid = fig.add_gridspec(3, 3, height_ratios=[1, 1, 1.3])
    t = result["t_ms"]
    first = result["pair_t_ms"][0]
    for col, delay in enumerate((10, -10)):
        if delay not in delays_ms:
            continue
        c = list(delays_ms).index(delay)
        keep = (t > first - 60) & (t < first + 60)
        ax = fig.add_subplot(grid[col, 0:2])
        plot_state(t[keep] * ms, result["v_j_mV"][c][keep] * mV, var_unit=mV, var_name="V",
                   axes=ax, color="tab:green", lw=0.9, label="hidden j")
        plot_state(t[keep] * ms, result["v_k_mV"][c][keep] * mV, var_unit=mV, var_name="V",
                   axes=ax, color="tab:purple", lw=0.9, label="output k")
        kind = "LTP" if delay > 0 else "LTD"
        ax.set_title(f"pairing t_k - t_j = {delay:+d} ms ({kind} at j->k); first pairing",
                     fontsize=9)
        ax.legend(fontsize=8, frameon=False, loc="upper right")
    ax = fig.add_subplot(grid[0:2, 2])
    ax.axhline(0, color="0.7", lw=0.8)
    ax.plot(delays_ms, result["dw_out"], "ko-", ms=4)
    ax.set_xlabel("t_k - t_j (ms)")
    ax.set_ylabel("induced dW_jk (1)")
    ax.set_title("STDP at j->k", fontsize=9)
    colors = {"paper": "tab:blue", "spread": "tab:orange", "weighted": "tab:red"}
    ax = fig.add_subplot(grid[2, 0:2])
    ax.axhline(0, color="0.7", lw=0.8)
    for mode in SBP_MODES:
        sel = [r for r in rows if r["mode"] == mode and r["p"] == 0.3 and r["f"] == 0.7]
        ax.plot([r["delay_ms"] for r in sel], [r["propagated_dw_ij_sum"] for r in sel], "o-",
                ms=4, color=colors[mode], label=mode)
    ax.set_xlabel("t_k - t_j (ms)")
    ax.set_ylabel("propagated sum_i dW_ij (1)")
    ax.set_title("propagated change at i->j (p = 0.3, f = 0.7); with one hidden neuron n(S) = 1,\n"
                 "so paper mode ignores the size of dW_jk", fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    ax = fig.add_subplot(grid[2, 2])
    for mode in SBP_MODES:
        for p, style in zip(P_VALUES, (":", "--", "-")):
            sel = [r for r in rows if r["mode"] == mode and r["p"] == p and r["delay_ms"] == 10]
            ax.plot([r["f"] for r in sel], [r["propagated_dw_ij_sum"] for r in sel], style,
                    color=colors[mode], lw=1)
    for p, style in zip(P_VALUES, (":", "--", "-")):
        ax.plot([], [], style, color="0.3", label=f"p = {p}")
    ax.legend(fontsize=7, frameon=False)
    ax.set_xlabel("f (1)")
    ax.set_ylabel("propagated sum_i dW_ij (1)")
    ax.set_title("scaling with f and p (delay +10 ms)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, out_dir, "sbp_motif")
