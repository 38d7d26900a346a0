"""The interface of a learning rule, and the registry that names the rules.

A rule names the network it trains (:attr:`Rule.network`).  A rule of the layered network
(:mod:`sbp_brian.layered`; BP-STDP, :mod:`sbp_brian.rules.bpstdp`) implements
:class:`LayeredRule`: the state it adds to layers and projections, its step (any period, inside
the sample) and the values a launch sets; the rest of this docstring and the methods of
:class:`Rule` are the interface of a rule of the SBP network.

The SBP network (:mod:`sbp_brian.network`) is input -> hidden -> output.  The output
synapses learn by the teaching rule of the network; the *rule* decides what the input synapses
do.  Over a sample every input synapse accumulates its pair-STDP change (Eq. 12 of the SBP
paper, kept apart as LTP and LTD parts when the rule asks for them, :attr:`Rule.splits_stdp`);
at the sample's end the rule turns what was accumulated into the input synapses' change.  A
rule gives that step twice, kept equal by tests on identical input spikes:

* as generated code: the state it adds to the input and hidden neurons, the sums it needs
  from the output synapses, the Brian2 objects of its own phases of the boundary step
  (:meth:`Rule.boundary_objects`, placed by phase name, :data:`sbp_brian.network.
  BOUNDARY_PHASES`) and the expression of the change (:meth:`Rule.input_change`), so that
  ``cpp_standalone`` and ``cuda_standalone`` run it with no Python in between;
* as a numpy reference (:meth:`Rule.reference_change`), built from small pure functions.

The network applies the change (learning rate, sign and bounds, mini-batches, network copies),
so a rule never writes a weight itself.  Nothing outside this package names a rule: the
network asks :func:`rule_of` for the configuration's rule, and the trainer and runners know
none.
"""
from __future__ import annotations

from typing import Any, ClassVar, Protocol

import numpy as np
from brian2 import Synapses

from ..steps import summed_lines

__all__ = ["Rule", "LayeredRule", "SampleEndRule", "BoundaryStep", "RULES", "register_rule",
           "rule_of"]


class BoundaryStep(Protocol):
    """What the network lends a rule to build its part of the generated boundary step.

    ``net`` is the :class:`~sbp_brian.network.SBPNetwork` (its groups ``inputs``, ``hidden``,
    ``output`` and synapses ``input_hidden``, ``hidden_output``); ``copies`` the network copies
    simulated side by side; ``summed`` whether sums over synapses are Brian2 summed variables
    (declared in the model) rather than ``+=`` at the boundary, which then also needs resets.
    """

    net: Any
    namespace: dict
    copies: int
    summed: bool
    #: the network's simulation clock: objects a rule adds step with it
    clock: Any

    def run(self, group, code: str, at: str, name: str) -> None:
        """``group.run_regularly(code)`` at the boundary, in phase ``at``."""

    def reduce(self, synapses, sums: dict, at: str, name: str) -> None:
        """Sums ``{target: expression}`` over ``synapses`` into their pre/post group, in
        phase ``at``."""

    def reducer(self, source, target, sums: dict, at: str, name: str):
        """A Synapses object (all-to-all within each copy) that only sums ``sums``."""


