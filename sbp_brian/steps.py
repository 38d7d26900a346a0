"""Nonlocal steps as generated code: Brian2 objects run every ``period`` in named phases.

A nonlocal learning step (SBP's at every sample boundary, BP-STDP's every 4 ms inside the
sample) is a sequence of phases: sums over synapses into neurons, per-neuron code, weight
updates, resets.  :class:`GeneratedStep` places each piece of code at
``run_regularly(dt=period, when="start", order=<its phase's index>)``, so that a compiled
project runs the step with no Python in between and the order is written down by name.
Objects of one phase must touch disjoint variables (the networks' tests check it), so their
order within a phase does not matter.

Sums over synapses come in two variants (``summed``): ``+=`` from synaptic ``run_regularly``
code (the fastest on one CPU thread, but racy under OpenMP and on a GPU; the target must then
be cleared by a reset), or Brian2 ``(summed)`` variables declared in the synapses' model, whose
updaters are moved from their every-step schedule onto the step's clock and phase (a private
Brian2 attribute, ``_clock``; Brian 2.10, checked by the tests).
"""
from __future__ import annotations

import numpy as np
from brian2 import Clock, Synapses, second

__all__ = ["GeneratedStep", "summed_lines", "connect_within_copies", "sample_counts"]


def summed_lines(sums: dict) -> str:
    """Model lines declaring ``{target: expression}`` as summed variables."""
    return "\n".join(f"{target} = {expr} : 1 (summed)" for target, expr in sums.items())


def connect_within_copies(synapses: Synapses, copies: int) -> None:
    """All-to-all synapses within each network copy (copy ``c`` = the ``c``-th block of
    ``len(group)/copies`` neurons of source and target), ordered by presynaptic index, so that
    copy ``c``'s synapses are the ``c``-th block of the synapse arrays."""
    if copies == 1:
        synapses.connect()
        return
    n_source, n_target = len(synapses.source) // copies, len(synapses.target) // copies
    first = f"(i // {n_source})*{n_target}"
    synapses.connect(j=f"k for k in range({first}, {first} + {n_target})")


def sample_counts(monitor, sample_duration, n_samples: int, copies: int = 1) -> np.ndarray:
    """Spike counts per sample from a layer's spike monitor, shape (n_samples, layer size):
    samples follow each other every ``sample_duration``; with network copies (copy ``c`` is
    the ``c``-th block of the layer) a period holds ``copies`` samples, copy ``c``'s the
    ``c``-th.  Spikes after the last sample are not counted."""
    T = float(sample_duration / second)
    size = monitor.source.N // copies
    copy, neuron = np.divmod(np.asarray(monitor.i[:]), size)
    sample = np.floor(np.asarray(monitor.t[:] / second) / T + 1e-9).astype(int) * copies + copy
    keep = sample < n_samples
    counts = np.zeros((n_samples, size), dtype=int)
    np.add.at(counts, (sample[keep], neuron[keep]), 1)
    return counts


class GeneratedStep:
    """Places the objects of a step by phase name (the
    :class:`~sbp_brian.rules.BoundaryStep` a rule builds its part with).

    ``phases`` are the step's phase names in order; ``net`` the network whose step it is
    (lent to rules); ``copies`` the network copies simulated side by side.
    """

    def __init__(self, period, phases: tuple, namespace: dict, summed: bool = False,
                 net=None, copies: int = 1, name: str = "step"):
        self.period, self.phases, self.namespace = period, tuple(phases), namespace
        self.summed, self.net, self.copies = summed, net, copies
        #: the network's simulation clock, for the objects a step adds
        self.clock = getattr(net, "clock", None)
        self.sums_clock = Clock(dt=period, name=f"{name}_sums_clock")

    def phase(self, name: str) -> int:
        """The ``order`` of an object in phase ``name``."""
        try:
            return self.phases.index(name)
        except ValueError:
            raise ValueError(f"unknown phase {name!r}; the step's phases are "
                             f"{', '.join(self.phases)}") from None

    def run(self, group, code: str, at: str, name: str) -> None:
        """``group.run_regularly(code)`` every period, in phase ``at``."""
        group.run_regularly(code, dt=self.period, when="start", order=self.phase(at),
                            name=name)

    def reduce(self, synapses, sums: dict, at: str, name: str) -> None:
        """Sums ``{target: expression}`` over ``synapses`` into their pre/post group, in phase
        ``at`` (with ``summed``, the targets must be declared summed in the model)."""
        if not self.summed:
            self.run(synapses, "\n".join(f"{t} += {e}" for t, e in sums.items()), at, name)
            return
        for target in sums:
            updater = synapses.summed_updaters[target]
            updater._clock, updater.when, updater.order = self.sums_clock, "start", self.phase(at)

    def reducer(self, source, target, sums: dict, at: str, name: str):
        """A Synapses object (all-to-all within each copy) that only sums ``sums``."""
        synapses = Synapses(source, target, model=summed_lines(sums) if self.summed else "",
                            namespace=self.namespace, clock=self.clock, name=name)
        connect_within_copies(synapses, self.copies)
        self.reduce(synapses, sums, at, name + "_sum")
        return synapses
