"""The SBP paper's spiking MLP (sbp_brian.mlp, sbp_brian.rules.sbp_mlp): back-propagation
through time against finite differences (with a smooth spike, whose derivative the backward
pass is given), the pseudo-gradient, SBP's replacement by hand, the network kind in the trainer
(learning, resuming, options)."""
import numpy as np
import pytest
from small_network import resumed_and_uninterrupted

from sbp_brian.parameters import ParameterError
from sbp_brian.rules.sbp_mlp import (MLPRule, backward, energy_terms, forward, heaviside,
                                     hebbian_difference, loss_gradients, rectangle, sbp_gradients)
from sbp_brian.runs import make_config, make_trainer, read_metrics

WIDTH = 0.05


def smooth_spike(v, threshold, window):
    return 1 / (1 + np.exp(-(v - threshold) / WIDTH))


def smooth_derivative(v, threshold, window):
    s = smooth_spike(v, threshold, window)
    return s * (1 - s) / WIDTH


def tiny(seed=0, sizes=(3, 4, 4, 2), steps=5, batch=3):
    rng = np.random.default_rng(seed)
    w = [rng.normal(0, 1.5, (a, c)) for a, c in zip(sizes[:-1], sizes[1:])]
    b = [rng.normal(0, 0.5, c) for c in sizes[1:]]
    x_steps = (rng.random((steps, batch, sizes[0])) < 0.6).astype(float)
    target = np.eye(sizes[-1])[rng.integers(0, sizes[-1], batch)]
    return x_steps, target, w, b


def total_loss(x_steps, target, w, b, energy_weight, w_energy):
    """The loss, the energy's weights held at ``w_energy`` (the code's ``.data``: no gradient
    reaches a weight through the energy directly, only through the spikes)."""
    record = forward(x_steps, w, b, spike=smooth_spike)
    return loss_gradients(record, w_energy, target, energy_weight)[0]


@pytest.mark.parametrize("energy_weight", [0.0, 0.1])
def test_backpropagation_through_time_equals_finite_differences(energy_weight):
    # two hidden layers, so that the gradient crosses layers, steps and the reset
    x_steps, target, w, b = tiny()
    record = forward(x_steps, w, b, spike=smooth_spike)
    assert all(abs(e) > 1e-6 for e in energy_terms(record, w))  # |e| differentiable here
    _, spike_grads = loss_gradients(record, w, target, energy_weight)
    dws, dbs = backward(record, w, spike_grads, derivative=smooth_derivative)
    w_energy = [v.copy() for v in w]
    step = 1e-6
    for grads, params in ((dws, w), (dbs, b)):
        for grad, value in zip(grads, params):
            numeric = np.zeros_like(value)
            for index in np.ndindex(value.shape):
                value[index] += step
                up = total_loss(x_steps, target, w, b, energy_weight, w_energy)
                value[index] -= 2 * step
                down = total_loss(x_steps, target, w, b, energy_weight, w_energy)
                value[index] += step
                numeric[index] = (up - down) / (2 * step)
            assert np.allclose(grad, numeric, rtol=1e-4, atol=1e-9)


def test_the_membrane_by_hand():
    # one neuron, input current sigmoid(a) - 0.1 with a = 2: 0.7808 per step
    x_steps = np.ones((3, 1, 1))
    record = forward(x_steps, [np.array([[2.0]])], [np.array([0.0])])
    current = 1 / (1 + np.exp(-2.0)) - 0.1
    v1 = current                      # 0.78 > 0.5: a spike
    v2 = 0.2 * v1 * (1 - 1) + current  # reset by the spike: the decayed term is gone
    assert np.allclose(record["layers"][0]["V"][:, 0, 0], [v1, v2, current])
    assert np.array_equal(record["layers"][0]["s"][:, 0, 0], [1, 1, 1])
    assert record["output"][0, 0] == 1.0


def test_the_pseudo_gradient_is_the_rectangle_around_the_threshold():
    v = np.array([0.1, 0.21, 0.5, 0.79, 0.81])
    assert np.array_equal(rectangle(v, 0.5, 0.3), [0, 1, 1, 1, 0])
    assert np.array_equal(heaviside(v, 0.5, 0.3), [0, 0, 0, 1, 1])


