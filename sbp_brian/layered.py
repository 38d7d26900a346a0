"""Layered spiking networks (any number of hidden layers) trained by a rule of the family
whose step runs inside the sample (BP-STDP) or at its end (GLSNN).

Layers (sizes, parameters and provenance from a model file)::

    input    spike trains at rate x * max_rate (``[input] encoding``,
             :mod:`sbp_brian.encoding`): "bernoulli", the SBP network's process, or
             "regular", evenly spaced spikes with a random lag; "events", frames of
             event-camera data shown in turn, a spike where a frame holds an event
             (``[input] frames`` per sample); or fixed spikes (tests).  With
             ``[input] bias = true`` one more input neuron fires at max_rate in every
             sample (with events: once per frame): its weights are the hidden neurons'
             biases (ours; the paper names none, docs/bpstdp.md)
    hidden   one or more layers of ``[neurons.hidden]``'s neuron model and parameters; a
             section ``[neurons.hidden_K]`` gives hidden layer K (from 2) its own parameters
             (the Brian2 group of layer K is named ``hidden_K``)
    output   neurons of the same model; the target class is a per-sample variable

Every layer has one neuron model of :mod:`sbp_brian.equations`: the non-leaky
integrate-and-fire neuron (BP-STDP Eq. 3), the current LIF or the conductance LIF (SBP Eq. 5,
GLSNN Eq. 2); the rule says which it trains (:attr:`~sbp_brian.rules.LayeredRule.neuron_models`).
Every projection is all-to-all; a presynaptic spike acts on the target layer through the
projection's transmission, one that the neuron model takes (:data:`TRANSMISSIONS`): a jump of
the membrane, ``v_post += v_w w`` (:func:`~sbp_brian.equations.voltage_transmission`), of the
synaptic current or of the conductance.  At every sample boundary every neuron returns to
rest (:attr:`~sbp_brian.equations.NeuronModel.rest`).  The network knows no learning rule by
name: the configuration's rule (a :class:`~sbp_brian.rules.LayeredRule`, picked by the model
file's ``[rule] name``: BP-STDP, :mod:`sbp_brian.rules.bpstdp`, or GLSNN,
:mod:`sbp_brian.rules.glsnn`) adds its state to the layers and projections and builds its
step, which runs at the rule's period; at every sample boundary (``t = kT``, after the rule's
last step of the sample) every neuron and the rule's per-sample state are reset and the next
sample's input rates and target are loaded,
all as generated code: a compiled project simulates a chunk of samples with no Python in
between.

With the rule's ``propagation = "same_step"`` (BP-STDP's Fig. 3) each projection's spike
propagation runs in the ``thresholds`` slot right after its source's threshold and before its
target's, so a spike reaches the next layer in the step it is emitted; ``"next_step"`` keeps
Brian2's default schedule.
"""
from __future__ import annotations

import dataclasses
import gc
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from brian2 import Network, NeuronGroup, SpikeMonitor, Synapses, TimedArray, mV, second
from brian2 import seed as brian_seed

from .encoding import ENCODINGS, spike_process
from .equations import NEURON_MODELS, SYNAPSE_MODELS
from .model_files import ModelFile, ModelFileError
from .parameters import ParameterError, describe_fields
from .rules import RULES, LayeredRule
from .steps import GeneratedStep, sample_counts
from .targets import network_clock, use_target

__all__ = ["LayeredConfig", "LayeredNetwork", "LayeredRunner", "TRANSMISSIONS"]

#: The transmissions each neuron model takes: a jump of the membrane (the integrate-and-fire
#: neuron; the current LIF with delta synapses), of the synaptic current (the current LIF) or
#: of the excitatory (signed: also the inhibitory) conductance (the conductance LIF).
TRANSMISSIONS = {"integrate_and_fire": ("voltage_transmission",),
                 "lif": ("voltage_transmission", "current_transmission"),
                 "conductance_lif": ("conductance_transmission",)}