class Rule:
    """A learning rule of the input synapses, applied at sample boundaries (module docstring).

    Subclasses set :attr:`name` and override what they need; the defaults describe a rule
    that applies the accumulated pair-STDP change as it is.
    """

    #: the rule's name in the registry (:data:`RULES`)
    name: ClassVar[str]
    #: the network it trains: "sbp" (:mod:`sbp_brian.network`, input -> one hidden layer ->
    #: output, the rule acting on the input synapses at sample boundaries) or "layered"
    #: (:mod:`sbp_brian.layered`, any number of hidden layers, a rule acting inside the sample)
    network: ClassVar[str] = "sbp"
    #: whether the input weights change at all (a frozen hidden layer: no STDP is accumulated)
    plastic_input: ClassVar[bool] = True
    #: whether the input synapses keep their LTP and LTD parts apart (``dw_ltp``, ``dw_ltd``)
    #: rather than only their sum ``dw_stdp``
    splits_stdp: ClassVar[bool] = False
    #: model-file keys (dotted, ``"sbp.p"``) that act only while SBP is on: a run with SBP off
    #: (the without-SBP and control variants) ignores them, so a sweep shares one run among
    #: such points (:mod:`sbp_brian.sweeps`)
    sbp_keys: ClassVar[tuple] = ()
    #: parameters that only the initial weights or each launch read (e.g. a learning rate set
    #: at every launch, :meth:`run_values`): left out of the project cache's key, so one
    #: compiled project serves every value of them
    launch_keys: ClassVar[tuple] = ()

    @classmethod
    def from_model(cls, model) -> "Rule":
        """The rule with the parameters and options of its model-file section (none by
        default)."""
        return cls()

    def namespace(self, config) -> dict:
        """Named constants of the rule's generated code."""
        return {}

    def run_values(self) -> dict:
        """Values of the rule's generated code that are variables rather than constants,
        ``{variable: value}`` (Brian2 variables of objects the rule built), set at every
        launch of a compiled project (``run_args``): a project compiled for one value serves
        them all."""
        return {}

    def input_state(self, generated: bool) -> str:
        """Equation lines the rule adds to the input neurons (``generated``: the boundary
        step is generated code, not the numpy reference)."""
        return ""

    def hidden_state(self, generated: bool) -> str:
        """Equation lines the rule adds to the hidden neurons."""
        return ""

    def output_sums(self) -> dict:
        """Sums over the output synapses into their hidden neuron that the rule reads,
        ``{target_pre: expression}`` (declared ``(summed)`` or accumulated by the network in
        phase ``sum_output_changes``)."""
        return {}

    def boundary_objects(self, step: BoundaryStep) -> list:
        """Build the rule's own phases of the generated boundary step; returns the Brian2
        objects the network must include (code run on existing groups adds none)."""
        return []

    def input_change(self) -> str | None:
        """The input synapses' change at a boundary as a Brian2 expression over the synapse
        (``dw_stdp``, or ``dw_ltp``, ``dw_ltd`` with :attr:`splits_stdp`) and its neurons'
        rule state; ``None`` when the input weights do not change.  The network multiplies it
        by the learning rate ``eta_in``."""
        return "dw_stdp" if self.plastic_input else None

    def reset(self, summed: bool) -> dict:
        """Statements that clear the rule's state at every boundary, per group name
        (``"hidden"``, ``"inputs"``); summed variables need none."""
        return {}

    def reference_change(self, config, dw_ltp: np.ndarray, dw_ltd: np.ndarray,
                         w_out: np.ndarray, dw_out: np.ndarray,
                         pre_activity: np.ndarray) -> np.ndarray | None:
        """The numpy reference of :meth:`input_change`: arrays shaped (n_input, n_hidden) for
        the input synapses, (n_hidden, n_output) for the output ones, the inputs' spike counts
        in the sample; ``None`` when the input weights do not change."""
        return dw_ltp + dw_ltd if self.plastic_input else None

    def describe(self) -> dict:
        """The rule and its parameters, JSON-friendly."""
        return {"rule": self.name}


