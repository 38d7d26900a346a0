"""Layered networks of integrate-and-fire neurons trained inside the sample (BP-STDP).

Layers (sizes, parameters and provenance from a model file)::

    input    spike trains at rate x * max_rate (``[input] encoding``,
             :mod:`sbp_brian.encoding`): "bernoulli", the SBP network's process, or
             "regular", evenly spaced spikes with a random lag; or fixed
             spikes (tests).  With ``[input] bias = true`` one more input neuron fires at
             max_rate in every sample: its weights are the hidden neurons' biases (ours; the
             paper names none, docs/bpstdp.md)
    hidden   one or more layers of non-leaky integrate-and-fire neurons (BP-STDP Eq. 3,
             :func:`sbp_brian.equations.integrate_and_fire`), ``[neurons.hidden]``'s; a
             section ``[neurons.hidden_K]`` gives hidden layer K (from 2) its own parameters
             (the Brian2 group of layer K is named ``hidden_K``)
    output   integrate-and-fire neurons; the target class is a per-sample variable

Every projection is all-to-all, ``v_post += v_w w`` at a presynaptic spike
(:func:`sbp_brian.equations.voltage_transmission`).  The learning rule's step runs every
``window`` inside the sample (:func:`sbp_brian.rules.bpstdp.window_step`), and at every sample
boundary (``t = kT``, after the rule's last window of the sample) the membranes, counts and
windows are reset and the next sample's input rates and target are loaded, all as generated
code: a compiled project simulates a chunk of samples with no Python in between.

With ``propagation = "same_step"`` (BP-STDP's Fig. 3) each projection's spike propagation runs
in the ``thresholds`` slot right after its source's threshold and before its target's, so a
spike reaches the next layer in the step it is emitted; ``"next_step"`` keeps Brian2's default
schedule.  The numpy reference is :func:`sbp_brian.rules.bpstdp.simulate_sample`.
"""
from __future__ import annotations

import dataclasses
import gc
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from brian2 import Clock, Network, NeuronGroup, SpikeMonitor, Synapses, TimedArray, mV, second
from brian2 import seed as brian_seed

from .encoding import ENCODINGS, spike_process
from .equations import integrate_and_fire, voltage_transmission
from .model_files import ModelFile, ModelFileError
from .parameters import ParameterError, describe_fields
from .rules.bpstdp import BPSTDP, history_variables, teacher_times, window_phases, window_step
from .steps import GeneratedStep, sample_counts, summed_lines
from .targets import use_target

__all__ = ["LayeredConfig", "LayeredNetwork", "LayeredRunner"]