@dataclass
class LayeredConfig:
    """Everything that defines a layered network, read from a model file plus options."""

    #: neurons per layer, the inputs first and the outputs last
    sizes: list
    dt: Any
    sample_duration: Any
    max_rate: Any
    #: neuron parameters of the hidden layers and of the output layer
    hidden: dict
    output: dict
    #: the transmission of the projections into the hidden layers and into the output layer:
    #: its factory's name (``"model"``, one of :data:`TRANSMISSIONS`) with its parameters and
    #: options, e.g. ``{"model": "voltage_transmission", "v_w": 1*mV}``
    transmission_hidden: dict
    transmission_output: dict
    #: the learning rule (:class:`~sbp_brian.rules.LayeredRule`)
    rule: LayeredRule
    #: the neuron model of every layer after the input (:data:`TRANSMISSIONS` names them)
    neuron_model: str = "integrate_and_fire"
    encoding: str = "bernoulli"
    #: frames per sample (``encoding = "events"``): a sample's row holds ``frames`` frames of
    #: the input layer's size, each shown for ``sample_duration / frames``
    frames: int = 1
    #: one more input neuron, always at max_rate (``sizes[0]`` counts it)
    bias_input: bool = False
    epochs: int = 10
    chunk: int = 50
    lr_decay: float = 0.0
    seed: int = 0
    #: hidden layer K (from 2) -> its own neuron parameters, from a section
    #: ``[neurons.hidden_K]`` (layers not named take ``hidden``)
    layer_neurons: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_model(cls, model: ModelFile, n_input: int, n_output: int, **overrides):
        """Build from a model file (``n_input``/``n_output`` from the data set)."""
        rule = RULES[model.options.get("rule", {}).get("name", "sbp")]
        if rule.network != "layered":
            raise ModelFileError(f"{model.path}: [rule] name = {rule.name!r} trains the "
                                 f"{rule.network} network, not a layered one")
        _refuse_what_a_layered_network_does_not_read(model, rule)
        sizes, sim = model["sizes"], model["simulation"]
        hidden = sizes["hidden"] if isinstance(sizes["hidden"], list) else [sizes["hidden"]]
        frames = int(model["input"]["frames"])
        encoding = model.options.get("input", {}).get("encoding", "bernoulli")
        if encoding == "events" and "input.max_rate" in model.sources:
            raise ModelFileError(f"{model.path}: [input] max_rate is not read with encoding = "
                                 "\"events\" (the frames are the spikes); remove it")
        if n_input % frames:
            raise ModelFileError(f"{model.path}: [input] frames = {frames}, but the data set's "
                                 f"{n_input} inputs per sample are not whole frames")
        n_input //= frames
        for key, given in (("input", n_input), ("output", n_output)):
            if sizes[key] != given:  # thresholds and rates are set for the model's sizes
                per = f" per frame ({frames} frames)" if frames > 1 else ""
                raise ModelFileError(f"{model.path}: [sizes] {key} = {sizes[key]}, but the data "
                                     f"set has {given}{per if key == 'input' else ''}; use a "
                                     "model file for this data set")
        layer_neurons = _hidden_layer_sections(model, len(hidden))
        if model.neurons.get("hidden") is None:
            raise ModelFileError(f"{model.path}: a layered network needs [neurons.hidden]")
        neuron_model = model.neurons["hidden"].model
        if neuron_model not in rule.neuron_models:
            raise ModelFileError(
                f"{model.path}: [neurons.hidden] must be model = "
                f"{' or '.join(repr(m) for m in rule.neuron_models)} (rule {rule.name})")
        for population in ("output", *(f"hidden_{k}" for k in layer_neurons)):
            if model.neurons.get(population) is None or \
                    model.neurons[population].model != neuron_model:
                raise ModelFileError(
                    f"{model.path}: [neurons.{population}] must be model = {neuron_model!r}, "
                    "as [neurons.hidden]: every layer of a layered network has one neuron "
                    "model")
        transmission = {}
        for projection, layer in (("input_hidden", "hidden"), ("hidden_output", "output")):
            parts = model.synapses.get(projection, {})
            allowed = TRANSMISSIONS[neuron_model]
            if set(parts) != {"transmission"} or parts["transmission"].model not in allowed:
                raise ModelFileError(
                    f"{model.path}: [synapses.{projection}] must have exactly a "
                    f"transmission, model = {' or '.join(repr(m) for m in allowed)} (what "
                    f"{neuron_model!r} neurons take); the rule is [{rule.section}]")
            part = parts["transmission"]
            transmission[layer] = {"model": part.model, **part.options, **part.params}
        training = model.sections.get("training", {})
        bias = model.options.get("input", {}).get("bias", False)
        values = dict(
            sizes=[n_input + bias, *hidden, n_output], dt=sim["dt"], bias_input=bias,
            sample_duration=sim["sample_duration"], max_rate=model["input"]["max_rate"],
            hidden=dict(model.neurons["hidden"].params),
            layer_neurons={k: dict(model.neurons[f"hidden_{k}"].params) for k in layer_neurons},
            output=dict(model.neurons["output"].params), neuron_model=neuron_model,
            transmission_hidden=transmission["hidden"],
            transmission_output=transmission["output"], seed=sim["seed"],
            encoding=encoding, frames=frames, rule=rule.from_model(model),
            **{k: training[k] for k in ("epochs", "chunk", "lr_decay") if k in training})
        values.update(overrides)
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        if self.encoding not in ENCODINGS:
            raise ParameterError(f"[input] encoding = {self.encoding!r}: the layered network "
                                 f"draws {' or '.join(ENCODINGS)} spike trains")
        if self.frames != 1 and self.encoding != "events":
            raise ParameterError(f"[input] frames = {self.frames}: frames are the input of "
                                 f"encoding = \"events\", not {self.encoding!r}")
        if self.encoding == "events":
            steps = float(self.sample_duration / self.frames / self.dt)
            if abs(steps - round(steps)) > 1e-9 or round(steps) < 1:
                raise ParameterError(
                    f"[input] frames = {self.frames}: a frame must last whole time steps; "
                    f"sample_duration / frames / dt = {steps:.4g}")
        if self.neuron_model not in TRANSMISSIONS:
            raise ParameterError(f"neuron model {self.neuron_model!r}: a layered network has "
                                 f"{', '.join(TRANSMISSIONS)} neurons")
        if self.neuron_model not in self.rule.neuron_models:
            raise ParameterError(f"rule {self.rule.name} trains "
                                 f"{' or '.join(self.rule.neuron_models)} neurons, not "
                                 f"{self.neuron_model}")
        for layer in ("hidden", "output"):
            model = getattr(self, f"transmission_{layer}").get("model")
            if model not in TRANSMISSIONS[self.neuron_model]:
                raise ParameterError(
                    f"the transmission into the {layer} layer is {model!r}; "
                    f"{self.neuron_model} neurons take "
                    f"{' or '.join(TRANSMISSIONS[self.neuron_model])}")
        self.rule.check(self)
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
        (to the outputs), flat in synapse order (by presynaptic index), and the rule's own
        state (:meth:`~sbp_brian.rules.LayeredRule.initial_state`)."""
        return {**{f"w_{k}": w.ravel() for k, w in
                   enumerate(self.rule.initial_weights(self.sizes, rng))},
                **self.rule.initial_state(self.sizes)}

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
                if key.startswith("w_") for stat, fn in (("mean", np.mean), ("std", np.std))}

    def upgrade_checkpoint(self, meta: dict, state: dict) -> None:
        """Complete the configuration of a checkpoint written by an earlier version, in place:
        before other neuron models, every layer was integrate-and-fire with a membrane jump
        ``v_w_hidden``, ``v_w_output`` per unit weight; before per-layer sections, no layer
        had its own parameters."""
        config = meta.get("config", {})
        config.setdefault("neuron_model", "integrate_and_fire")
        config.setdefault("layer_neurons", {})
        for layer in ("hidden", "output"):
            if f"v_w_{layer}" in config:
                config[f"transmission_{layer}"] = {"model": "voltage_transmission",
                                                   "v_w": config.pop(f"v_w_{layer}")}

    def describe(self) -> dict:
        """JSON-friendly summary (units as strings; the rule as its own summary)."""
        return {**describe_fields(self), "rule": self.rule.describe()}

    def hidden_neurons(self, layer: int) -> dict:
        """The neuron parameters of hidden layer ``layer`` (from 1)."""
        return self.layer_neurons.get(layer, self.hidden)

    @property
    def steps_per_sample(self) -> int:
        return int(round(float(self.sample_duration / self.dt)))

    @property
    def n_hidden_layers(self) -> int:
        return len(self.sizes) - 2

    def thresholds(self) -> list:
        """Each integrate-and-fire layer's threshold in units of its incoming weights,
        ``theta / v_w`` (the numpy reference's)."""
        if self.neuron_model != "integrate_and_fire":
            raise ParameterError("thresholds in units of weight: integrate-and-fire layers "
                                 f"only, not {self.neuron_model}")
        v_w = [self.transmission_hidden["v_w"]] * self.n_hidden_layers + [
            self.transmission_output["v_w"]]
        return [float(neurons["theta"] / jump) for neurons, jump in zip(
            [*map(self.hidden_neurons, range(1, self.n_hidden_layers + 1)), self.output], v_w)]

    def neurons(self, layer: int):
        """The :class:`~sbp_brian.equations.NeuronModel` of ``layer`` (1 .. the output)."""
        params = self.output if layer == len(self.sizes) - 1 else self.hidden_neurons(layer)
        return NEURON_MODELS[self.neuron_model][0](**params)

    def transmission(self, layer: int):
        """The :class:`~sbp_brian.equations.SynapseModel` of the projection into ``layer``."""
        spec = dict(self.transmission_output if layer == len(self.sizes) - 1
                    else self.transmission_hidden)
        return SYNAPSE_MODELS[spec.pop("model")][0](**spec)


#: What a layered network reads of a model file: section -> keys and options (None: all),
#: and its rule's own section.  ``[neurons.hidden]``, ``[neurons.output]`` and the two
#: projections' transmissions are checked by :meth:`LayeredConfig.from_model`.
LAYERED_KEYS = {"simulation": None, "sizes": {"input", "hidden", "output"},
                "input": {"max_rate", "encoding", "bias", "frames"},
                "training": {"epochs", "chunk", "lr_decay"},
                "rule": None}


def _refuse_what_a_layered_network_does_not_read(model: ModelFile, rule) -> None:
    """Every key a model file gives is used or refused by name (no silent settings)."""
    model.refuse_unread({**LAYERED_KEYS, rule.section: None},
                        "a layered network (rule [rule] name)")
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
    ``summed``: the rule's sums over synapses as Brian2 summed variables (OpenMP, GPUs)
    instead of ``+=``.  Set the data with :meth:`load` before running.
    """

    def __init__(self, config: LayeredConfig, n_samples: int, input_schedule=None,
                 summed: bool = False):
        self.config = c = config
        self.n_samples = n_samples
        rule = c.rule
        T, dt = c.sample_duration, c.dt
        n_layers = len(c.sizes)
        # the inputs of each sample, or of each frame of it ("events")
        self.stim = TimedArray(np.zeros((n_samples * c.frames + 1, c.sizes[0])),
                               dt=T / c.frames, name="stim")
        self.labels = TimedArray(np.zeros((n_samples + 1, c.sizes[-1])), dt=T, name="labels")
        #: the rule's per-launch tables (:meth:`~sbp_brian.rules.LayeredRule.tables`)
        self.tables = rule.tables(c, n_samples)
        namespace = {"max_rate": c.max_rate, "sim_dt": dt, "stim": self.stim,
                     "labels": self.labels, "mV": mV, "second": second, **self.tables,
                     **rule.namespace(c)}
        self.namespace = namespace
        #: every group and projection steps at the model file's dt
        self.clock = clock = network_clock(dt, "layered_clock")
        on_spike = rule.on_spike(c)

        # ---- inputs: spike trains at rate x * max_rate ----------------------------------
        process = spike_process(c.encoding, c.sizes[0], n_samples * T + dt, dt, input_schedule,
                                frame_steps=int(round(float(T / c.frames / dt))))
        namespace.update(process.namespace)
        inputs = NeuronGroup(c.sizes[0], "rate : Hz\nnext_spike : 1\n" +
                             rule.layer_state("input", c),
                             threshold=process.threshold,
                             reset=f"{on_spike}\n{process.on_spike}", namespace=namespace,
                             clock=clock, name="inputs")
        inputs.next_spike = np.inf

        # ---- layers of the model file's neuron model ------------------------------------
        layers, rests = [inputs], []
        for index in range(1, n_layers):
            is_output = index == n_layers - 1
            neuron = c.neurons(index)
            rests.append("\n".join(f"{name} = {value}" for name, value in neuron.rest.items()))
            state = rule.layer_state("output" if is_output else "hidden", c)
            if is_output:
                state += "target : 1   # 1 for the target class while training\n"
            group = NeuronGroup(
                c.sizes[index], neuron.equations + "\n" + state,
                threshold=neuron.threshold, reset=neuron.reset + "\n" + on_spike,
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
            transmission = c.transmission(index + 1)
            synapses = Synapses(layers[index], layers[index + 1],
                                model=transmission.model + "\n" +
                                rule.projection_state(index, summed, c),
                                on_pre="\n".join(filter(None, [
                                    transmission.on_pre, rule.projection_on_pre(index, c)])),
                                namespace={**namespace, **transmission.namespace},
                                clock=clock, name=f"projection_{index}")
            synapses.connect()
            projections.append(synapses)
        self.projections = projections
        if rule.propagation == "same_step":  # thresholds and pathways interleaved
            for index, group in enumerate(layers):
                group.thresholder["spike"].order = 2 * index
                if index < len(projections):
                    projections[index].pre.when = "thresholds"
                    projections[index].pre.order = 2 * index + 1

        # ---- the rule's step and the sample boundary -----------------------------------
        phases = (*rule.phases(c.n_hidden_layers), "sample_reset")
        step = GeneratedStep(rule.period(c), phases, namespace, summed=summed, net=self,
                             name="rule_step")
        objects = rule.build_step(step, layers, projections, c)
        boundary = GeneratedStep(T, phases, namespace, summed=summed, net=self,
                                 name="sample")
        forget = rule.sample_start(c)
        boundary.run(inputs, "\n".join(filter(None, [
            "rate = stim(t, i)*max_rate", process.at_sample_start, forget])),
            "sample_reset", "inputs_reset")
        for group, rest in zip(layers[1:], rests):
            reset = rest + ("\ntarget = labels(t, i)" if group is layers[-1] else "")
            boundary.run(group, "\n".join(filter(None, [reset, forget])), "sample_reset",
                         group.name + "_reset")

        self.spikes = [SpikeMonitor(group, name=f"{group.name}_spikes") for group in layers]
        self.network = Network(*layers, *projections, *objects, *self.spikes)

    def duration(self):
        """A run of all samples, plus one step for the boundary step at its end."""
        return self.n_samples * self.config.sample_duration + self.config.dt

    def launch_args(self, x: np.ndarray, targets: np.ndarray, weights: list,
                    learning_rate: float, seed: int = 0,
                    rule_state: dict | None = None) -> tuple[dict, dict]:
        """What a launch sets, ``{TimedArray or variable: value}`` (the ``run_args`` of a
        compiled project): the samples' intensities ``x`` (n_samples, n_input; with
        ``frames``, n_samples x frames rows in all), one-hot
        ``targets`` (all zero: no teaching), the weights, the rule's launch values for
        ``learning_rate`` and its own state (``rule_state``, the run's state dict); and what
        the rule drew for them from ``seed``
        (:meth:`~sbp_brian.rules.LayeredRule.launch_values`)."""
        c = self.config
        stim = np.zeros((self.n_samples * c.frames + 1, c.sizes[0]))
        stim[:len(x) * c.frames] = np.reshape(x, (len(x) * c.frames, c.sizes[0]))
        labels = np.zeros((self.n_samples + 1, c.sizes[-1]))
        labels[:len(targets)] = targets
        args = {self.stim: stim, self.labels: labels}
        for projection, w in zip(self.projections, weights):
            args[projection.w] = np.asarray(w, dtype=float).ravel()
        values, drawn = c.rule.launch_values(self, len(x), seed, learning_rate)
        if rule_state is not None:
            values.update(c.rule.state_args(self, rule_state))
        return {**args, **values}, drawn

    def load(self, x: np.ndarray, targets: np.ndarray, weights: list,
             learning_rate: float, seed: int = 0, rule_state: dict | None = None) -> dict:
        """Set what :meth:`launch_args` gives (runtime targets); returns what the rule drew."""
        args, drawn = self.launch_args(x, targets, weights, learning_rate, seed, rule_state)
        for target, value in args.items():
            if isinstance(target, TimedArray):
                target.values[:] = value
            else:
                target[:] = value
        return drawn

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
    samples, which change nothing (``compile_only``: a CUDA project built where no GPU
    runs it).  "numpy"/"cython": a runtime network per chunk.
    ``summed``: the rule's sums over synapses as summed variables (default: under OpenMP
    threads and on a GPU).  ``drawn`` holds what the rule drew for the last chunk from its seed
    (:meth:`~sbp_brian.rules.LayeredRule.launch_values`; BP-STDP's random teacher: its desired
    spikes, ``drawn["desired"]``).
    """

    def __init__(self, config: LayeredConfig, device_name: str = "cpp", build_dir=None,
                 input_schedule=None, threads: int = 1, summed: bool | None = None,
                 cache: bool = True, compile_only: bool = False):
        from . import project_cache
        from .train import compile_project
        self.config, self.input_schedule = config, input_schedule
        self.drawn = {}
        self.summed = threads > 1 or device_name == "cuda" if summed is None else summed
        self.compiled = device_name in ("cpp", "cuda")
        self.compile_seconds, self.cache_hit = 0.0, False
        if not self.compiled:
            self.target = use_target(device_name)
            return
        from brian2 import prefs
        self.target = use_target(device_name, directory=build_dir, build_on_run=False,
                                 compile_only=compile_only)
        if self.target == "cpp":
            prefs.devices.cpp_standalone.openmp_threads = threads if threads > 1 else 0
        gc.collect()  # dead networks would rename this one's objects ("..._1"), see Trainer
        self.net = LayeredNetwork(config, config.chunk, input_schedule, summed=self.summed)
        # what only the initial weights or the launches read (e.g. a learning rate set as a
        # run_args value) is not in the generated code: one build serves every value
        described = {k: v for k, v in config.describe().items()
                     if k not in ("seed", "epochs", "lr_decay")}
        described["rule"] = {k: v for k, v in described["rule"].items()
                             if k not in config.rule.launch_keys}
        self.cache_hit, self.compile_seconds = compile_project(
            self.net.network, self.net.duration(), self.target, build_dir, {
                "layered": described, "threads": threads, "summed": self.summed,
                "input_schedule": project_cache.schedule_digest(input_schedule)}
            if cache else None)

    def run_state(self, x, y_onehot, weights: dict, learn: bool, seed: int,
                  rate_scale: float = 1.0, homeo_mix: float = 1.0):
        """Present the samples ``x`` with targets ``y_onehot`` (teaching when ``learn``);
        returns the new state, the weights (``{"w_0": ..., "w_1": ...}``, one per projection)
        and the rule's own (``weights`` holds both), and the chunk's responses.
        ``homeo_mix`` is not used (no homeostasis here)."""
        from .train import ChunkResult, launch
        c = self.config
        n = len(x)
        if c.bias_input:  # one more input in every frame, always on
            x = np.reshape(x, (n, c.frames, -1))
            x = np.concatenate([x, np.ones((n, c.frames, 1))], axis=2).reshape(n, -1)
        arrays = [np.asarray(weights[f"w_{k}"], dtype=float) for k in range(len(c.sizes) - 1)]
        rate = c.rule.learning_rate(rate_scale) if learn else 0.0
        targets = np.asarray(y_onehot) if learn else np.zeros((n, c.sizes[-1]))
        if self.compiled:
            net = self.net
            run_args, self.drawn = net.launch_args(x, targets, arrays, rate, seed, weights)
            launch(run_args, seed)
        else:
            brian_seed(seed)
            net = LayeredNetwork(c, n, self.input_schedule, summed=self.summed)
            self.drawn = net.load(x, targets, arrays, rate, seed, weights)
            net.network.run(net.duration(), namespace={})
        counts = [net.sample_counts(layer)[:n] for layer in range(len(c.sizes))]
        hidden = np.concatenate(counts[1:-1], axis=1)
        new = {f"w_{k}": w.ravel().copy() for k, w in enumerate(net.weights())}
        new.update(c.rule.read_state(net, weights))
        return new, ChunkResult(counts[-1], float(hidden.sum()), hidden, None)
