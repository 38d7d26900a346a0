"""The SBP paper's RBM (sbp_brian.rbm, sbp_brian.rules.sbp_rbm): the energies' gradients by
finite differences, the contrastive update and Eq. 21 by hand, the wake phases' schedule and
its neutral setting, the network kind in the trainer (learning, resuming, options)."""
import numpy as np
import pytest
from small_network import resumed_and_uninterrupted

from sbp_brian.parameters import ParameterError
from sbp_brian.rules.sbp_rbm import (RBMRule, contrastive_changes, cost, energy,
                                     energy_parameter_gradients, relax, sbp_change,
                                     state_gradients)
from sbp_brian.runs import make_config, make_trainer, read_metrics


def small_network(seed=0, sizes=(4, 3, 2), batch=5):
    rng = np.random.default_rng(seed)
    w = [rng.normal(0, 0.5, (sizes[0], sizes[1])), rng.normal(0, 0.5, (sizes[1], sizes[2]))]
    b = [rng.normal(0, 0.2, sizes[1]), rng.normal(0, 0.2, sizes[2])]
    # states strictly inside (0, 1), where rho is the identity and differentiable
    x, h, o = (rng.uniform(0.1, 0.9, (batch, n)) for n in sizes)
    return x, h, o, w, b


@pytest.mark.parametrize("kind", ["standard", "sbp"])
@pytest.mark.parametrize("beta", [0.0, 0.3, -0.2])
def test_state_gradients_are_the_energy_s_derivatives(kind, beta):
    x, h, o, w, b = small_network()
    target = np.eye(2)[[0, 1, 1, 0, 1]]

    def total(h_, o_):
        return (energy(x, h_, o_, w, b, kind, 0.5) + beta * cost(o_, target)).sum()

    dh, do = state_gradients(x, h, o, w, b, kind, 0.5, target, beta)
    step = 1e-6
    for state, grad, which in ((h, dh, 0), (o, do, 1)):
        numeric = np.zeros_like(state)
        for index in np.ndindex(state.shape):
            up, down = state.copy(), state.copy()
            up[index] += step
            down[index] -= step
            pair_up = (up, o) if which == 0 else (h, up)
            pair_down = (down, o) if which == 0 else (h, down)
            numeric[index] = (total(*pair_up) - total(*pair_down)) / (2 * step)
        assert np.allclose(grad, numeric, atol=1e-7), (kind, which)


@pytest.mark.parametrize("kind", ["standard", "sbp"])
def test_parameter_gradients_are_the_mean_energy_s_derivatives(kind):
    x, h, o, w, b = small_network(seed=1)
    grads = energy_parameter_gradients(x, h, o, kind, 0.5)
    params = {"W_0": w[0], "W_1": w[1], "b_1": b[0], "b_2": b[1]}
    step = 1e-6
    for name, value in params.items():
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            value[index] += step
            up = energy(x, h, o, w, b, kind, 0.5).mean()
            value[index] -= 2 * step
            down = energy(x, h, o, w, b, kind, 0.5).mean()
            value[index] += step
            numeric[index] = (up - down) / (2 * step)
        assert np.allclose(grads[name], numeric, atol=1e-7), (kind, name)


def test_the_sbp_energy_as_released_by_hand():
    # one unit per layer: E = x w0 h + x^2 + theta (h w1 o + h^2) + 2 b1 h + b2 o
    x, h, o = np.array([[0.5]]), np.array([[0.4]]), np.array([[0.8]])
    w, b = [np.array([[2.0]]), np.array([[-1.0]])], [np.array([0.1]), np.array([0.3])]
    expected = 0.5 * 2 * 0.4 + 0.25 + 0.5 * (0.4 * -1 * 0.8 + 0.16) + 2 * 0.1 * 0.4 + 0.3 * 0.8
    assert energy(x, h, o, w, b, "sbp", 0.5)[0] == pytest.approx(expected)
    # and the standard one: |s|^2/2 - b.s - x w0 h - h w1 o
    expected = (0.25 + 0.16 + 0.64) / 2 - 0.04 - 0.24 - 0.4 + 0.32
    assert energy(x, h, o, w, b, "standard")[0] == pytest.approx(expected)