@dataclass
class LayeredConfig:
    """Everything that defines a layered network, read from a model file plus options."""

    #: neurons per layer, the inputs first and the outputs last
    sizes: list
    dt: Any
    sample_duration: Any
    max_rate: Any
    #: integrate_and_fire parameters of the hidden layers and of the output layer
    hidden: dict
    output: dict
    #: membrane jump per unit weight of the projections into the hidden and output layers
    v_w_hidden: Any
    v_w_output: Any
    rule: BPSTDP = dataclasses.field(default_factory=BPSTDP)
    encoding: str = "bernoulli"
    #: one more input neuron, always at max_rate (``sizes[0]`` counts it)
    bias_input: bool = False
    epochs: int = 10
    chunk: int = 50
    lr_decay: float = 0.0
    seed: int = 0
    #: hidden layer K (from 2) -> its own integrate_and_fire parameters, from a section
    #: ``[neurons.hidden_K]`` (layers not named take ``hidden``)
    layer_neurons: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_model(cls, model: ModelFile, n_input: int, n_output: int, **overrides):
        """Build from a model file (``n_input``/``n_output`` from the data set)."""
        _refuse_what_a_layered_network_does_not_read(model)
        sizes, sim = model["sizes"], model["simulation"]
        hidden = sizes["hidden"] if isinstance(sizes["hidden"], list) else [sizes["hidden"]]
        for key, given in (("input", n_input), ("output", n_output)):
            if sizes[key] != given:  # thresholds and rates are set for the model's sizes
                raise ModelFileError(f"{model.path}: [sizes] {key} = {sizes[key]}, but the data "
                                     f"set has {given}; use a model file for this data set")
        layer_neurons = _hidden_layer_sections(model, len(hidden))
        for population in ("hidden", "output", *(f"hidden_{k}" for k in layer_neurons)):
            if model.neurons.get(population) is None or \
                    model.neurons[population].model != "integrate_and_fire":
                raise ModelFileError(f"{model.path}: [neurons.{population}] must be "
                                     "model = \"integrate_and_fire\" (BP-STDP Eq. 3)")
        v_w = {}
        for projection, layer in (("input_hidden", "hidden"), ("hidden_output", "output")):
            parts = model.synapses.get(projection, {})
            if set(parts) != {"transmission"} or parts["transmission"].model != \
                    "voltage_transmission":
                raise ModelFileError(
                    f"{model.path}: [synapses.{projection}] must have exactly a "
                    "transmission, model = \"voltage_transmission\" (BP-STDP Eq. 3); the rule "
                    "is [bpstdp]")
            v_w[layer] = parts["transmission"].params["v_w"]
        rule = model.sections.get("bpstdp", {})
        training = model.sections.get("training", {})
        bias = model.options.get("input", {}).get("bias", False)
        values = dict(
            sizes=[n_input + bias, *hidden, n_output], dt=sim["dt"], bias_input=bias,
            sample_duration=sim["sample_duration"], max_rate=model["input"]["max_rate"],
            hidden=dict(model.neurons["hidden"].params),
            layer_neurons={k: dict(model.neurons[f"hidden_{k}"].params) for k in layer_neurons},
            output=dict(model.neurons["output"].params),
            v_w_hidden=v_w["hidden"], v_w_output=v_w["output"], seed=sim["seed"],
            encoding=model.options.get("input", {}).get("encoding", "bernoulli"),
            rule=BPSTDP(**rule, **model.options.get("bpstdp", {})),
            **{k: training[k] for k in ("epochs", "chunk", "lr_decay") if k in training})
        values.update(overrides)
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        if self.encoding not in ENCODINGS:
            raise ParameterError(f"[input] encoding = {self.encoding!r}: the layered network "
                                 f"draws {' or '.join(ENCODINGS)} spike trains")
        steps = float(self.sample_duration / self.dt)
        window = float(self.rule.window / self.dt)
        if abs(window - round(window)) > 1e-9 or round(window) < 1:
            raise ParameterError(f"the BP-STDP window {self.rule.window} must be a whole "
                                 f"number of time steps ({self.dt})")
        if abs(steps / window - round(steps / window)) > 1e-9:
            raise ParameterError(f"the sample duration {self.sample_duration} must be a whole "
                                 f"number of BP-STDP windows ({self.rule.window}), so that "
                                 "every window lies in one sample")
        if len(self.sizes) < 3 or any(int(n) < 1 for n in self.sizes):
            raise ParameterError(f"a layered network needs an input, at least one hidden and "
                                 f"an output layer of >= 1 neuron, got sizes {self.sizes}")

    # -- what the trainer asks of a network kind (sbp_brian.train.Trainer) -------------------
    @property
    def n_input(self) -> int:
        """The data's inputs (the bias neuron, if any, is not one)."""
        return int(self.sizes[0]) - self.bias_input

    @property
    def n_output(self) -> int:
        return int(self.sizes[-1])

    @property
    def n_hidden(self) -> int:
        """Hidden neurons over all hidden layers."""
        return int(sum(self.sizes[1:-1]))

    @property
    def n_weights(self) -> int:
        return int(sum(a * b for a, b in zip(self.sizes[:-1], self.sizes[1:])))

    def initial_state(self, rng: np.random.Generator) -> dict:
        """The weights a run starts from, ``w_0`` (inputs to the first hidden layer) .. ``w_L``
        (to the outputs), flat in synapse order (by presynaptic index)."""
        return {f"w_{k}": w.ravel() for k, w in
                enumerate(self.rule.initial_weights(self.sizes, rng))}

    @staticmethod
    def check_copies(copies) -> None:
        if copies != 1:
            raise ParameterError("network copies are a mini-batch SBP feature; a layered "
                                 "network trains inside the sample")

    def make_runner(self, device_name: str, build_dir=None, threads: int = 1, copies: int = 1,
                    record_hidden: bool = False) -> "LayeredRunner":
        self.check_copies(copies)
        return LayeredRunner(self, device_name, build_dir, threads=threads)

    def state_summary(self, state: dict) -> dict:
        """Weight statistics for the metrics log, per projection."""
        return {f"{key}_{stat}": float(fn(state[key])) for key in sorted(state)
                for stat, fn in (("mean", np.mean), ("std", np.std))}

    def describe(self) -> dict:
        """JSON-friendly summary (units as strings; the rule as its own summary).  Without
        per-layer sections it is what it was before they existed, so that earlier run folders
        resume and earlier compiled projects are found in the cache."""
        described = {**describe_fields(self), "rule": self.rule.describe()}
        if not self.layer_neurons:
            del described["layer_neurons"]
        return described

    def hidden_neurons(self, layer: int) -> dict:
        """The integrate_and_fire parameters of hidden layer ``layer`` (from 1)."""
        return self.layer_neurons.get(layer, self.hidden)

    @property
    def steps_per_sample(self) -> int:
        return int(round(float(self.sample_duration / self.dt)))

    @property
    def steps_per_window(self) -> int:
        return int(round(float(self.rule.window / self.dt)))

    @property
    def n_hidden_layers(self) -> int:
        return len(self.sizes) - 2

    def thresholds(self) -> list:
        """Each layer's threshold in units of its incoming weights, ``theta / v_w`` (the
        numpy reference's)."""
        return [float(self.hidden_neurons(k)["theta"] / self.v_w_hidden)
                for k in range(1, self.n_hidden_layers + 1)] + [
                    float(self.output["theta"] / self.v_w_output)]


