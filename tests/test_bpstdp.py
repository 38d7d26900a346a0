"""BP-STDP (sbp_brian.rules.bpstdp): the window update on a hand-computed example, and the
generated in-sample step of the layered network (sbp_brian.layered) against the numpy
reference on identical input spikes."""
import dataclasses
import json

import numpy as np
import pytest
from brian2 import Hz, ms, mV, nS

from sbp_brian.layered import LayeredConfig, LayeredNetwork
from sbp_brian.parameters import ParameterError
from sbp_brian.rules import LayeredRule
from sbp_brian.rules.bpstdp import (BPSTDP, hidden_error, output_error, simulate_sample,
                                    teacher_times, window_update)


def test_output_error_rewards_a_silent_target_and_punishes_a_firing_non_target():
    # outputs: target silent, target fired, non-target silent, non-target fired
    np.testing.assert_array_equal(output_error([1, 1, 0, 0], [0, 2, 0, 1]), [1, 0, 0, -1])


def test_window_update_by_hand():
    """Counts in the window: inputs (2, 1), hidden (1, 0), outputs (0, 3), output 0 the
    target.  xi_out = (+1, -1); xi_h = (W2 xi_out) [c_h > 0] = (0.5 - 0.2, gated 0) =
    (0.3, 0) from the *old* W2; dW2 = mu c_h xi_out, dW1 = mu c_in xi_h."""
    w1 = np.array([[1.0, -1.0], [0.5, 0.25]])
    w2 = np.array([[0.5, 0.2], [0.3, -0.4]])
    counts = [np.array([2.0, 1.0]), np.array([1.0, 0.0]), np.array([0.0, 3.0])]
    np.testing.assert_allclose(hidden_error([1, -1], w2, counts[1]), [0.3, 0.0])
    new_w1, new_w2 = window_update([w1, w2], counts, np.array([1.0, 0.0]), mu=0.1)
    np.testing.assert_allclose(new_w2, [[0.6, 0.1], [0.3, -0.4]])
    # with the new W2 the hidden error would be 0.5, and dW1 (0.1, 0.05) instead
    np.testing.assert_allclose(new_w1, [[1.06, -1.0], [0.53, 0.25]])


def config(propagation="same_step", sizes=(6, 8, 5, 3), sample_duration=12 * ms, mu=0.05,
           teacher="regular"):
    return LayeredConfig(
        sizes=list(sizes), dt=1 * ms, sample_duration=sample_duration, max_rate=250 * Hz,
        hidden=dict(theta=0.9 * mV, V_rest=0 * mV), output=dict(theta=0.4 * mV, V_rest=0 * mV),
        transmission_hidden={"model": "voltage_transmission", "v_w": 1 * mV},
        transmission_output={"model": "voltage_transmission", "v_w": 0.5 * mV},
        rule=BPSTDP(mu=mu, propagation=propagation, teacher=teacher))


def test_teacher_times():
    """The regular teacher asks after the last step of every window; the random one after
    each step with probability 1/steps_per_window (the same mean rate, beta)."""
    np.testing.assert_array_equal(np.nonzero(teacher_times("regular", 12, 4))[0], [3, 7, 11])
    drawn = teacher_times("random", 100000, 4, np.random.default_rng(0))
    assert drawn.mean() == pytest.approx(0.25, abs=0.005)
    with pytest.raises(ValueError, match="teacher must be one of"):
        teacher_times("poisson", 12, 4)


def test_the_random_teachers_window_slides_over_the_last_steps():
    """One input -> one hidden -> one output neuron, all firing in every step; the output is
    not the target, so every desired spike gives xi = -1 and dw = mu xi c_pre with c_pre the
    spikes of the last 4 steps of the sample: 1, 2, 4 and 4 after steps 0, 1, 5 and 6."""
    desired = np.zeros(8, dtype=bool)
    desired[[0, 1, 5, 6]] = True
    weights, _ = simulate_sample([np.array([[1.0]]), np.array([[1.0]])], np.ones((8, 1), bool),
                                 [0.5, 0.5], np.array([0.0]), 0.01, 4, desired=desired)
    # the hidden error uses the old output weight (1, 0.99, 0.97, 0.93): its change is the
    # input weight's
    np.testing.assert_allclose(weights[1], [[1 - 0.01 * (1 + 2 + 4 + 4)]])
    np.testing.assert_allclose(weights[0], [[1 - 0.01 * (1 * 1 + 2 * 0.99 + 4 * 0.97
                                                         + 4 * 0.93)]])


