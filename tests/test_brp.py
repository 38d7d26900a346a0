"""BRP (rules/brp.py): the network's spikes and its generated updates equal the numpy
reference of the released discrete map on the same input spikes (SGD and Adam, every
signal); the reference equals a hand computation; the rule learns."""
import numpy as np
import pytest
from brian2 import Hz, ms, mV

from sbp_brian.layered import LayeredConfig, LayeredNetwork
from sbp_brian.parameters import ParameterError
from sbp_brian.rules.brp import (BRP, adam_update, feedback_matrices, gradients, sgd_update,
                                 signals, simulate_sample)

#: The released map's neurons: 0.2 of the membrane kept per 1 ms step, threshold 0.5
NEURONS = dict(tau_m=1 * ms / np.log(5), V_L=0 * mV, V_th=0.5 * mV, V_reset=0 * mV,
               t_ref=0 * ms)
TRANSMISSION = {"model": "voltage_transmission", "v_w": 1 * mV}


def config(sizes=(6, 8, 7, 3), batch_size=2, chunk=4, **rule):
    rule = {"eta": 0.05, "eta_hidden": 0.02, "batch_size": batch_size, **rule}
    return LayeredConfig(
        sizes=list(sizes), dt=1 * ms, sample_duration=10 * ms, max_rate=500 * Hz,
        hidden=NEURONS, output=NEURONS, neuron_model="lif", transmission_hidden=TRANSMISSION,
        transmission_output=TRANSMISSION, chunk=chunk, rule=BRP(**rule))


def test_simulate_sample_by_hand():
    """One input, one hidden, one output neuron, weights 0.4 and 0.6, input spikes in steps
    0, 1 and 3: the membranes, spikes and accumulated traces of the released map."""
    spikes, G = simulate_sample([np.array([[0.4]]), np.array([[0.6]])],
                                np.array([[1], [1], [0], [1]]), [0.5, 0.5], 0.2, 0.5)
    # hidden V: 0.4, 0.08 + 0.4 = 0.48, 0.096, 0.0192 + 0.4 = 0.4192: never above 0.5
    np.testing.assert_array_equal(spikes[1][:, 0], [0, 0, 0, 0])
    # e: 1, 1.2, 0.24, 1.048; every V in (0, 1): G is their sum
    np.testing.assert_allclose(G[0], [[1 + 1.2 + 0.24 + 1.048]])
    np.testing.assert_allclose(G[1], [[0.0]])  # the output hears nothing
    spikes, G = simulate_sample([np.array([[0.7]]), np.array([[0.6]])],
                                np.array([[1], [1], [0]]), [0.5, 0.5], 0.2, 0.5)
    # hidden V: 0.7 (spike), 0 + 0.7 (spike), 0: e 1, 1 (cleared by the spike, then +1), 0;
    # both spikes' V in (0, 1)
    np.testing.assert_array_equal(spikes[1][:, 0], [1, 1, 0])
    np.testing.assert_allclose(G[0], [[2.0]])
    # output V: 0.6 (spike), 0.6 (spike), 0; its e: 1, 1, 0
    np.testing.assert_array_equal(spikes[2][:, 0], [1, 1, 0])
    np.testing.assert_allclose(G[1], [[2.0]])