#: What a layered network reads of a model file: section -> keys and options (None: all).
#: ``[neurons.hidden]``, ``[neurons.output]`` and the two projections' transmissions are
#: checked by :meth:`LayeredConfig.from_model`.
LAYERED_KEYS = {"simulation": None, "sizes": {"input", "hidden", "output"},
                "input": {"max_rate", "encoding", "bias"}, "training": {"epochs", "chunk", "lr_decay"},
                "bpstdp": None, "rule": None}


def _refuse_what_a_layered_network_does_not_read(model: ModelFile) -> None:
    """Every key a model file gives is used or refused by name (no silent settings)."""
    model.refuse_unread(LAYERED_KEYS, "a layered network (rule [rule] name)")
    extra = {name for name in set(model.neurons) - {"hidden", "output"}
             if not re.fullmatch(r"hidden_[0-9]+", name)}
    if extra or model.homeostasis:
        raise ModelFileError(f"{model.path}: a layered network has [neurons.hidden], "
                             "[neurons.output] and [neurons.hidden_K] for hidden layers K >= 2 "
                             f"only, without homeostasis; not {sorted(extra)}"
                             if extra else f"{model.path}: a layered network has no homeostasis")


def _hidden_layer_sections(model: ModelFile, n_hidden_layers: int) -> list:
    """The hidden layers K that a ``[neurons.hidden_K]`` section gives their own parameters;
    K must name a hidden layer after the first (the first is ``[neurons.hidden]``'s)."""
    layers = sorted(int(name.partition("_")[2]) for name in model.neurons
                    if re.fullmatch(r"hidden_[0-9]+", name))
    for k in layers:
        if not 2 <= k <= n_hidden_layers:
            raise ModelFileError(
                f"{model.path}: [neurons.hidden_{k}] names no hidden layer after the first: "
                f"the network has {n_hidden_layers} hidden layer(s), the first set by "
                "[neurons.hidden]")
    return layers