def test_a_sample_is_a_whole_number_of_windows():
    with pytest.raises(ParameterError, match="whole number of BP-STDP windows"):
        config(sample_duration=50 * ms).validate()


def fixed_spikes(c, n_samples, rng, p=0.5):
    """A boolean raster per sample and the same spikes as a schedule for the network."""
    raster = rng.random((n_samples, c.steps_per_sample, c.sizes[0])) < p
    sample, step, index = np.nonzero(raster)
    return raster, (index, (sample * c.steps_per_sample + step) * c.dt)


@pytest.mark.parametrize("propagation, summed, second_layer_theta, teacher", [
    ("same_step", False, None, "regular"), ("same_step", True, None, "regular"),
    ("next_step", False, None, "regular"), ("same_step", False, 1.7 * mV, "regular"),
    ("same_step", False, None, "random"), ("same_step", True, None, "random"),
    ("next_step", False, None, "random")])
def test_generated_window_step_equals_the_numpy_reference(propagation, summed,
                                                          second_layer_theta, teacher):
    """Two hidden layers (the error passed down twice), three samples, learning inside each:
    every layer's spikes per sample and the final weights equal the reference's, after
    checking that every layer fired and every projection's weights moved.  Also: the second
    hidden layer with its own threshold (``[neurons.hidden_2]``), and the random teacher
    (its desired spikes drawn once and given to both)."""
    from sbp_brian.targets import use_target
    use_target("numpy")
    c = config(propagation, sample_duration=24 * ms, teacher=teacher)
    if second_layer_theta is not None:
        c = dataclasses.replace(c, layer_neurons={2: dict(theta=second_layer_theta,
                                                          V_rest=0 * mV)})
        assert c.thresholds() == [0.9, 1.7, 0.8]
    rng = np.random.default_rng(3)
    raster, schedule = fixed_spikes(c, 3, rng)
    w0 = c.rule.initial_weights(c.sizes, rng)
    targets = np.eye(3)[[0, 2, 1]]
    net = LayeredNetwork(c, 3, input_schedule=schedule, summed=summed)
    desired = net.load(np.zeros((3, c.sizes[0])), targets, w0, c.rule.mu, seed=5).get("desired")
    assert (desired is None) == (teacher == "regular")
    net.network.run(net.duration(), namespace={})

    weights, counts = w0, []
    for k in range(3):
        weights, totals = simulate_sample(weights, raster[k], c.thresholds(), targets[k],
                                          c.rule.mu, c.rule.steps_per_window(c.dt),
                                          propagation,
                                          None if desired is None else desired[k])
        counts.append(totals)
    for layer in range(len(c.sizes)):
        reference = np.array([sample[layer] for sample in counts])
        assert reference[:, :].sum() > 0, f"layer {layer} never fired"
        np.testing.assert_array_equal(net.sample_counts(layer), reference)
    for before, reference, generated in zip(w0, weights, net.weights()):
        assert np.abs(reference - before).max() > 0.01
        np.testing.assert_allclose(generated, reference, rtol=0, atol=1e-12)