def test_contrastive_changes_by_hand():
    # two samples, one unit per layer, the standard energy: dW_0 = mean x (h_b - h_0)/beta,
    # dW_1 = mean (h_b o_b - h_0 o_0)/beta, db = mean (s_b - s_0)/beta
    x = np.array([[1.0], [0.5]])
    sleep = (np.array([[0.2], [0.4]]), np.array([[0.1], [0.3]]))
    wake = (np.array([[0.3], [0.2]]), np.array([[0.6], [0.1]]))
    change = contrastive_changes(x, sleep, wake, 0.5, "standard")
    assert change["W_0"][0, 0] == pytest.approx((1.0 * 0.1 + 0.5 * -0.2) / 2 / 0.5)
    assert change["W_1"][0, 0] == pytest.approx(((0.18 - 0.02) + (0.02 - 0.12)) / 2 / 0.5)
    assert change["b_1"][0] == pytest.approx((0.1 - 0.2) / 2 / 0.5)
    assert change["b_2"][0] == pytest.approx((0.5 - 0.2) / 2 / 0.5)
    # the Eq. 19 energy: signs flipped, theta on W_1, the hidden bias twice
    change = contrastive_changes(x, sleep, wake, 0.5, "sbp", theta=0.5)
    assert change["W_0"][0, 0] == pytest.approx(-(1.0 * 0.1 + 0.5 * -0.2) / 2 / 0.5)
    assert change["W_1"][0, 0] == pytest.approx(-0.5 * ((0.18 - 0.02) + (0.02 - 0.12)) / 2 / 0.5)
    assert change["b_1"][0] == pytest.approx(-2 * (0.1 - 0.2) / 2 / 0.5)


def test_eq_21_by_hand():
    x = np.array([[1.0, 0.5], [0.0, 1.0]])
    h = np.array([[0.2, 0.4], [0.6, 0.0]])
    output_change = np.array([[0.5, 1.5], [-2.0, 0.0]])  # row sums 2 and -2
    change = sbp_change(x, h, output_change, eta=0.1, f=0.7, p=0.3)
    sig = 1 / (1 + np.exp(-0.3 * np.array([2.0, -2.0])))
    hebb = np.array([[1.0 * 0.2 + 0.0, 1.0 * 0.4 + 0.0], [0.5 * 0.2 + 1.0 * 0.6, 0.5 * 0.4]]) / 2
    assert np.allclose(change, 0.1 * 0.7 * (1 + sig)[None, :] * hebb)
    # as printed it never depresses: in [0, 2 eta u_i u_j]
    assert np.all(change >= 0) and np.all(change <= 2 * 0.1 * hebb + 1e-15)


def test_relaxation_settles_at_a_fixed_point_of_the_standard_energy():
    x, h, o, w, b = small_network(seed=2)
    h, o = relax(x, np.zeros_like(h), np.zeros_like(o), w, b, 200, 0.5, "standard")
    dh, do = state_gradients(x, h, o, w, b, "standard")
    # inside (0, 1) the gradient vanishes; at a bound it points out of [0, 1]
    for s, d in ((h, dh), (o, do)):
        inside = (s > 0) & (s < 1)
        assert np.allclose(d[inside], 0, atol=1e-9)
        assert np.all(d[s == 0] >= 0) and np.all(d[s == 1] <= 0)


def test_wake_phases_alternate_only_in_the_paper_reading_with_sbp():
    paper = RBMRule([0.1, 0.05], reading="paper", wake_ii_every=2)
    assert [paper.wake_phase(k) for k in range(4)] == ["I", "II", "I", "II"]
    assert [RBMRule([0.1, 0.05], reading="paper", wake_ii_every=3).wake_phase(k)
            for k in range(3)] == ["I", "I", "II"]
    for rule in (RBMRule([0.1, 0.05], reading="paper", with_sbp=False),
                 RBMRule([0.1, 0.05], reading="released")):
        assert {rule.wake_phase(k) for k in range(4)} == {"II"}
    assert RBMRule([0.1, 0.05], reading="released", with_sbp=False).energy == "standard"
    assert RBMRule([0.1, 0.05], reading="paper", with_sbp=False).energy == "sbp"