class LayeredNetwork:
    """The Brian2 objects of a layered network for ``n_samples`` samples (module docstring).

    ``input_schedule``: fixed input spikes ``(indices, times)`` instead of Bernoulli draws.
    ``summed``: the hidden errors' sums over synapses as Brian2 summed variables (OpenMP,
    GPUs) instead of ``+=``.  Set the data with :meth:`load` before running.
    """

    def __init__(self, config: LayeredConfig, n_samples: int, input_schedule=None,
                 summed: bool = False):
        self.config = c = config
        self.n_samples = n_samples
        T, dt = c.sample_duration, c.dt
        n_layers = len(c.sizes)
        self.stim = TimedArray(np.zeros((n_samples + 1, c.sizes[0])), dt=T, name="stim")
        self.labels = TimedArray(np.zeros((n_samples + 1, c.sizes[-1])), dt=T, name="labels")
        namespace = {"max_rate": c.max_rate, "sim_dt": dt, "stim": self.stim,
                     "labels": self.labels, "mV": mV, "second": second}
        random_teacher = c.rule.teacher == "random"
        history = history_variables(c.steps_per_window) if random_teacher else []
        #: the random teacher's desired spikes: 1 at the start of the step after one
        self.desired = None
        if random_teacher:
            self.desired = TimedArray(np.zeros(n_samples * c.steps_per_sample + 2), dt=dt,
                                      name="desired")
            namespace["desired"] = self.desired
        # a spike counts into the window's cnt, or into the random teacher's spike history
        counted = "spiked_1 = 1" if random_teacher else "cnt += 1"
        history_lines = "".join(f"\n{name} : 1" for name in history)
        self.namespace = namespace
        #: every group and projection steps at the model file's dt
        self.clock = clock = Clock(dt=dt, name="layered_clock")

        # ---- inputs: Bernoulli spikes, counted per window -----------------------------
        process = spike_process(c.encoding, c.sizes[0], n_samples * T + dt, dt, input_schedule)
        namespace.update(process.namespace)
        inputs = NeuronGroup(c.sizes[0], "rate : Hz\nnext_spike : 1\ncnt : 1" + history_lines,
                             threshold=process.threshold,
                             reset=f"{counted}\n{process.on_spike}", namespace=namespace,
                             clock=clock, name="inputs")
        inputs.next_spike = np.inf

        # ---- integrate-and-fire layers -------------------------------------------------
        layers = [inputs]
        for index in range(1, n_layers):
            is_output = index == n_layers - 1
            neuron = integrate_and_fire(**(c.output if is_output else c.hidden_neurons(index)))
            state = ("cnt : 1   # spikes in the current window\n"
                     "err : 1   # error xi at the last window end\n")
            state += "target : 1\n" if is_output else "err_sum : 1   # sum_k w_hk xi_k\n"
            group = NeuronGroup(
                c.sizes[index], neuron.equations + "\n" + state + history_lines,
                threshold=neuron.threshold, reset=neuron.reset + "\n" + counted,
                refractory=neuron.refractory,
                method=neuron.method, namespace={**namespace, **neuron.namespace}, clock=clock,
                name="output" if is_output else f"hidden_{index}")
            for variable, value in neuron.initial.items():
                setattr(group, variable, value)
            layers.append(group)
        self.layers = layers

        # ---- projections ---------------------------------------------------------------
        projections = []
        for index in range(n_layers - 1):
            is_output = index == n_layers - 2
            transmission = voltage_transmission(
                v_w=c.v_w_output if is_output else c.v_w_hidden)
            model = transmission.model + "\nmu_now : 1 (shared)"
            if summed and index >= 1:  # the error of the hidden layer below
                model += "\n" + summed_lines({"err_sum_pre": "w*err_post"})
            synapses = Synapses(layers[index], layers[index + 1], model=model,
                                on_pre=transmission.on_pre,
                                namespace={**namespace, **transmission.namespace},
                                clock=clock, name=f"projection_{index}")
            synapses.connect()
            projections.append(synapses)
        self.projections = projections
        if c.rule.propagation == "same_step":  # Fig. 3: thresholds and pathways interleaved
            for index, group in enumerate(layers):
                group.thresholder["spike"].order = 2 * index
                if index < len(projections):
                    projections[index].pre.when = "thresholds"
                    projections[index].pre.order = 2 * index + 1

        # ---- the rule's window step and the sample boundary ----------------------------
        phases = (*window_phases(c.n_hidden_layers, c.rule.teacher), "sample_reset")
        # the random teacher may ask for a spike after any step: its step runs every step
        window = GeneratedStep(dt if random_teacher else c.rule.window, phases, namespace,
                               summed=summed, net=self, name="window")
        window_step(window, layers, projections, c.rule.teacher, c.steps_per_window)
        boundary = GeneratedStep(T, phases, namespace, summed=summed, net=self,
                                 name="sample")
        forget = "".join(f"\n{name} = 0" for name in history)  # windows lie in one sample
        boundary.run(inputs, "rate = stim(t, i)*max_rate\n" + process.at_sample_start + forget,
                     "sample_reset", "inputs_reset")
        for group in layers[1:]:
            reset = "v = V_rest" + ("\ntarget = labels(t, i)" if group is layers[-1] else "")
            boundary.run(group, reset + forget, "sample_reset", group.name + "_reset")

        self.spikes = [SpikeMonitor(group, name=f"{group.name}_spikes") for group in layers]
        self.network = Network(*layers, *projections, *self.spikes)

    def duration(self):
        """A run of all samples, plus one step for the boundary step at its end."""
        return self.n_samples * self.config.sample_duration + self.config.dt

    def desired_table(self, desired: np.ndarray) -> np.ndarray:
        """The values of ``desired(t)`` for the random teacher's steps ``desired`` (boolean,
        (samples, steps per sample), :func:`~sbp_brian.rules.bpstdp.teacher_times`): 1 at the
        start of the step after each desired spike, when the window step runs."""
        table = np.zeros(self.n_samples * self.config.steps_per_sample + 2)
        flat = np.asarray(desired, dtype=float).ravel()
        table[1:1 + len(flat)] = flat
        return table

    def draw_desired(self, n: int, seed: int) -> np.ndarray:
        """The random teacher's desired spikes for ``n`` samples, drawn from ``seed``."""
        c = self.config
        rng = np.random.default_rng([seed, 7])  # apart from Brian2's own stream
        return np.array([teacher_times("random", c.steps_per_sample, c.steps_per_window, rng)
                         for _ in range(n)]).reshape(n, c.steps_per_sample)

    def load(self, x: np.ndarray, targets: np.ndarray, weights: list, mu: float,
             desired: np.ndarray | None = None) -> None:
        """Set the samples' intensities ``x`` (n_samples, n_input), one-hot ``targets`` (all
        zero: no teaching), the weights, the learning rate and, for the random teacher, its
        desired spikes (boolean, (n, steps per sample)) (runtime targets)."""
        c = self.config
        if self.desired is not None:
            self.desired.values[:] = self.desired_table(
                np.zeros((0, c.steps_per_sample)) if desired is None else desired)
        stim = np.zeros((self.n_samples + 1, c.sizes[0]))
        stim[:len(x)] = x
        labels = np.zeros((self.n_samples + 1, c.sizes[-1]))
        labels[:len(targets)] = targets
        self.stim.values[:] = stim
        self.labels.values[:] = labels
        for projection, w in zip(self.projections, weights):
            projection.w = np.asarray(w, dtype=float).ravel()
            projection.mu_now = mu

    def weights(self) -> list:
        """The weights, one (n_pre, n_post) array per projection."""
        return [np.asarray(p.w[:]).reshape(len(p.source), len(p.target))
                for p in self.projections]

    def sample_counts(self, layer: int = -1) -> np.ndarray:
        """Spike counts per sample of ``layers[layer]``, shape (n_samples, layer size)."""
        return sample_counts(self.spikes[layer], self.config.sample_duration, self.n_samples)