def test_bpstdp_model_files_build_layered_networks_and_refuse_what_they_do_not_read(tmp_path):
    """A model file's [rule] picks the network: the BP-STDP files build layered networks (one
    or two hidden layers, the bias neuron counted in the inputs), the SBP network refuses
    them, and a key a layered network does not read is an error that names it."""
    from sbp_brian.model_files import ModelFileError, load_model
    from sbp_brian.network import TrainingConfig
    from sbp_brian.runs import make_config, make_data
    data = make_data({"dataset": "iris"})
    config = make_config({"model": "bpstdp_iris"}, data)
    assert isinstance(config, LayeredConfig)
    assert config.sizes == [5, 30, 3] and config.bias_input and config.n_input == 4
    deep = LayeredConfig.from_model(load_model("bpstdp_mnist_deep"), 784, 10)
    assert deep.sizes == [785, 500, 150, 10] and deep.thresholds() == [0.9, 25.0, 7.5]
    assert deep.describe()["layer_neurons"]["2"]["theta"] == "25. mV"  # [neurons.hidden_2]
    with pytest.raises(ModelFileError, match=r"\[sizes\] input = 2, but the data set has 4"):
        LayeredConfig.from_model(load_model("bpstdp_xor"), 4, 2)
    with pytest.raises(ModelFileError, match="trains a layered network, not the SBP network"):
        TrainingConfig.from_model(load_model("bpstdp_iris"), 4, 3)
    from sbp_brian.train import TrainingError
    with pytest.raises(TrainingError, match="--no-sbp: options of the SBP network"):
        make_config({"model": "bpstdp_iris", "no_sbp": True}, data)
    text = (load_model("bpstdp_iris").path.read_text()
            + '\n[teacher]\nrate = { value = "200*Hz", source = "x" }\n')
    (tmp_path / "extra.toml").write_text(text)
    with pytest.raises(ModelFileError, match=r"\[teacher\] rate is not read by a layered"):
        LayeredConfig.from_model(load_model(tmp_path / "extra.toml"), 4, 3)
    deep_text = load_model("bpstdp_mnist_deep").path.read_text()
    shallow = LayeredConfig.from_model(load_model("bpstdp_mnist"), 784, 10)
    # a run folder written before per-layer sections and other neuron models resumes
    described = json.loads(json.dumps(shallow.describe()))
    earlier = {k: v for k, v in described.items()
               if k not in ("layer_neurons", "neuron_model", "transmission_hidden",
                            "transmission_output")}
    earlier.update(v_w_hidden="1. mV", v_w_output="1. mV")
    meta = {"config": earlier}
    shallow.upgrade_checkpoint(meta, {})
    assert meta["config"] == described
    for k in (3, 1):
        (tmp_path / "layers.toml").write_text(deep_text.replace("[neurons.hidden_2]",
                                                                f"[neurons.hidden_{k}]"))
        with pytest.raises(ModelFileError, match=rf"\[neurons.hidden_{k}\] names no hidden "
                                                 "layer after the first"):
            LayeredConfig.from_model(load_model(tmp_path / "layers.toml"), 784, 10)
    (tmp_path / "layers.toml").write_text(deep_text + """
[neurons.inhibitory]
model = "integrate_and_fire"
""")
    with pytest.raises(ModelFileError, match=r"\[neurons.hidden_K\] for hidden layers K >= 2 "
                                             r"only, without homeostasis; not \['inhibitory'\]"):
        LayeredConfig.from_model(load_model(tmp_path / "layers.toml"), 784, 10)
    sbp = load_model("sbp_digits").path.read_text().replace(
        'hidden = { value = 500,', 'hidden = { value = [500, 100],')
    (tmp_path / "deep_sbp.toml").write_text(sbp)
    with pytest.raises(ModelFileError, match="the SBP network has one hidden layer"):
        TrainingConfig.from_model(load_model(tmp_path / "deep_sbp.toml"), 64, 10)


@pytest.mark.parametrize("device, teacher", [
    ("numpy", "regular"), pytest.param("cpp", "regular", marks=pytest.mark.standalone),
    ("numpy", "random"), pytest.param("cpp", "random", marks=pytest.mark.slow)])
