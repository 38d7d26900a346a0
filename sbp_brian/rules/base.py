"""The interface of a learning rule, and the registry that names the rules.

A rule names the network it trains (:attr:`Rule.network`).  A rule of the layered network
(:mod:`sbp_brian.layered`; BP-STDP, :mod:`sbp_brian.rules.bpstdp`) brings its own in-sample
step and reference; the rest of this docstring and the methods below are the interface of a
rule of the SBP network.

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

__all__ = ["Rule", "BoundaryStep", "RULES", "register_rule", "rule_of"]


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


#: The rules by name.
RULES: dict[str, type[Rule]] = {}


def register_rule(rule: type[Rule]) -> type[Rule]:
    """Class decorator: name a rule in :data:`RULES`."""
    if rule.name in RULES:
        raise ValueError(f"a rule named {rule.name!r} is already registered")
    RULES[rule.name] = rule
    return rule


def rule_of(config) -> Rule:
    """The rule a training configuration trains its input synapses with: the frozen-hidden
    control (``freeze_hidden``), local STDP only (no SBP mode) or SBP in its mode."""
    if config.freeze_hidden:
        return RULES["frozen"]()
    if config.sbp_mode is None:
        return RULES["local_stdp"]()
    return RULES["sbp"](mode=config.sbp_mode, p=config.p, f=config.f)
