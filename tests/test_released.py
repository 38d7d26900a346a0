"""The SBP paper's released algorithm (sbp_brian.released, sbp_brian.rules.sbp_released):
its SBP gains on hand-computed examples, the neutral settings, the relaxation, the network
kind in the trainer (learning, resuming, options), all on small data."""
import numpy as np
import pytest

from sbp_brian.parameters import ParameterError
from sbp_brian.rules.sbp_released import (base_change, contrastive_update, relax,
                                          sbp_modulation, sigma1)
from sbp_brian.runs import make_config, make_trainer, read_metrics

OUTPUT_CHANGE = np.array([[0.2, -0.1], [0.3, -0.4]])
HIDDEN_CHANGE = np.array([[0.1, -0.2], [-0.3, 0.4]])


def test_output_projection_gains_by_hand():
    # f = 0.5, lambdas (1, 0.5, 1); p = 0.1 cancels in the shares.
    # LTP rows 0.2, 0.3 -> shares 0.4, 0.6 -> presynaptic gains 1.2, 1.3;
    # |LTD| rows 0.1, 0.4 -> 0.2, 0.8 -> 1.1, 1.4; |LTD| columns 0, 0.5 -> 0, 1 -> 1, 1.25
    change, (ltp_rows, ltd_rows) = sbp_modulation(OUTPUT_CHANGE, f=0.5, p=0.1)
    expected = [[0.2 * 1.2, (-0.1 * 1.4 / 1.4 * 1.1 - 0.1 * 1.25) / 2],
                [0.3 * 1.3, (-0.4 * 1.4 - 0.4 * 1.25) / 2]]
    assert np.allclose(change, expected, atol=1e-12)
    assert np.allclose(ltp_rows, [0.24, 0.39]) and np.allclose(ltd_rows, [-0.11, -0.56])


def test_hidden_projection_gains_by_hand():
    # the layer above: LTP_pre rows 0.24, 0.39 (shares 24/63, 39/63), LTD_pre rows -0.11,
    # -0.56 (shares 11/67, 56/67); this layer: presynaptic gains 1.1, 1.4 (LTP) and 1.2, 1.3
    # (LTD), postsynaptic LTD gains 1.15, 1.1 (lambda_post 0.5)
    change, _ = sbp_modulation(HIDDEN_CHANGE, f=0.5, p=0.1,
                               above=(np.array([0.24, 0.39]), np.array([-0.11, -0.56])))
    ltp_bp = [1 + 0.5 * 24 / 63, 1 + 0.5 * 39 / 63]
    ltd_bp = [1 + 0.5 * 11 / 67, 1 + 0.5 * 56 / 67]
    expected = [[(0.1 * 1.1 + 0.1 * ltp_bp[0]) / 2, -0.2 * (1.2 + 1.1 + ltd_bp[1]) / 3],
                [-0.3 * (1.3 + 1.15 + ltd_bp[0]) / 3, (0.4 * 1.4 + 0.4 * ltp_bp[1]) / 2]]
    assert np.allclose(change, expected, atol=1e-12)


@pytest.mark.parametrize("f, p", [(0.0, 0.1), (0.7, 0.0)])
def test_neutral_settings_leave_the_change_as_it_is(f, p):
    above = (np.array([0.24, 0.39]), np.array([-0.11, -0.56]))
    for args in ({}, {"above": above}):
        change, _ = sbp_modulation(HIDDEN_CHANGE, f=f, p=p, **args)
        assert np.allclose(change, HIDDEN_CHANGE, atol=1e-15)


def test_p_cancels_and_f_is_the_live_knob():
    above = (np.array([0.24, 0.39]), np.array([-0.11, -0.56]))
    a, _ = sbp_modulation(HIDDEN_CHANGE, f=0.5, p=0.1, above=above)
    b, _ = sbp_modulation(HIDDEN_CHANGE, f=0.5, p=0.9, above=above)
    c, _ = sbp_modulation(HIDDEN_CHANGE, f=0.9, p=0.1, above=above)
    assert np.allclose(a, b, atol=1e-14) and not np.allclose(a, c)