def test_sbp_replaces_the_hidden_gradient_by_hand():
    x_steps, target, w, b = tiny(sizes=(3, 4, 2), steps=4, batch=2)
    record = forward(x_steps, w, b)
    out_grad = np.array([[0.1, -0.3], [0.0, 0.2], [0.5, 0.5], [-0.4, 0.0]])
    dws, dbs = [np.ones((3, 4)), out_grad], [np.ones(4), np.ones(2)]
    feedback = [np.arange(8.0).reshape(4, 2) / 10]
    new_w, new_b = sbp_gradients(dws, dbs, record, target, feedback)
    sp = 0.01 * np.array([0.4, 0.2, 1.0, 0.4]) / 8
    error = target - record["output"]
    s_in = x_steps[-1]
    expected = np.zeros((3, 4))
    for i in range(3):
        for j in range(4):
            expected[i, j] = sum(sp[j] * feedback[0][j, k] * error[n, k] * s_in[n, i]
                                 for k in range(2) for n in range(2))
    expected += 0.01 * hebbian_difference(record, 0) * sp[None, :]
    assert np.allclose(new_w[0], expected)
    assert new_w[1] is out_grad  # the output layer keeps its gradient
    assert all(np.array_equal(g, np.zeros_like(g)) for g in new_b)  # every bias's is zero


def test_the_hebbian_difference_by_hand():
    pre = np.zeros((4, 1, 1))
    post = np.zeros((4, 1, 1))
    pre[:, 0, 0] = [1, 0, 1, 1]
    post[:, 0, 0] = [0, 1, 1, 1]
    record = {"layers": [{"input": pre, "s": post}]}
    # P_t = pre(t-1) post(t): P_2 = 1, P_3 = 0, P_4 = 1; P_4 + P_3 - P_2 - P_3 = 0
    assert hebbian_difference(record, 0)[0, 0] == 0.0
    post[1, 0, 0] = 0  # P_2 = 0: the difference becomes 1
    assert hebbian_difference(record, 0)[0, 0] == 1.0


def test_true_gradient_batches_and_the_frozen_control():
    x_steps, target, w, b = tiny(sizes=(3, 4, 2), steps=4, batch=2)
    feedback = [np.ones((4, 2))]
    params = {"decay": 0.2, "threshold": 0.5, "window": 0.3, "current_offset": 0.1,
              "energy_weight": 0.1, "sbp_scale": 0.01, "hebb_scale": 0.01,
              "true_gradient_every": 3}
    plain = MLPRule(params, with_sbp=False).gradients(x_steps, target, w, b, feedback, 0)
    sbp = MLPRule(params, with_sbp=True)
    replaced = sbp.gradients(x_steps, target, w, b, feedback, 0)
    assert not np.allclose(replaced[2][0], plain[2][0])
    true = sbp.gradients(x_steps, target, w, b, feedback, 2)  # the third batch: bp_mark
    assert np.array_equal(true[2][0], plain[2][0]) and not true[3][-1].any()
    frozen = MLPRule(params, with_sbp=False, frozen_hidden=True).gradients(
        x_steps, target, w, b, feedback, 0)
    assert not frozen[2][0].any() and not frozen[3][0].any()
    assert np.array_equal(frozen[2][1], plain[2][1])


def test_the_spiking_mlp_learns_digits(tmp_path):
    options = {"model": "sbp_mlp_digits", "dataset": "digits", "epochs": 4}
    make_trainer(options, tmp_path / "run", progress=False).fit()
    records = read_metrics(tmp_path / "run")
    assert records[-1]["test_accuracy"] > 0.6  # chance 0.1; 0.84 measured
    assert records[-1]["hidden_spikes_per_neuron_per_sample"] > 0


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    options = {"model": "sbp_mlp_digits", "dataset": "digits", "epochs": 2, "samples": 400,
               "test_samples": 100, "chunk": 100}
    whole, _ = resumed_and_uninterrupted(options, tmp_path, stop_after_chunks=3)
    assert int(whole.weights["adam_step"]) == 8 and int(whole.weights["samples"]) == 800


def test_options_map_onto_the_mlp():
    from sbp_brian.datasets import load_dataset
    data = load_dataset("digits")
    assert make_config({"model": "sbp_mlp_digits"}, data).rule.with_sbp
    assert not make_config({"model": "sbp_mlp_digits", "no_sbp": True}, data).rule.with_sbp
    control = make_config({"model": "sbp_mlp_digits", "freeze_hidden": True, "no_sbp": True},
                          data)
    assert control.rule.frozen_hidden and not control.rule.with_sbp
    for refused in ({"sbp_mode": "weighted"}, {"p": 0.3}, {"copies": 2}):
        with pytest.raises(ParameterError, match="spiking MLP"):
            make_config({"model": "sbp_mlp_digits", **refused}, data)
    with pytest.raises(ParameterError, match="multiple of"):
        make_config({"model": "sbp_mlp_digits", "batch_size": 30}, data)
