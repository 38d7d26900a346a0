"""GLSNN (rules/glsnn.py): the generated sample-end step equals the numpy reference on the
network's own spike counts; the reference equals a hand computation; the rule learns."""
import numpy as np
import pytest
from brian2 import Hz, ms, mV, nS

from sbp_brian.layered import LayeredConfig, LayeredNetwork
from sbp_brian.parameters import ParameterError
from sbp_brian.rules.glsnn import (GLSNN, differences, feedback_matrices, semi_orthogonal,
                                   update)


def test_differences_and_update_by_hand():
    """Two hidden layers: the output's difference is S - S_T, the penultimate's
    eta_t W_L e with e = 2 (S - S_T), the lowest's B e + b; the update is the batch mean of
    -eta_w S_pre d^T."""
    rates = [np.array([1.0, 0.5]), np.array([0.2, 0.0]), np.array([0.4]), np.array([0.3, 0.6])]
    target = np.array([1.0, 0.0])
    weights = [np.ones((2, 2)), np.ones((2, 1)), np.array([[0.5, -1.0]])]
    B, b = np.array([[1.0, 2.0], [0.0, -1.0]]), np.array([0.1, 0.0])
    d = differences(rates, weights, target, [(B, b)], eta_t=0.5)
    e = [-1.4, 1.2]                                                      # 2 (S - S_T)
    np.testing.assert_allclose(d[2], [-0.7, 0.6])                       # S - S_T
    np.testing.assert_allclose(d[1], [0.5 * (0.5 * e[0] - 1.0 * e[1])])  # eta_t W e = -0.95
    np.testing.assert_allclose(d[0], [e[0] + 0.1, 2 * e[0] - e[1]])      # B^T e + b
    new = update(weights, [rates[:3], rates[:3]], [d, d], eta_w=0.1)
    np.testing.assert_allclose(new[1], [[1 - 0.1 * 0.2 * -0.95], [1.0]])
    np.testing.assert_allclose(new[2], [[0.5 + 0.1 * 0.4 * 0.7, -1.0 - 0.1 * 0.4 * 0.6]])


def test_semi_orthogonal_matrices_have_unit_singular_values():
    rng = np.random.default_rng(0)
    for shape in ((7, 3), (3, 7)):
        np.testing.assert_allclose(np.linalg.svd(semi_orthogonal(*shape, rng))[1], 1.0)


#: Layers of each neuron model GLSNN trains: parameters and a transmission they take
NEURONS = {
    "conductance_lif": (dict(tau_m=20 * ms, g_L=10 * nS, V_L=-70 * mV, V_E=0 * mV,
                             V_I=-80 * mV, V_th=-60 * mV, V_reset=-70 * mV, t_ref=0 * ms,
                             tau_E=5 * ms, tau_I=5 * ms),
                        {"model": "conductance_transmission", "g_w": 30 * nS, "signed": True}),
    "lif": (dict(tau_m=20 * ms, V_L=-70 * mV, V_th=-68 * mV, V_reset=-70 * mV, t_ref=0 * ms),
            {"model": "voltage_transmission", "v_w": 3 * mV}),
    "integrate_and_fire": (dict(theta=1 * mV, V_rest=0 * mV),
                           {"model": "voltage_transmission", "v_w": 1 * mV}),
}


def config(sizes=(6, 8, 7, 3), batch_size=2, eta_w=0.5, neuron_model="conductance_lif"):
    neurons, transmission = NEURONS[neuron_model]
    return LayeredConfig(
        sizes=list(sizes), dt=1 * ms, sample_duration=10 * ms, max_rate=500 * Hz,
        hidden=neurons, output=neurons, neuron_model=neuron_model,
        transmission_hidden=transmission, transmission_output=transmission, chunk=4,
        rule=GLSNN(eta_w=eta_w, eta_t=0.5, batch_size=batch_size, feedback_scale=1.0,
                   feedback_bias_sd=0.1))


@pytest.mark.parametrize("summed, neuron_model", [
    (False, "conductance_lif"), (True, "conductance_lif"), (False, "lif"),
    (False, "integrate_and_fire")])
def test_generated_sample_end_step_equals_the_numpy_reference(summed, neuron_model):
    """Two hidden layers (the feedback B_l and the penultimate shortcut), four samples in two
    batches of two: the final weights equal the reference's applied to the network's own
    spike counts, after checking that every layer fired and every projection moved; for
    every neuron model GLSNN trains."""
    from sbp_brian.targets import use_target
    use_target("numpy")
    c = config(neuron_model=neuron_model)
    rng = np.random.default_rng(4)
    x = rng.uniform(0.2, 1.0, (4, 6))
    targets = np.eye(3)[[0, 2, 1, 0]]
    w0 = [w * 2.0 for w in c.rule.initial_weights(c.sizes, rng)]
    net = LayeredNetwork(c, 4, summed=summed)
    drawn = net.load(x, targets, w0, c.rule.learning_rate())
    net.network.run(net.duration(), namespace={})
    rates = [net.sample_counts(layer) / c.steps_per_sample for layer in range(4)]
    assert all(r.sum() > 0 for r in rates), "a layer is silent"
    feedback = feedback_matrices(c.sizes, c.seed, 1.0, 0.1)
    for (B, b), (B_drawn, b_drawn) in zip(feedback, drawn["feedback"]):
        np.testing.assert_array_equal(B, B_drawn)
        np.testing.assert_array_equal(b, b_drawn)
    weights = [w.copy() for w in w0]
    for batch in ((0, 1), (2, 3)):
        per_sample = [[r[k] for r in rates] for k in batch]
        diffs = [differences(r, weights, targets[k], feedback, c.rule.eta_t)
                 for r, k in zip(per_sample, batch)]
        weights = update(weights, [r[:-1] for r in per_sample], diffs, c.rule.eta_w)
    assert all(np.abs(w - before).max() > 1e-3 for w, before in zip(weights, w0))
    for reference, generated in zip(weights, net.weights()):
        np.testing.assert_allclose(generated, reference, rtol=0, atol=1e-12)