def test_layered_runner_equals_the_numpy_reference(device, teacher, tmp_path, monkeypatch):
    """The runner the trainer uses, on identical input spikes: two chunks, the second starting
    from the first's weights; "cpp" is the compiled project relaunched per chunk with
    run_args, "numpy" a runtime network per chunk.  The random teacher's desired spikes, drawn
    per chunk from its seed, are read back from the runner for the reference.  The compiled
    project is the one built for another learning rate, from the project cache: mu is set at
    every launch, not compiled in."""
    from sbp_brian.layered import LayeredRunner
    from sbp_brian.targets import reset_target
    c = dataclasses.replace(config(sample_duration=24 * ms, teacher=teacher), chunk=3)
    rng = np.random.default_rng(3)
    raster, schedule = fixed_spikes(c, 3, rng)
    weights = {f"w_{k}": w.ravel() for k, w in enumerate(c.rule.initial_weights(c.sizes, rng))}
    targets = np.eye(3)[[0, 2, 1]]
    try:
        if device == "cpp":
            monkeypatch.setenv("SBP_BRIAN_CACHE_DIR", str(tmp_path / "cache"))
            r = c.rule
            other = dataclasses.replace(c, rule=BPSTDP(r.mu / 3, r.window, r.w_init_sd,
                                                       r.propagation, r.teacher))
            assert not LayeredRunner(other, device, tmp_path / "other",
                                     input_schedule=schedule).cache_hit
        runner = LayeredRunner(c, device, tmp_path / "build", input_schedule=schedule)
        assert runner.cache_hit == (device == "cpp")
        state, reference = weights, [w.reshape(n, m) for w, n, m in zip(
            weights.values(), c.sizes[:-1], c.sizes[1:])]
        for chunk in range(2):
            state, result = runner.run_state(np.zeros((3, 6)), targets, state, learn=True,
                                             seed=chunk)
            counts = []
            for k in range(3):
                reference, totals = simulate_sample(
                    reference, raster[k], c.thresholds(), targets[k], c.rule.mu,
                    c.rule.steps_per_window(c.dt),
                    desired=runner.drawn["desired"][k] if runner.drawn else None)
                counts.append(totals[-1])
            if teacher == "random":  # drawn anew for every chunk
                assert runner.drawn["desired"].shape == (3, 24)
                assert runner.drawn["desired"].any()
            np.testing.assert_array_equal(result.counts, counts)
        for k, w in enumerate(reference):
            assert np.abs(w.ravel() - weights[f"w_{k}"]).max() > 0.01
            np.testing.assert_allclose(state[f"w_{k}"], w.ravel(), rtol=0, atol=1e-12)
    finally:
        reset_target()


@pytest.mark.standalone
def test_bpstdp_learns_iris_above_chance(tmp_path):
    """The bundled bpstdp_iris model (4-30-3 and the bias neuron, compiled), 5 epochs on the
    120 training flowers, scored on the 30 test flowers: far above chance (1/3)."""
    from sbp_brian.runs import make_trainer
    trainer = make_trainer({"model": "bpstdp_iris", "dataset": "iris", "epochs": 5,
                            "device": "cpp"}, tmp_path, progress=False)
    try:
        records = trainer.fit()
    finally:
        trainer.close()
    assert max(r["test_accuracy"] for r in records[-2:]) >= 0.6, records


def test_regular_input_trains_are_evenly_spaced_with_a_random_lag():
    """``encoding = "regular"``: per sample of 48 ms at 1 ms, an input at x = 1 (250 Hz) fires
    every 4 steps, one at x = 0.5 every 8, one at x = 0 never; the first spike's lag differs
    between samples."""
    from sbp_brian.targets import use_target
    use_target("numpy")
    c = dataclasses.replace(config(sizes=(3, 2, 2), sample_duration=48 * ms), encoding="regular")
    net = LayeredNetwork(c, 6)
    net.load(np.tile([1.0, 0.5, 0.0], (6, 1)), np.zeros((6, 2)),
             c.rule.initial_weights(c.sizes, np.random.default_rng(0)), 0.0)
    net.network.run(net.duration(), namespace={})
    counts = net.sample_counts(0)
    assert set(counts[:, 0]) <= {11, 12} and set(counts[:, 1]) <= {5, 6}
    assert not counts[:, 2].any()
    monitor = net.spikes[0]
    t = np.asarray(monitor.t / ms)
    i = np.asarray(monitor.i)
    lags = []
    for sample in range(6):
        for index, period in ((0, 4), (1, 8)):
            times = t[(i == index) & (t >= 48 * sample) & (t < 48 * (sample + 1))]
            assert np.all(np.diff(times) == period)
            lags.append(times[0] - 48 * sample)
    assert len(set(lags)) > 2


def test_train_folds_runs_one_run_per_fold_and_reports_mean_and_sd(tmp_path, capsys):
    """``sbp-brian train --folds 2`` on the four XOR patterns (the runtime path, one epoch):
    a run folder per fold and folds.json with each fold's final accuracy, mean and SD."""
    import json
    from sbp_brian.cli import main
    assert main(["train", "bpstdp_xor", "--dataset", "xor2", "--folds", "2", "--epochs", "1",
                 "--device", "numpy", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "folds.json").read_text())
    assert summary["folds"] == 2 and len(summary["accuracies"]) == 2
    assert summary["mean"] == pytest.approx(np.mean(summary["accuracies"]))
    for k in (1, 2):
        options = json.loads((tmp_path / f"fold{k}" / "run.json").read_text())
        assert options["fold"] == k - 1 and options["folds"] == 2
    assert "fold 2/2: test" in capsys.readouterr().out