class LayeredRule(Rule):
    """A rule that trains every projection of a layered network (:mod:`sbp_brian.layered`).

    The network builds the layers (the neuron model and parameters from the model file) and
    the projections, resets every membrane at each sample boundary and loads the next sample;
    the rule adds its state to them and builds its step as generated code, at its own period
    (:meth:`period`), in phases it names (:meth:`phases`, placed before the network's
    ``sample_reset``).  The network never names a rule: it asks its configuration's rule.
    """

    network: ClassVar[str] = "layered"
    #: the model-file section holding the rule's parameters and options
    section: ClassVar[str]
    #: the neuron models (:mod:`sbp_brian.equations`) of the layers the rule trains
    neuron_models: ClassVar[tuple] = ("integrate_and_fire",)
    #: when a spike reaches the next layer: "next_step" (Brian2's schedule: every threshold,
    #: then every pathway) or "same_step" (each pathway right after its source's threshold,
    #: so a spike crosses every layer in the step it is emitted)
    propagation: str = "next_step"

    @classmethod
    def from_model(cls, model) -> "LayeredRule":
        """The rule with the parameters and options of the model file's :attr:`section`."""
        return cls(**model.sections.get(cls.section, {}), **model.options.get(cls.section, {}))

    def check(self, config) -> None:
        """Refuse a configuration the rule cannot train (a ``ParameterError`` naming why)."""

    def period(self, config):
        """The period of the rule's step (a time; the network's boundary runs every sample)."""
        raise NotImplementedError

    def phases(self, n_hidden_layers: int) -> tuple:
        """The phases of the rule's step, in order."""
        raise NotImplementedError

    def layer_state(self, role: str, config) -> str:
        """Equation lines the rule adds to a layer; ``role`` is "input", "hidden" or
        "output" (the output layer gets the per-sample ``target`` from the network)."""
        return ""

    def on_spike(self, config) -> str:
        """Statements every layer runs at each of its spikes."""
        return ""

    def projection_state(self, index: int, summed: bool, config) -> str:
        """Equation lines the rule adds to projection ``index`` (from layer ``index``);
        ``summed``: sums over synapses as Brian2 summed variables."""
        return ""

    def projection_on_pre(self, index: int, config) -> str:
        """Statements projection ``index`` runs at each presynaptic spike, after its
        transmission's."""
        return ""

    def sample_start(self, config) -> str:
        """Statements every layer runs at each sample boundary (the network resets the
        membranes itself)."""
        return ""

    def tables(self, config, n_samples: int) -> dict:
        """Per-launch tables of the rule's code, ``{name: TimedArray}`` (in the namespace)."""
        return {}

    def build_step(self, step: BoundaryStep, layers: list, projections: list, config) -> list:
        """Build the rule's step by phase (``step`` runs every :meth:`period`); returns the
        Brian2 objects the network must include."""
        raise NotImplementedError

    def learning_rate(self, scale: float = 1.0) -> float:
        """The learning rate of a launch (``scale``: the trainer's decay)."""
        raise NotImplementedError

    def launch_values(self, net, n_samples: int, seed: int, learning_rate: float) -> tuple:
        """What a launch of ``n_samples`` samples sets, ``{TimedArray or variable: value}``
        (``run_args`` of a compiled project), and what it drew for them from ``seed``,
        ``{name: array}`` (the numpy reference takes the same)."""
        return {}, {}

    def initial_weights(self, sizes: list, rng: np.random.Generator) -> list:
        """Initial weights, one (n_pre, n_post) array per projection."""
        raise NotImplementedError

    def initial_state(self, sizes: list) -> dict:
        """State of the rule's own that a run carries from launch to launch and checkpoints
        beside the weights, ``{name: array}`` (e.g. an optimiser's moments); none by
        default."""
        return {}

    def state_args(self, net, state: dict) -> dict:
        """What a launch sets from that state, ``{variable: value}``."""
        return {}

    def read_state(self, net, state: dict) -> dict:
        """That state after a launch (``state``: before it), read from the network."""
        return {}


class SampleEndRule(LayeredRule):
    """A layered rule whose step runs once per sample, at its end, on every layer's spike
    count ``c`` over the sample (GLSNN, BRP), with fixed random feedback from the output layer
    to hidden layers as synapses that carry no spikes and only sum."""

    #: the equation line of the spike count that every layer gets
    COUNT = "c : 1   # spikes in the sample\n"

    def period(self, config):
        return config.sample_duration

    def on_spike(self, config) -> str:
        return "c += 1"

    def sample_start(self, config) -> str:
        return "c = 0"

    @staticmethod
    def feedback_synapses(step, source, targets: dict, sums: dict) -> list:
        """Synapses from ``source`` (the output layer) to each of ``targets`` (name -> group)
        holding a fixed ``B`` and summing ``sums`` into their target (declared summed under
        ``step.summed``; otherwise the rule's step sums them)."""
        feedback = []
        for name, target in targets.items():
            synapses = Synapses(source, target, model="B : 1\n" + (
                                    summed_lines(sums) if step.summed else ""),
                                namespace=step.namespace, clock=step.clock, name=name)
            synapses.connect()
            feedback.append(synapses)
        return feedback


#: The rules by name.
RULES: dict[str, type[Rule]] = {}


def register_rule(rule: type[Rule]) -> type[Rule]:
    """Class decorator: name a rule in :data:`RULES`."""
    if rule.name in RULES:
        raise ValueError(f"a rule named {rule.name!r} is already registered")
    RULES[rule.name] = rule
    return rule


def rule_of(config) -> Rule:
    """A new instance of the rule a configuration of the SBP network names: its ``rule``,
    a description as :meth:`Rule.describe` writes it (``{"rule": name, **parameters}``)."""
    description = dict(config.rule)
    name = description.pop("rule")
    if name not in RULES or RULES[name].network != "sbp":
        known = ", ".join(sorted(k for k, r in RULES.items() if r.network == "sbp"))
        raise ValueError(f"unknown rule {name!r} of the SBP network; expected one of {known}")
    return RULES[name](**description)