class LayeredRunner:
    """Runs chunks of samples through a layered network, learning on or off.

    ``device`` "cpp" or "cuda": the network for ``config.chunk`` samples is built and compiled
    once (a standalone project in ``build_dir``, reused from the project cache where this
    machine built the same one before) and relaunched per chunk with the chunk's inputs,
    targets, weights and learning rate as ``run_args``; a shorter chunk is padded with silent
    samples, which change nothing.  "numpy"/"cython": a runtime network per chunk.
    ``summed``: the hidden errors' sums as summed variables (default: under OpenMP threads and
    on a GPU).  With the random teacher, ``desired`` holds the desired spikes of the last
    chunk (drawn from its seed; boolean, (samples, steps per sample)).
    """

    def __init__(self, config: LayeredConfig, device_name: str = "cpp", build_dir=None,
                 input_schedule=None, threads: int = 1, summed: bool | None = None,
                 cache: bool = True):
        from . import project_cache
        from .train import compile_project
        self.config, self.input_schedule = config, input_schedule
        self.desired = None
        self.summed = threads > 1 or device_name == "cuda" if summed is None else summed
        self.compiled = device_name in ("cpp", "cuda")
        self.compile_seconds, self.cache_hit = 0.0, False
        if not self.compiled:
            self.target = use_target(device_name)
            return
        from brian2 import prefs
        self.target = use_target(device_name, directory=build_dir, build_on_run=False)
        if self.target == "cpp":
            prefs.devices.cpp_standalone.openmp_threads = threads if threads > 1 else 0
        gc.collect()  # dead networks would rename this one's objects ("..._1"), see Trainer
        self.net = LayeredNetwork(config, config.chunk, input_schedule, summed=self.summed)
        # what only the initial weights or the launches read (the learning rate mu_now is a
        # run_args value) is not in the generated code: one build serves every value
        described = {k: v for k, v in config.describe().items()
                     if k not in ("seed", "epochs", "lr_decay")}
        described["rule"] = {k: v for k, v in described["rule"].items()
                             if k not in ("mu", "w_init_sd")}
        self.cache_hit, self.compile_seconds = compile_project(
            self.net.network, self.net.duration(), self.target, build_dir, {
                "layered": described, "threads": threads, "summed": self.summed,
                "input_schedule": project_cache.schedule_digest(input_schedule)}
            if cache else None)

    def run_state(self, x, y_onehot, weights: dict, learn: bool, seed: int,
                  rate_scale: float = 1.0, homeo_mix: float = 1.0):
        """Present the samples ``x`` with targets ``y_onehot`` (teaching when ``learn``);
        returns the new weights (``{"w_0": ..., "w_1": ...}``, one per projection) and the
        chunk's responses.  ``homeo_mix`` is not used (no homeostasis here)."""
        from .train import ChunkResult, launch
        c = self.config
        n = len(x)
        if c.bias_input:
            x = np.hstack([x, np.ones((n, 1))])
        arrays = [np.asarray(weights[f"w_{k}"], dtype=float) for k in range(len(c.sizes) - 1)]
        mu = c.rule.mu * rate_scale if learn else 0.0
        targets = np.asarray(y_onehot) if learn else np.zeros((n, c.sizes[-1]))
        if self.compiled:
            net = self.net
            stim = np.zeros((c.chunk + 1, c.sizes[0]))
            stim[:n] = x
            labels = np.zeros((c.chunk + 1, c.sizes[-1]))
            labels[:n] = targets
            run_args = {net.stim: stim, net.labels: labels}
            if net.desired is not None:
                self.desired = net.draw_desired(n, seed)
                run_args[net.desired] = net.desired_table(self.desired)
            for projection, w in zip(net.projections, arrays):
                run_args[projection.w] = w.ravel()
                run_args[projection.mu_now] = mu
            launch(run_args, seed)
        else:
            brian_seed(seed)
            schedule = self.input_schedule
            net = LayeredNetwork(c, n, schedule, summed=self.summed)
            self.desired = net.draw_desired(n, seed) if net.desired is not None else None
            net.load(x, targets, arrays, mu, self.desired)
            net.network.run(net.duration(), namespace={})
        counts = [net.sample_counts(layer)[:n] for layer in range(len(c.sizes))]
        hidden = np.concatenate(counts[1:-1], axis=1)
        new = {f"w_{k}": w.ravel().copy() for k, w in enumerate(net.weights())}
        return new, ChunkResult(counts[-1], float(hidden.sum()), hidden, None)