class CountHebbRule(LayeredRule):
    """A rule the layered network has never heard of, to show that one plugs in: at the end of
    every sample each weight grows by ``eta c_pre c_post`` (the two neurons' spike counts in
    the sample).  Its step runs at the sample period, before the network's sample reset."""

    name = "count_hebb"
    section = "count_hebb"

    def period(self, config):
        return config.sample_duration

    def phases(self, n_hidden_layers):
        return ("hebb",)

    def layer_state(self, role, config):
        return "c : 1\n"

    def on_spike(self, config):
        return "c += 1"

    def projection_state(self, index, summed, config):
        return "eta : 1 (shared)"

    def sample_start(self, config):
        return "c = 0"

    def build_step(self, step, layers, projections, config):
        for k, projection in enumerate(projections):
            step.run(projection, "w += eta*c_pre*c_post", "hebb", f"hebb_{k}")
        return []

    def learning_rate(self, scale=1.0):
        return 0.01 * scale

    def launch_values(self, net, n_samples, seed, learning_rate):
        return {p.eta: learning_rate for p in net.projections}, {}

    def initial_weights(self, sizes, rng):
        return [rng.uniform(0, 1, (n, m)) for n, m in zip(sizes[:-1], sizes[1:])]


def test_a_rule_plugs_into_the_layered_network_without_the_network_knowing_it():
    """The layered network builds the toy rule's state and step from the LayeredRule
    interface alone; over four samples the weights equal a numpy loop of the same Hebbian
    update on the integrate-and-fire network's spike counts (Brian2's default schedule,
    the rule's propagation by default)."""
    from sbp_brian.targets import use_target
    use_target("numpy")
    c = dataclasses.replace(config(sizes=(5, 4, 3), sample_duration=10 * ms),
                            rule=CountHebbRule())
    rng = np.random.default_rng(1)
    raster, schedule = fixed_spikes(c, 4, rng, p=0.3)
    w0 = c.rule.initial_weights(c.sizes, rng)
    net = LayeredNetwork(c, 4, input_schedule=schedule)
    net.load(np.zeros((4, 5)), np.zeros((4, 3)), w0, c.rule.learning_rate())
    net.network.run(net.duration(), namespace={})
    weights = [w.copy() for w in w0]
    for k in range(4):
        _, counts = simulate_sample(weights, raster[k], c.thresholds(), np.zeros(3), 0.0, 1,
                                    "next_step")
        np.testing.assert_array_equal(net.sample_counts(2)[k], counts[-1])
        weights = [w + 0.01 * np.outer(pre, post)
                   for w, pre, post in zip(weights, counts[:-1], counts[1:])]
    assert all(np.abs(w - before).max() > 0.05 for w, before in zip(weights, w0))
    for reference, generated in zip(weights, net.weights()):
        np.testing.assert_allclose(generated, reference, rtol=0, atol=1e-12)


class CountHebbAnyNeuronRule(CountHebbRule):
    """The toy rule, for layers of every neuron model a layered network builds."""

    neuron_models = ("integrate_and_fire", "lif", "conductance_lif")


def conductance_config(rule=None):
    """Three conductance-LIF layers (SBP Eq. 5) joined by conductance jumps."""
    neurons = dict(tau_m=10 * ms, g_L=10 * nS, V_L=-70 * mV, V_E=0 * mV, V_I=-80 * mV,
                   V_th=-55 * mV, V_reset=-70 * mV, t_ref=2 * ms, tau_E=5 * ms, tau_I=10 * ms)
    return LayeredConfig(
        sizes=[6, 5, 3], dt=0.5 * ms, sample_duration=15 * ms, max_rate=250 * Hz,
        hidden=neurons, output=neurons, neuron_model="conductance_lif",
        transmission_hidden={"model": "conductance_transmission", "g_w": 20 * nS},
        transmission_output={"model": "conductance_transmission", "g_w": 20 * nS},
        rule=rule or CountHebbAnyNeuronRule())