def test_glsnn_refuses_a_batch_that_does_not_divide_the_chunk():
    with pytest.raises(ParameterError, match=r"batch_size = 3 must divide the \[training\] "
                                             r"chunk \(4\)"):
        config(batch_size=3).validate()


@pytest.mark.parametrize("device", ["numpy", pytest.param("cpp", marks=pytest.mark.standalone)])
def test_layered_runner_trains_glsnn_as_the_reference(device, tmp_path):
    """The runner the trainer uses, on fixed input spikes: two chunks of two batches, the
    second chunk from the first's weights ("cpp": the compiled project relaunched with
    run_args; the feedback B_l, b_l drawn from the run's seed at every launch, the same)."""
    from sbp_brian.layered import LayeredRunner
    from sbp_brian.targets import reset_target
    c = config()
    rng = np.random.default_rng(5)
    raster = rng.random((4, c.steps_per_sample, 6)) < 0.4
    sample, step, index = np.nonzero(raster)
    schedule = (index, (sample * c.steps_per_sample + step) * c.dt)
    initial = [w * 2.0 for w in c.rule.initial_weights(c.sizes, rng)]
    targets = np.eye(3)[[0, 2, 1, 0]]
    feedback = feedback_matrices(c.sizes, c.seed, 1.0, 0.1)
    try:
        runner = LayeredRunner(c, device, tmp_path / "build", input_schedule=schedule)
        state = {f"w_{k}": w.ravel() for k, w in enumerate(initial)}
        reference = [w.copy() for w in initial]
        input_rates = raster.sum(axis=1) / c.steps_per_sample
        for chunk in range(2):
            state, result = runner.run_state(np.zeros((4, 6)), targets, state, learn=True,
                                             seed=chunk)
            counts = [*np.split(result.hidden_counts, [c.sizes[1]], axis=1), result.counts]
            rates = [input_rates, *(n / c.steps_per_sample for n in counts)]
            assert all(r.sum() > 0 for r in rates), "a layer is silent"
            for batch in ((0, 1), (2, 3)):
                per_sample = [[r[k] for r in rates] for k in batch]
                diffs = [differences(r, reference, targets[k], feedback, c.rule.eta_t)
                         for r, k in zip(per_sample, batch)]
                reference = update(reference, [r[:-1] for r in per_sample], diffs,
                                   c.rule.eta_w)
        for k, w in enumerate(reference):
            assert np.abs(w - initial[k]).max() > 1e-3
            np.testing.assert_allclose(state[f"w_{k}"], w.ravel(), rtol=0, atol=1e-12)
    finally:
        reset_target()


@pytest.mark.standalone
def test_glsnn_learns_digits_above_chance(tmp_path):
    """One epoch of 400 digits with the bundled glsnn_digits model (compiled), scored on 150
    test digits: at least three times chance."""
    from small_network import digits_test_accuracy
    record = digits_test_accuracy("glsnn_digits", 400, tmp_path)
    assert record["test_accuracy"] >= 0.3, record


@pytest.mark.cuda
@pytest.mark.slow
def test_glsnn_network_compiles_for_cuda(tmp_path):
    """GLSNN's network (two hidden layers: the feedback synapses and the penultimate layer's
    summed error) as a brian2cuda project, compiled with nvcc (no GPU needed; minutes)."""
    from sbp_brian.layered import LayeredRunner
    from sbp_brian.targets import doctor, reset_target
    status = {s.target: s for s in doctor()}["cuda"]
    if not status.compiles:
        pytest.skip(f"CUDA target cannot compile here: {status.reason}")
    try:
        runner = LayeredRunner(config(), "cuda", tmp_path / "cuda", cache=False,
                               compile_only=True)
        assert runner.target == "cuda" and runner.summed
        assert (tmp_path / "cuda" / "main").is_file()
    finally:
        reset_target()


def test_no_feedback_below_keeps_the_lowest_layers_fixed():
    """The ablation of the paper's Fig. 9: with the lowest hidden layer of three without
    feedback its target difference is 0 (its input weights stay), the layer above keeps the
    feedback it has without the ablation; more layers than feedback reaches are refused."""
    sizes = [6, 8, 7, 5, 3]
    full = feedback_matrices(sizes, 0, 1.0, 0.1)
    ablated = feedback_matrices(sizes, 0, 1.0, 0.1, no_feedback_below=1)
    assert not ablated[0][0].any() and not ablated[0][1].any()
    np.testing.assert_array_equal(ablated[1][0], full[1][0])
    rates = [np.full(n, 0.5) for n in sizes]
    weights = [np.ones((a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    d = differences(rates, weights, np.eye(3)[0], ablated, eta_t=0.5)
    new = update(weights, [rates[:-1]], [d], eta_w=0.1)
    np.testing.assert_array_equal(new[0], weights[0])
    assert np.abs(new[1] - weights[1]).max() > 0
    c = config(sizes=sizes)
    c.rule = GLSNN(batch_size=2, no_feedback_below=3)
    with pytest.raises(ParameterError, match=r"no_feedback_below = 3: the network has 2 hidden"):
        c.validate()

