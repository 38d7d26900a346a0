"""The model-file sections that are not components: their parameters, options and meaning.

A registry below the modules that read the sections: :mod:`sbp_brian.model_files` validates a
model file against :data:`SECTIONS`, the network (``[simulation]``, ``[sizes]``, ``[input]``,
``[teacher]``, ``[training]``, declared here) and the learning rule (``[sbp]``, declared by
:mod:`sbp_brian.rules.sbp` through :func:`register_section`) read them, and neither of those imports
the other to make a model file loadable.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from brian2 import Hz, ms

from .parameters import Param

__all__ = ["Section", "SECTIONS", "register_section", "TEACHER_MODES", "INPUT_SIGN_CHOICES"]


@dataclass(frozen=True)
class Section:
    """Schema of a fixed section: its parameters, its string options (the allowed values)
    and what each option means (with its default)."""

    params: Mapping[str, Param]
    options: Mapping[str, tuple] = field(default_factory=dict)
    option_docs: Mapping[str, tuple[Any, str]] = field(default_factory=dict)


SECTIONS: dict[str, Section] = {
    "simulation": Section({
        "dt": Param(ms, 0.1 * ms, low=0, strict_low=True, doc="integration time step"),
        "sample_duration": Param(ms, 50 * ms, low=0, strict_low=True,
                                 doc="presentation time of one sample"),
        "seed": Param(1, 0, low=0, integer=True, doc="random seed"),
    }),
    "sizes": Section({
        "input": Param(1, None, low=1, integer=True, doc="number of input neurons"),
        "hidden": Param(1, None, low=1, integer=True, many=True,
                        doc="number of hidden neurons; a list gives one hidden layer per "
                            "entry (layered networks only)"),
        "output": Param(1, None, low=1, integer=True, doc="number of output neurons"),
        "inhibitory_fraction": Param(1, 0.0, low=0, high=1,
                                     doc="fraction of inhibitory hidden neurons (Dale's law)"),
    }),
    "input": Section({
        "max_rate": Param(Hz, 200 * Hz, low=0, doc="firing rate of a pixel of intensity 1 (Eq. 2)"),
        "frames": Param(1, 1, low=1, integer=True,
                        doc="frames per sample with encoding = \"events\": a sample holds "
                            "that many frames of sizes.input inputs, shown in turn"),
    }, {"encoding": ("bernoulli", "poisson", "regular", "events"), "bias": (True, False)}, {
        "bias": (False, "true: one more input neuron, firing at max_rate in every sample "
                        "(with events: once per frame), whose weights act as the hidden "
                        "neurons' biases (ours; layered networks only)"),
        "encoding": ("bernoulli", "input spike process: bernoulli (SBP Eq. 2), poisson, or "
                                  "regular (evenly spaced, a random lag; BP-STDP's \"random "
                                  "lags\"), or events (frames of event-camera data: a "
                                  "spike where a frame holds an event, no re-encoding); the "
                                  "SBP training network draws Bernoulli spikes only, the "
                                  "layered network takes all but poisson")}),
}


def register_section(name: str, params: Mapping[str, Param],
                     options: Mapping[str, tuple] | None = None,
                     option_docs: Mapping[str, tuple[Any, str]] | None = None) -> None:
    """Let an algorithm module declare the schema of its own section (e.g. ``[sbp]``);
    ``option_docs`` gives each option's default and meaning."""
    SECTIONS[name] = Section(params, options or {}, option_docs or {})


#: How input synapses get their fixed signs (``[training] input_signs``;
#: :func:`sbp_brian.network.initial_weights`)
INPUT_SIGN_CHOICES = ("synapse", "neuron")

TEACHER_MODES = ("regular", "poisson")

register_section("teacher", {
    "rate": Param(Hz, 200 * Hz, low=0, doc="teaching spike train rate of the target output"),
}, {"mode": TEACHER_MODES}, {"mode": ("regular", "regular: evenly spaced teaching spikes; "
                                               "poisson: a Poisson train at the same rate")})

register_section("training", {
    "epochs": Param(1, 10, low=1, integer=True, doc="passes over the training set"),
    "eta_in": Param(1, 1.0, low=0, doc="learning-rate multiplier of the input-weight update"),
    "eta_out": Param(1, 1.0, low=0, doc="learning-rate multiplier of the output-weight update"),
    "w_in_init": Param(1, 0.5, doc="mean of the initial input weights"),
    "w_in_spread": Param(1, 0.5, low=0, doc="input weights start uniform in w_in_init +- "
                                            "w_in_spread (negative ones are inhibitory)"),
    "w_out_init": Param(1, 0.5, low=0, doc="|output weights| start uniform in [0, 2 w_out_init]"),
    "w_in_max": Param(1, 2.0, low=0, strict_low=True, doc="upper bound of |input weights|"),
    "w_out_max": Param(1, 2.0, low=0, strict_low=True, doc="upper bound of |output weights|"),
    "chunk": Param(1, 250, low=1, integer=True, doc="samples per compiled run (fast path)"),
    "batch_size": Param(1, 1, low=1, integer=True, doc="mini-batch SBP: samples whose boundary "
                        "changes are summed, weights frozen, before one update (1 = the "
                        "paper's per-sample rule)"),
    "lr_decay": Param(1, 0.0, low=0, doc="learning rates at epoch e (from 0) are eta/(1 + "
                                         "lr_decay e)"),
    "input_inhibitory_fraction": Param(1, 0.5, low=0, high=1, doc="with input_signs = "
                                       "\"neuron\": the fraction of input neurons that are "
                                       "inhibitory (0: all excitatory)"),
}, {"normalise_input": (True, False), "input_signs": INPUT_SIGN_CHOICES}, {
    "normalise_input": (False, "true: synaptic scaling, each hidden neuron's sums of "
                               "excitatory and of inhibitory input weights kept at their "
                               "initial values after every update (ours, not the paper's)"),
    "input_signs": ("synapse", "synapse: each input synapse excitatory or inhibitory by the "
                               "sign of its initial weight, so one input neuron drives both "
                               "(ours); neuron: Dale's law for inputs, each input neuron "
                               "excitatory or inhibitory (input_inhibitory_fraction of them, "
                               "drawn at random) with the same weight magnitudes (the released "
                               "code's set_EI, switched off there)")})