def test_conductance_lif_layers_start_every_sample_from_rest_and_train_with_a_rule():
    """A layered network of conductance-LIF layers (another neuron model than BP-STDP's):
    every sample starts from rest -- membrane, conductances and refractoriness -- so the same
    input spikes in three samples give the same spikes, late spikes of a sample included; and
    the toy rule's step trains it (the weights equal the Hebbian sums of the network's own
    spike counts)."""
    from sbp_brian.targets import use_target
    use_target("numpy")
    c = conductance_config()
    one = np.random.default_rng(3).random((c.steps_per_sample, c.sizes[0])) < 0.3
    raster = np.stack([one] * 3)
    sample, step, index = np.nonzero(raster)
    schedule = (index, (sample * c.steps_per_sample + step) * c.dt)
    w0 = [np.full((6, 5), 0.6), np.full((5, 3), 0.8)]

    def spike_steps(net, layer):
        monitor = net.spikes[layer]
        steps = np.round(np.asarray(monitor.t / c.dt)).astype(int)
        return [sorted(zip(steps[steps // c.steps_per_sample == k] % c.steps_per_sample,
                           np.asarray(monitor.i)[steps // c.steps_per_sample == k]))
                for k in range(3)]

    net = LayeredNetwork(c, 3, input_schedule=schedule)
    net.load(np.zeros((3, 6)), np.zeros((3, 3)), w0, 0.0)
    net.network.run(net.duration(), namespace={})
    for layer in (1, 2):
        per_sample = spike_steps(net, layer)
        assert per_sample[0], f"layer {layer} is silent"
        assert per_sample[0][-1][0] > c.steps_per_sample - 10  # it fires late in the sample
        assert per_sample[1] == per_sample[0] and per_sample[2] == per_sample[0]

    net = LayeredNetwork(c, 3, input_schedule=schedule)
    net.load(np.zeros((3, 6)), np.zeros((3, 3)), w0, c.rule.learning_rate())
    net.network.run(net.duration(), namespace={})
    counts = [net.sample_counts(layer) for layer in range(3)]
    expected = [w + 0.01 * sum(np.outer(pre[k], post[k]) for k in range(3))
                for w, pre, post in zip(w0, counts[:-1], counts[1:])]
    for reference, generated in zip(expected, net.weights()):
        np.testing.assert_allclose(generated, reference, rtol=0, atol=1e-12)
    assert all(np.abs(w - before).max() > 0.05 for w, before in zip(expected, w0))



def test_a_layered_model_file_has_one_neuron_model_with_the_transmissions_it_takes(tmp_path):
    """The neuron model must be one the rule trains and the same in every layer, and each
    projection's transmission one that neuron model takes; each refusal names the section."""
    from sbp_brian.model_files import ModelFileError, load_model
    text = load_model("bpstdp_xor").path.read_text()
    hidden = text.index("[neurons.hidden]")
    output = text.index("[neurons.output]")
    lif = ('model = "lif"\ntau_m = { value = "20*ms", source = "x" }\n'
           'V_th = { value = "-50*mV", source = "x" }\n\n')
    cases = {
        r"\[neurons.hidden\] must be model = 'integrate_and_fire' \(rule bpstdp\)":
            text[:hidden] + "[neurons.hidden]\n" + lif + text[output:],
        r"\[neurons.output\] must be model = 'integrate_and_fire', as \[neurons.hidden\]":
            text[:output] + "[neurons.output]\n" + lif +
            text[text.index("[synapses.input_hidden"):],
        r"\[synapses.input_hidden\] must have exactly a transmission, model = "
        r"'voltage_transmission' \(what 'integrate_and_fire' neurons take\)":
            text.replace('[synapses.input_hidden.transmission]\nmodel = "voltage_transmission"'
                         '\nv_w = { value = "1*mV"',
                         '[synapses.input_hidden.transmission]\nmodel = "current_transmission"'
                         '\nI_w = { value = "1*pA"'),
    }
    for k, (message, case) in enumerate(cases.items()):
        assert case != text
        (tmp_path / f"case{k}.toml").write_text(case)
        with pytest.raises(ModelFileError, match=message):
            LayeredConfig.from_model(load_model(tmp_path / f"case{k}.toml"), 2, 2)