def test_signals_and_updates_by_hand():
    B = np.array([[1.0, -2.0], [0.5, 0.0]])  # (C = 2, n_hidden = 2)
    rates, target = np.array([0.25, 0.5]), np.array([1.0, 0.0])
    label = signals(rates, target, [B], n_steps=4)
    np.testing.assert_allclose(label[0], [1.0, -2.0])                 # B^T y*
    np.testing.assert_allclose(label[1], [2 * -0.75 / 8, 2 * 0.5 / 8])  # 2 (r - y*)/(C T)
    error = signals(rates, target, [B], n_steps=4, signal="error", hidden_scale=2.0)
    np.testing.assert_allclose(error[0], 2.0 * np.array([-0.75 + 0.25, 1.5]))
    sign = signals(rates, target, [B], n_steps=4, signal="sign")
    np.testing.assert_allclose(sign[0], [-1 + 0.5, 2.0])
    G = [np.array([[1.0, 2.0]]), np.array([[3.0, 0.0], [1.0, 1.0]])]
    grads = gradients(G, label)
    np.testing.assert_allclose(grads[0], [[1.0, -4.0]])
    np.testing.assert_allclose(grads[1], [[3 * -0.1875, 0.0], [-0.1875, 0.125]])
    weights = [np.zeros((1, 2)), np.zeros((2, 2))]
    new = sgd_update(weights, [grads, grads], [0.1, 1.0], batch_size=4)
    np.testing.assert_allclose(new[0], -0.1 * 0.5 * grads[0])
    np.testing.assert_allclose(new[1], -0.5 * grads[1])
    # Adam's first step moves every weight with a nonzero gradient by eta (nearly)
    new, moments = adam_update(weights, [(np.zeros_like(w), np.zeros_like(w)) for w in weights],
                               [grads], rates=[0.01, 0.1], batch_size=1, step=1)
    np.testing.assert_allclose(new[0], [[-0.01, 0.01]], rtol=1e-6)
    np.testing.assert_allclose(new[1], [[0.1, 0.0], [0.1, -0.1]], rtol=1e-6)
    np.testing.assert_allclose(moments[0][0], 0.1 * grads[0])
    np.testing.assert_allclose(moments[0][1], 0.001 * grads[0] ** 2)


def fixed_spikes(c, n_samples, seed=5, p=0.5):
    """An input raster (samples, steps, inputs) and the schedule that plays it."""
    rng = np.random.default_rng(seed)
    raster = rng.random((n_samples, c.steps_per_sample, c.sizes[0])) < p
    sample, step, index = np.nonzero(raster)
    return raster, (index, (sample * c.steps_per_sample + step) * c.dt)


def reference_chunk(c, raster, weights, targets, moments=None, adam_steps=0):
    """The numpy reference over one launch's samples, batch by batch; returns the weights,
    Adam's moments and every layer's spike counts per sample."""
    rule = c.rule
    thresholds = [0.5] * (len(c.sizes) - 1)
    feedback = feedback_matrices(c.sizes, c.seed)
    rates = rule.rates(rule.learning_rate(), len(weights))
    counts = []
    for first in range(0, len(raster), rule.batch_size):
        batch = []
        for k in range(first, first + rule.batch_size):
            spikes, G = simulate_sample(weights, raster[k], thresholds, 0.2, 0.5)
            counts.append([s.sum(axis=0) for s in spikes])
            g = signals(counts[-1][-1] / c.steps_per_sample, targets[k], feedback,
                        c.steps_per_sample, rule.signal, rule.hidden_scale)
            batch.append(gradients(G, g))
        if rule.optimizer == "sgd":
            weights = sgd_update(weights, batch, rates, rule.batch_size)
        else:
            adam_steps += 1
            weights, moments = adam_update(weights, moments, batch, rates, rule.batch_size,
                                           adam_steps)
    return weights, moments, counts


@pytest.mark.parametrize("summed, signal, optimizer", [
    (False, "label", "sgd"), (True, "label", "sgd"), (False, "error", "sgd"),
    (False, "sign", "adam"), (True, "label", "adam")])
def test_generated_steps_equal_the_numpy_reference(summed, signal, optimizer):
    """Two hidden layers, four samples of fixed input spikes in two batches: every layer's
    spike counts equal the released map's, and the final weights the reference's updates,
    after checking that every layer fired and every projection moved."""
    from sbp_brian.targets import use_target
    use_target("numpy")
    c = config(signal=signal, optimizer=optimizer, eta=0.05 if optimizer == "sgd" else 0.01)
    raster, schedule = fixed_spikes(c, 4)
    rng = np.random.default_rng(4)
    w0 = [w * 3.0 for w in c.rule.initial_weights(c.sizes, rng)]
    targets = np.eye(3)[[0, 2, 1, 0]]
    net = LayeredNetwork(c, 4, input_schedule=schedule, summed=summed)
    state = c.rule.initial_state(c.sizes)
    drawn = net.load(np.zeros((4, 6)), targets, w0, c.rule.learning_rate(), rule_state=state)
    net.network.run(net.duration(), namespace={})
    for B, B_drawn in zip(feedback_matrices(c.sizes, c.seed), drawn["feedback"]):
        np.testing.assert_array_equal(B, B_drawn)
    moments = [(np.zeros_like(w), np.zeros_like(w)) for w in w0]
    weights, moments, counts = reference_chunk(c, raster, [w.copy() for w in w0], targets,
                                               moments)
    for layer in range(1, 4):
        reference = np.array([sample[layer] for sample in counts])
        assert reference.sum() > 0, f"layer {layer} is silent"
        np.testing.assert_array_equal(net.sample_counts(layer), reference)
    assert all(np.abs(w - before).max() > 1e-4 for w, before in zip(weights, w0))
    for reference, generated in zip(weights, net.weights()):
        np.testing.assert_allclose(generated, reference, rtol=0, atol=1e-12)
    if optimizer == "adam":
        new = c.rule.read_state(net, state)
        assert new["adam_steps"][0] == 2
        for k, (m, v) in enumerate(moments):
            np.testing.assert_allclose(new[f"adam_m_{k}"], m.ravel(), rtol=0, atol=1e-15)
            np.testing.assert_allclose(new[f"adam_v_{k}"], v.ravel(), rtol=0, atol=1e-15)