def test_contrastive_changes_by_hand():
    pre_free, pre_nudged = np.array([[1.0, 0.5]]), np.array([[0.8, 0.5]])
    post_free, post_nudged = np.array([[0.2]]), np.array([[0.6]])
    beta = 0.5
    assert np.allclose(base_change("sbp", pre_free, pre_nudged, post_free, post_nudged, beta),
                       [[0.4 / 0.5], [0.2 / 0.5]])
    assert np.allclose(base_change("symmetric", pre_free, pre_nudged, post_free, post_nudged,
                                   beta), [[(0.48 - 0.2) / 0.5], [(0.3 - 0.1) / 0.5]])
    assert np.allclose(base_change("differential", pre_free, pre_nudged, post_free,
                                   post_nudged, beta), [[-0.2 * 0.2 / 0.5], [0.0]])


def test_update_with_neutral_gains_is_the_plain_contrastive_update():
    rng = np.random.default_rng(0)
    sizes = [4, 3, 2]
    free = [rng.uniform(0, 1, (5, n)) for n in sizes]
    nudged = [free[0]] + [x + rng.normal(0, 0.1, x.shape) for x in free[1:]]
    w = [rng.normal(0, 0.3, (a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    b = [np.zeros(n) for n in sizes[1:]]
    new_w, new_b = contrastive_update(free, nudged, w, b, [0.1, 0.05], 0.5, "sbp", f=0.0)
    for layer, rate in enumerate([0.1, 0.05]):
        plain = free[layer].T @ (nudged[layer + 1] - free[layer + 1]) / (0.5 * 5)
        assert np.allclose(new_w[layer], w[layer] + rate * plain)
        assert np.allclose(new_b[layer], rate * np.mean(nudged[layer + 1] - free[layer + 1],
                                                        axis=0) / 0.5)


def test_relaxation_settles_at_its_fixed_point():
    rng = np.random.default_rng(1)
    sizes = [6, 4, 3]
    w = [rng.normal(0, 0.3, (a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    b = [rng.normal(0, 0.1, n) for n in sizes[1:]]
    x = relax([rng.uniform(0, 1, (2, n)) for n in sizes], w, b, 200, 0.5)
    # x = phi(x - eps (x - net)) at the fixed point, phi sigma1 (hidden) or ReLU (output)
    hidden = sigma1(x[1] - 0.5 * (x[1] - x[0] @ w[0] - x[2] @ w[1].T - b[0]))
    output = np.maximum(x[2] - 0.5 * (x[2] - x[1] @ w[1] - b[1]), 0)
    assert np.allclose(x[1], hidden, atol=1e-9) and np.allclose(x[2], output, atol=1e-9)
    target = np.eye(3)[[0, 1]]
    nudged = relax(x, w, b, 200, 0.5, target, beta=0.5)
    # the nudge lowers the squared error and raises every target output
    assert np.sum((nudged[2] - target) ** 2) < np.sum((x[2] - target) ** 2)
    assert np.all(nudged[2][target == 1] > x[2][target == 1])


@pytest.fixture
def digits_model(tmp_path):
    """The released model with 64 inputs, for scikit-learn's digits."""
    from sbp_brian.model_files import bundled_models
    text = bundled_models()["sbp_released"].read_text()
    text = text.replace('value = 784, source = "28x28 images (:47)"', 'value = 64, source = "digits"')
    path = tmp_path / "released_digits.toml"
    path.write_text(text)
    return str(path)


def test_released_algorithm_learns_digits(digits_model, tmp_path):
    options = {"model": digits_model, "dataset": "digits", "epochs": 3}
    trainer = make_trainer(options, tmp_path / "run", progress=False)
    trainer.fit()
    records = read_metrics(tmp_path / "run")
    assert records[-1]["test_accuracy"] > 0.8  # chance 0.1; 0.87 measured
    assert records[-1]["hidden_spikes_per_neuron_per_sample"] > 0


def test_a_resumed_run_equals_an_uninterrupted_one(digits_model, tmp_path):
    options = {"model": digits_model, "dataset": "digits", "epochs": 1, "samples": 400,
               "test_samples": 100}
    whole = make_trainer(options, tmp_path / "whole", progress=False)
    whole.fit()
    first = make_trainer(options, tmp_path / "parts", progress=False)
    first.config.chunk = 100
    whole_chunks = make_trainer(options, tmp_path / "whole_chunks", progress=False)
    whole_chunks.config.chunk = 100
    whole_chunks.fit()
    first.fit(stop_after_chunks=2)
    second = make_trainer(options, tmp_path / "parts", resume=True, progress=False)
    second.config.chunk = 100
    second.fit()
    for key, value in whole_chunks.weights.items():
        assert np.array_equal(second.weights[key], value), key
    # chunks only split the work: the same batches in the same order
    for key, value in whole.weights.items():
        assert np.allclose(whole_chunks.weights[key], value, atol=1e-12), key


def test_options_map_onto_the_released_code(digits_model):
    from sbp_brian.datasets import load_dataset
    data = load_dataset("digits")
    assert make_config({"model": digits_model}, data).update == "sbp"
    assert make_config({"model": digits_model, "no_sbp": True}, data).update == "symmetric"
    control = make_config({"model": digits_model, "freeze_hidden": True, "no_sbp": True}, data)
    assert control.rule.alpha == [0.0, 0.05]
    assert make_config({"model": digits_model, "f": 0.7}, data).rule.f == 0.7
    for refused in ({"sbp_mode": "weighted"}, {"stdp_scale": 2.0}):
        with pytest.raises(ParameterError, match="released algorithm"):
            make_config({"model": digits_model, **refused}, data)
    with pytest.raises(ParameterError, match="multiple of"):
        make_config({"model": digits_model, "batch_size": 30}, data)


def test_the_code_s_stp_step_by_hand():
    from sbp_brian.released import _stp
    state = {"stp_u": np.array([0.1]), "stp_x": np.array([1.0]), "stp_i": np.array([0.1])}
    params = {"stp_U": 0.45, "stp_tau_f": 10.0, "stp_tau_d": 2.0, "stp_tau_s": 2.0}
    current = _stp(state, np.array([0.5]), params)
    u = 0.1 - 0.1 / 10 + 0.45 * 0.5 * 0.9          # 0.2925
    x = 1.0 + 0.0 / 2 - u * 1.0 * 0.5              # each from the others' new values
    i = 0.1 - 0.1 / 2 + u * x * 0.5
    assert np.allclose([state["stp_u"][0], state["stp_x"][0], current[0]], [u, x, i])


@pytest.mark.parametrize("carry", ["carried", "reset"])
def test_state_carries_over_between_batches_only_when_asked(digits_model, carry):
    from sbp_brian.datasets import load_dataset
    data = load_dataset("digits")
    config = make_config({"model": digits_model}, data)
    config.state = carry
    runner = config.make_runner("numpy")
    state = config.initial_state(np.random.default_rng(0))
    batch = data.x_train[:50]
    twice = np.concatenate([batch, batch])
    _, responses = runner.run_state(twice, np.zeros((100, 10)), state, learn=False, seed=0)
    same = np.allclose(responses.potentials[:50], responses.potentials[50:], atol=1e-12)
    assert same == (carry == "reset")


@pytest.mark.filterwarnings("ignore:overflow")
def test_stp_changes_the_feedforward_phase_and_diverges_on_negative_currents(digits_model):
    """The code's STP is off in every released script; switched on, its unit-time Euler step
    grows without bound where a unit's input current is negative (the current sigma1 is in
    (-1, 1)): u <- u (0.9 - 0.45 I) + 0.45 I grows by 1.35 per step at I = -1."""
    from sbp_brian.datasets import load_dataset
    data = load_dataset("digits")
    outputs = {}
    for stp in (False, True):
        config = make_config({"model": digits_model}, data)
        config.stp = stp
        state = config.initial_state(np.random.default_rng(0))
        assert ("stp_u_1" in state) == stp
        _, responses = config.make_runner("numpy").run_state(
            data.x_train[:50], np.zeros((50, 10)), state, learn=False, seed=0)
        outputs[stp] = responses.potentials
    assert not np.allclose(outputs[False], outputs[True])
    from sbp_brian.released import _stp
    unit = {"stp_u": np.array([0.1]), "stp_x": np.array([1.0]), "stp_i": np.array([0.1])}
    for _ in range(20):
        _stp(unit, np.array([-0.5]), config.params)
    assert abs(unit["stp_u"][0]) > 10


def test_a_key_the_released_algorithm_does_not_read_is_refused(digits_model, tmp_path):
    from pathlib import Path

    from sbp_brian.datasets import load_dataset
    from sbp_brian.model_files import ModelFileError
    path = tmp_path / "with_teacher.toml"
    path.write_text(Path(digits_model).read_text()
                    + '\n[teacher]\nrate = { value = "100*Hz", source = "a test" }\n')
    with pytest.raises(ModelFileError, match=r"\[teacher\] rate is not read by the released"):
        make_config({"model": str(path)}, load_dataset("digits"))