def test_wake_phase_i_replaces_only_the_hidden_update_and_every_batch_ii_is_plain():
    x, h, o, w, b = small_network(seed=3)
    target = np.eye(2)[[0, 1, 1, 0, 1]]
    sleep = relax(x, h, o, w, b, 5, 0.5, "sbp")
    plain = RBMRule([0.1, 0.05], reading="paper", with_sbp=False, epsilon=0.5, beta=0.2,
                    wake_iterations=4)
    sbp = RBMRule([0.1, 0.05], reading="paper", epsilon=0.5, beta=0.2, wake_iterations=4,
                  eta_sbp=0.01)
    w_plain, b_plain = plain.step(x, sleep, target, w, b, batch=0, beta_sign=1.0)
    w_sbp, b_sbp = sbp.step(x, sleep, target, w, b, batch=0, beta_sign=1.0)  # wake phase I
    assert np.array_equal(w_sbp[1], w_plain[1]) and np.array_equal(b_sbp[1], b_plain[1])
    assert np.array_equal(b_sbp[0], b[0]) and not np.allclose(w_sbp[0], w_plain[0])
    wake = relax(x, *sleep, w, b, 4, 0.5, "sbp", 0.5, target, 0.2)
    assert np.allclose(w_sbp[0] - w[0], sbp_change(x, wake[0], w_plain[1] - w[1], 0.01, 0.7,
                                                   0.3))
    # batch 1 is a wake phase II: the plain update of everything
    for got, expected in zip(sbp.step(x, sleep, target, w, b, batch=1, beta_sign=1.0),
                             plain.step(x, sleep, target, w, b, batch=1, beta_sign=1.0)):
        assert all(np.array_equal(g, e) for g, e in zip(got, expected))
    # wake_ii_every = 1, the neutral setting: no wake phase I, the plain update
    neutral = RBMRule([0.1, 0.05], reading="paper", epsilon=0.5, beta=0.2, wake_iterations=4,
                      eta_sbp=0.01, wake_ii_every=1)
    for got, expected in zip(neutral.step(x, sleep, target, w, b, batch=0, beta_sign=-1.0),
                             plain.step(x, sleep, target, w, b, batch=0, beta_sign=-1.0)):
        assert all(np.array_equal(g, e) for g, e in zip(got, expected))


def test_the_rbm_learns_digits(tmp_path):
    options = {"model": "sbp_rbm_digits", "dataset": "digits", "epochs": 3, "no_sbp": True}
    make_trainer(options, tmp_path / "run", progress=False).fit()
    records = read_metrics(tmp_path / "run")
    assert records[-1]["test_accuracy"] > 0.8  # chance 0.1; 0.93 measured


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    options = {"model": "sbp_rbm_digits", "dataset": "digits", "epochs": 2, "samples": 400,
               "test_samples": 100, "chunk": 100}
    whole, _ = resumed_and_uninterrupted(options, tmp_path, stop_after_chunks=5)
    # every training sample has its particle, written by its sleep phases
    assert whole.weights["particles_h"].shape == (400, 500)
    assert np.all(whole.weights["particles_h"].any(axis=1))
    assert int(whole.weights["position"]) == 0 and int(whole.weights["batches"]) == 40