@pytest.mark.parametrize("device", ["numpy", pytest.param("cpp", marks=pytest.mark.standalone)])
def test_layered_runner_trains_brp_with_adam_as_the_reference(device, tmp_path):
    """The runner the trainer uses: two launches of a chunk of four samples, Adam's moments
    and step count carried from launch to launch in the run's state; "cpp": one compiled
    project relaunched, and a short third launch (two samples: one batch, the project's
    second batch padded, which must not step although the fixed input spikes play on)."""
    from sbp_brian.layered import LayeredRunner
    from sbp_brian.targets import reset_target
    c = config(optimizer="adam", eta=0.01)
    raster, schedule = fixed_spikes(c, 4, seed=6)
    rng = np.random.default_rng(7)
    initial = [w * 3.0 for w in c.rule.initial_weights(c.sizes, rng)]
    targets = np.eye(3)[[0, 2, 1, 0]]
    try:
        runner = LayeredRunner(c, device, tmp_path / "build", input_schedule=schedule)
        state = {**{f"w_{k}": w.ravel() for k, w in enumerate(initial)},
                 **c.rule.initial_state(c.sizes)}
        weights = [w.copy() for w in initial]
        moments = [(np.zeros_like(w), np.zeros_like(w)) for w in weights]
        steps = 0
        for n in (4, 4, 2) if device == "cpp" else (4, 4):
            state, result = runner.run_state(np.zeros((n, 6)), targets[:n], state, learn=True,
                                             seed=n)
            weights, moments, counts = reference_chunk(c, raster[:n], weights, targets[:n],
                                                       moments, steps)
            steps += n // c.rule.batch_size
            np.testing.assert_array_equal(result.counts, [s[-1] for s in counts])
            assert state["adam_steps"][0] == steps
        assert result.counts.sum() > 0
        for k, w in enumerate(weights):
            assert np.abs(w - initial[k]).max() > 1e-3
            np.testing.assert_allclose(state[f"w_{k}"], w.ravel(), rtol=0, atol=1e-12)
            np.testing.assert_allclose(state[f"adam_m_{k}"], moments[k][0].ravel(), atol=1e-15)
    finally:
        reset_target()


@pytest.mark.parametrize("change, message", [
    (dict(batch_size=3), r"batch_size = 3 must divide the \[training\] chunk \(4\)"),
])
def test_brp_refuses_what_it_cannot_train(change, message):
    with pytest.raises(ParameterError, match=message):
        config(**change).validate()


def test_brp_refuses_neurons_that_do_not_reset_to_rest():
    c = config()
    c.hidden = {**NEURONS, "t_ref": 1 * ms}
    with pytest.raises(ParameterError, match=r"layer 1's neurons to reset to rest"):
        c.validate()
    c = config()
    c.transmission_output = {"model": "current_transmission"}
    with pytest.raises(ParameterError, match=r"into the output layer must be a "
                                             r"voltage_transmission"):
        c.validate()
    with pytest.raises(ParameterError, match=r"\[brp\] signal = 'labels': one of label"):
        BRP(signal="labels")


