"""A small network with every foundation component, for cross-target tests.

20 seeded input spike trains -> 10 conductance-LIF hidden neurons (5 E, 5 I) through
TM-STP synapses with pair STDP -> 3 conductance-LIF outputs through signed (Dale's law)
synapses with pair STDP bounded by Dale's law.  Input comes from a SpikeGeneratorGroup so
that every target sees the same spikes.
"""
import numpy as np
from brian2 import Network, SpikeGeneratorGroup, SpikeMonitor, ms, nS

from sbp_brian import equations as eq

DURATION = 300 * ms


def build(seed=7):
    rng = np.random.default_rng(seed)
    n_in, n_hidden, n_out = 20, 10, 3
    n_spikes = rng.poisson(40 * 0.3 * n_in)
    indices = rng.integers(0, n_in, n_spikes)
    times = np.round(rng.uniform(0, 300, n_spikes), 1)
    pairs = np.unique(np.stack([times, indices], axis=1), axis=0)
    source = SpikeGeneratorGroup(n_in, pairs[:, 1].astype(int), pairs[:, 0] * ms, name="source")

    hidden = eq.with_dale_sign(eq.conductance_lif()).group(n_hidden, name="hidden")
    signs = np.where(np.arange(n_hidden) < n_hidden // 2, 1, -1)
    hidden.dale_sign = signs
    output = eq.conductance_lif().group(n_out, name="output")

    input_hidden = eq.combine(
        eq.tm_stp(U=0.3, tau_f=50 * ms, tau_d=150 * ms),
        eq.conductance_transmission(factor="efficacy", g_w=12 * nS),
        eq.pair_stdp(A_plus=0.05, A_minus=0.05, w_min=0, w_max=3),
    ).synapses(source, hidden, name="input_hidden")
    input_hidden.w = rng.uniform(0.5, 2.5, n_in * n_hidden)

    hidden_output = eq.combine(
        eq.conductance_transmission(signed=True, g_w=10 * nS),
        eq.pair_stdp(bounds="dale", A_plus=0.1, A_minus=0.12, w_max=3),
    ).synapses(hidden, output, name="hidden_output")
    # all-to-all synapses are ordered by presynaptic index
    hidden_output.w = rng.uniform(0.5, 2.0, n_hidden * n_out) * np.repeat(signs, n_out)

    monitors = {"hidden": SpikeMonitor(hidden, name="hidden_spikes"),
                "output": SpikeMonitor(output, name="output_spikes")}
    net = Network(source, hidden, output, input_hidden, hidden_output, *monitors.values())
    return net, monitors, {"input_hidden": input_hidden, "hidden_output": hidden_output}


def simulate():
    """Build and run; returns spike (index, time) arrays and final weights."""
    net, monitors, synapses = build()
    net.run(DURATION, namespace={})
    result = {}
    for name, mon in monitors.items():
        order = np.lexsort((mon.i[:], mon.t[:] / ms))
        result[name + "_i"] = np.asarray(mon.i[:])[order]
        result[name + "_t"] = np.asarray(mon.t[:] / ms)[order]
    for name, syn in synapses.items():
        result[name + "_w"] = np.array(syn.w[:], copy=True)
    return result


def digits_schedule(config, n_samples: int, seed: int = 0):
    """Fixed Bernoulli input spikes (drawn once in numpy) for the first ``n_samples`` digits
    training images, for a training network's ``input_schedule``: the same spikes on every
    target and path.  Returns the spike indices, their times and the data set."""
    from sbp_brian.datasets import load_dataset
    data = load_dataset("digits")
    steps = config.steps_per_sample
    p = data.x_train[:n_samples] * float(config.max_rate * config.dt)
    spikes = np.random.default_rng(seed).random((n_samples, steps, config.n_input)) < p[:, None, :]
    sample, step, index = np.nonzero(spikes)
    return index, (sample * steps + step) * config.dt, data


def digits_test_accuracy(model: str, samples: int, out_dir) -> dict:
    """One epoch of the first ``samples`` digits with a bundled model (compiled), scored on
    150 test digits (seed 5): the last epoch's metrics record."""
    from sbp_brian.runs import make_trainer
    options = {"model": model, "dataset": "digits", "samples": samples,
               "test_samples": 150, "epochs": 1, "seed": 5, "device": "cpp"}
    trainer = make_trainer(options, out_dir, progress=False)
    try:
        return trainer.fit()[-1]
    finally:
        trainer.close()


def resumed_and_uninterrupted(options: dict, out_dir, stop_after_chunks: int):
    """Train ``options`` once uninterrupted and once stopped after ``stop_after_chunks``
    chunks and resumed; asserts that both end with the same state, array by array, and
    returns the two trainers ``(uninterrupted, resumed)``."""
    import numpy as np

    from sbp_brian.runs import make_trainer
    whole = make_trainer(options, out_dir / "whole", progress=False)
    whole.fit()
    make_trainer(options, out_dir / "parts", progress=False).fit(
        stop_after_chunks=stop_after_chunks)
    resumed = make_trainer(options, out_dir / "parts", resume=True, progress=False)
    resumed.fit()
    for key, value in whole.weights.items():
        assert np.array_equal(resumed.weights[key], value), key
    return whole, resumed