def test_options_map_onto_the_readings(tmp_path):
    from sbp_brian.datasets import load_dataset
    data = load_dataset("digits")
    released = make_config({"model": "sbp_rbm_digits"}, data)
    assert released.rule.energy == "sbp" and released.n_train == len(data.y_train)
    assert make_config({"model": "sbp_rbm_digits", "no_sbp": True}, data).rule.energy == \
        "standard"
    control = make_config({"model": "sbp_rbm_digits", "freeze_hidden": True, "no_sbp": True},
                          data)
    assert control.rule.alpha == [0.0, 0.05]
    for refused in ({"sbp_mode": "weighted"}, {"stdp_scale": 2.0}, {"p": 0.5}):
        with pytest.raises(ParameterError, match="RBM"):
            make_config({"model": "sbp_rbm_digits", **refused}, data)
    from sbp_brian.model_files import bundled_models
    paper = tmp_path / "paper.toml"
    paper.write_text(bundled_models()["sbp_rbm_digits"].read_text().replace(
        'reading = "released"', 'reading = "paper"'))
    config = make_config({"model": str(paper), "f": 0.5}, data)
    assert config.rule.f == 0.5 and config.rule.wake_phase(0) == "I"
    with pytest.raises(ParameterError, match="multiple of"):
        make_config({"model": "sbp_rbm_digits", "batch_size": 30}, data)


def test_the_frozen_control_keeps_the_hidden_layer(tmp_path):
    options = {"model": "sbp_rbm_digits", "dataset": "digits", "epochs": 1, "samples": 200,
               "test_samples": 50, "freeze_hidden": True, "no_sbp": True}
    trainer = make_trainer(options, tmp_path / "run", progress=False)
    start = {k: v.copy() for k, v in trainer.weights.items()}
    trainer.fit()
    assert np.array_equal(trainer.weights["w_0"], start["w_0"])
    assert np.array_equal(trainer.weights["b_1"], start["b_1"])
    assert not np.array_equal(trainer.weights["w_1"], start["w_1"])


def test_more_than_one_hidden_layer_is_refused(tmp_path):
    from sbp_brian.datasets import load_dataset
    from sbp_brian.model_files import ModelFileError, bundled_models
    path = tmp_path / "deep.toml"
    path.write_text(bundled_models()["sbp_rbm_digits"].read_text().replace(
        'hidden = { value = 500,', 'hidden = { value = [500, 100],'))
    with pytest.raises(ModelFileError, match="one hidden layer"):
        make_config({"model": str(path)}, load_dataset("digits"))


def test_evaluation_from_the_evaluated_samples_particles_as_the_code(tmp_path):
    from sbp_brian.model_files import bundled_models
    path = tmp_path / "particles.toml"
    path.write_text(bundled_models()["sbp_rbm_digits"].read_text().replace(
        'update = "sbp"', 'update = "sbp"\nevaluation = "particles"'))
    options = {"model": str(path), "dataset": "digits", "epochs": 2, "samples": 400,
               "test_samples": 100, "chunk": 100}
    # a resumed run equals an uninterrupted one, evaluation state included
    whole, _ = resumed_and_uninterrupted(options, tmp_path, stop_after_chunks=5)
    # every evaluated sample has its particle, carried from one evaluation to the next
    assert whole.weights["eval_particles_o"].shape == (100, 10)
    assert np.all(whole.weights["eval_particles_h"].any(axis=1))
    before = whole.weights["eval_particles_o"].copy()
    whole.evaluate()
    assert not np.array_equal(whole.weights["eval_particles_o"], before)
    assert int(whole.weights["eval_position"]) == 0


@pytest.mark.parametrize("threads", [None, 2])
def test_a_batched_run_uses_the_blas_threads_it_is_given(tmp_path, threads):
    """The batched kinds compute with ``--threads`` BLAS threads (default 1), not the
    environment's: a multi-threaded BLAS sums in another order, and a short RBM run can end
    far elsewhere from that alone."""
    from threadpoolctl import threadpool_info
    options = {"model": "sbp_rbm_digits", "dataset": "digits", "epochs": 1, "samples": 40,
               "test_samples": 20, "threads": threads}
    trainer = make_trainer(options, tmp_path / "run", progress=False)
    runner = trainer.runner()
    seen = []
    inner = runner.runner.run_state

    def run_state(*args, **kwargs):
        seen.append({info["num_threads"] for info in threadpool_info()
                     if info["user_api"] == "blas"})
        return inner(*args, **kwargs)

    runner.runner.run_state = run_state
    trainer.fit()
    assert seen and all(counts == {threads or 1} for counts in seen)