@pytest.mark.standalone
def test_brp_learns_digits_above_chance(tmp_path):
    """One epoch of 1000 digits (20 Adam steps of 50) with the bundled brp_digits model
    (compiled), scored on 150 test digits: at least five times chance."""
    from small_network import digits_test_accuracy
    record = digits_test_accuracy("brp_digits", 1000, tmp_path)
    assert record["test_accuracy"] >= 0.5, record


def test_brp_model_files_build_layered_networks(tmp_path):
    """The bundled models build, with the released map's decay of 0.2 per step."""
    from sbp_brian.model_files import load_model
    for name, n_input in (("brp_digits", 64), ("brp_mnist", 784), ("brp_fashion", 784)):
        c = LayeredConfig.from_model(load_model(name), n_input, 10)
        assert c.neuron_model == "lif" and c.rule.name == "brp" and c.bias_input
        assert c.rule.namespace(c)["brp_decay_1"] == pytest.approx(0.2, abs=1e-12)


@pytest.mark.cuda
@pytest.mark.slow
def test_brp_network_compiles_for_cuda(tmp_path):
    """BRP's network with Adam (its every-step accumulation on the synapses, the sample-end
    step with summed feedback) and event frames as its input (``encoding = "events"``) as a
    brian2cuda project, compiled with nvcc (no GPU needed; minutes, so not in the default
    run)."""
    from sbp_brian.layered import LayeredRunner
    from sbp_brian.targets import doctor, reset_target
    status = {s.target: s for s in doctor()}["cuda"]
    if not status.compiles:
        pytest.skip(f"CUDA target cannot compile here: {status.reason}")
    c = config(optimizer="adam", eta=0.01)
    c.encoding, c.frames = "events", 5
    c.validate()
    try:
        runner = LayeredRunner(c, "cuda", tmp_path / "cuda", cache=False, compile_only=True)
        assert runner.target == "cuda" and runner.summed
        assert (tmp_path / "cuda" / "main").is_file()
    finally:
        reset_target()


@pytest.mark.parametrize("device", ["numpy", pytest.param("cpp", marks=pytest.mark.standalone)])
def test_event_frames_are_the_input_spikes(device, tmp_path):
    """``[input] encoding = "events"``: each sample is 5 frames of 6 inputs, each frame shown
    for 2 steps; an input spikes at a frame's first step where the frame holds an event, and
    nowhere else.  The network then equals the reference fed that raster (a bias input on in
    every frame), through the runner the trainer uses (numpy; cpp: a compiled project)."""
    from sbp_brian.layered import LayeredRunner
    from sbp_brian.targets import reset_target
    c = config(sizes=(7, 8, 7, 3), chunk=4)
    c.encoding, c.frames, c.bias_input = "events", 5, True
    c.validate()
    rng = np.random.default_rng(3)
    frames = rng.random((4, 5, 6)) < 0.5
    raster = np.zeros((4, c.steps_per_sample, 7), dtype=bool)
    raster[:, ::2, :6] = frames
    raster[:, ::2, 6] = True  # the bias input
    weights = [w * 3.0 for w in c.rule.initial_weights(c.sizes, np.random.default_rng(8))]
    targets = np.eye(3)[[0, 2, 1, 0]]
    try:
        runner = LayeredRunner(c, device, tmp_path / "build")
        state = {**{f"w_{k}": w.ravel() for k, w in enumerate(weights)},
                 **c.rule.initial_state(c.sizes)}
        state, result = runner.run_state(frames.reshape(4, -1).astype(float), targets, state,
                                         learn=True, seed=1)
    finally:
        reset_target()
    reference, _, counts = reference_chunk(c, raster, [w.copy() for w in weights], targets)
    np.testing.assert_array_equal(result.counts, [s[-1] for s in counts])
    assert result.counts.sum() > 0
    for k, w in enumerate(reference):
        np.testing.assert_allclose(state[f"w_{k}"], w.ravel(), rtol=0, atol=1e-12)


def test_event_frames_must_fill_whole_steps_and_need_events():
    c = config()
    c.encoding, c.frames = "events", 3  # 10 steps in 3 frames
    with pytest.raises(ParameterError, match="a frame must last whole time steps"):
        c.validate()
    c.encoding = "bernoulli"
    with pytest.raises(ParameterError, match="frames are the input of encoding = \"events\""):
        c.validate()
