"""Equation-string model factories (neurons, synapses, plasticity) with units.

Each factory returns Brian2 equation strings plus a namespace of named
parameters (Brian2 Quantities), in the style of Brian2's own examples.  The
parameters a factory accepts, with their units, ranges and defaults, are
declared once in a :class:`~sbp_brian.parameters.Param` table beside it; the
same table validates keyword arguments and model files
(:mod:`sbp_brian.model_files`).

Papers cited in the docstrings:

* SBP: Zhang et al., Sci. Adv. 7, eabh0146 (2021), Eqs. 4-9 and 12.
* GLSNN: Zhao et al., Front. Comput. Neurosci. (2020), Eq. 2.
* BP-STDP: Tavanaei & Maida, Neurocomputing (2019), Eq. 3.

Weights are dimensionless; a synapse converts weight into conductance (or
voltage) with its own scale parameter (``g_w``, ``v_w``), so that learning
rules, Dale's law and the nonlocal steps all work on plain numbers.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
from brian2 import NeuronGroup, Synapses, ms, mV, nS, pA, pF

from .parameters import Param, validate_params

__all__ = [
    "NeuronModel", "SynapseModel", "combine",
    "lif", "conductance_lif", "integrate_and_fire", "with_homeostasis", "with_dale_sign",
    "tm_stp", "tm_efficacies", "conductance_transmission", "voltage_transmission",
    "current_transmission", "pair_stdp",
    "homeostatic_drive", "dale_update_code", "dale_clip",
    "NEURON_MODELS", "SYNAPSE_MODELS",
]


@dataclass(frozen=True)
class NeuronModel:
    """A neuron model: membrane equation, other state, threshold, reset, namespace.

    ``membrane`` is the right-hand side of ``dv/dt`` kept apart from the other
    equations so that :func:`with_homeostasis` can blend it (SBP Eq. 9).
    """

    name: str
    membrane: str
    other_equations: str
    threshold: str
    reset: str
    refractory: Any
    method: str
    namespace: Mapping[str, Any]
    initial: Mapping[str, str] = field(default_factory=dict)
    #: the membrane and synaptic state of a neuron at rest (no input since long), each
    #: variable's value as an expression in the model's namespace; see :attr:`rest`
    resting: Mapping[str, str] = field(default_factory=dict)

    @property
    def rest(self) -> dict:
        """The state a network resets the neuron to between samples: :attr:`resting`, and no
        refractoriness (a spike long ago) where the model has a refractory period."""
        if self.refractory is False:
            return dict(self.resting)
        return {**self.resting, "lastspike": "-1e4*second", "not_refractory": "True"}

    @property
    def equations(self) -> str:
        clamp = " (unless refractory)" if self.refractory is not False else ""
        return f"dv/dt = {self.membrane} : volt{clamp}\n{self.other_equations}"

    def group(self, n: int, name: str | None = None, **kwargs) -> NeuronGroup:
        """Create a :class:`NeuronGroup` of ``n`` neurons in their initial state."""
        group = NeuronGroup(n, self.equations, threshold=self.threshold, reset=self.reset,
                            refractory=self.refractory, method=self.method,
                            namespace=dict(self.namespace), name=name or self.name + "*",
                            **kwargs)
        for variable, value in self.initial.items():
            setattr(group, variable, value)
        return group


@dataclass(frozen=True)
class SynapseModel:
    """Synaptic model, on_pre and on_post code with a namespace; combine with :func:`combine`."""

    model: str = ""
    on_pre: str = ""
    on_post: str = ""
    namespace: Mapping[str, Any] = field(default_factory=dict)
    initial: Mapping[str, Any] = field(default_factory=dict)

    def synapses(self, source, target, name: str | None = None, connect: Any = True,
                 **kwargs) -> Synapses:
        """Create, connect and initialise a :class:`Synapses` object.

        ``connect`` is passed to :meth:`Synapses.connect`: ``True`` for all to
        all, a condition string, or a dict of ``i``/``j`` arrays.
        """
        syn = Synapses(source, target, model=self.model, on_pre=self.on_pre or None,
                       on_post=self.on_post or None, namespace=dict(self.namespace),
                       name=name or "synapses*", **kwargs)
        if isinstance(connect, Mapping):
            syn.connect(**connect)
        elif connect is True:
            syn.connect()
        elif connect:
            syn.connect(connect)
        for variable, value in self.initial.items():
            setattr(syn, variable, value)
        return syn


def combine(*parts: SynapseModel) -> SynapseModel:
    """Concatenate synaptic components in order (STP before transmission before STDP).

    Order matters inside ``on_pre``: Tsodyks-Markram STP must compute the
    efficacy before the conductance jump that uses it.  A parameter defined by
    two parts must have the same value in both.
    """
    namespace: dict[str, Any] = {}
    for part in parts:
        for key, value in part.namespace.items():
            if key in namespace and not np.all(namespace[key] == value):
                raise ValueError(f"synaptic components disagree on parameter '{key}': "
                                 f"{namespace[key]} vs {value}")
            namespace[key] = value
    model_lines: list[str] = []
    for part in parts:
        for line in part.model.splitlines():
            if line.strip() and line not in model_lines:
                model_lines.append(line)
    initial: dict[str, Any] = {}
    for part in parts:
        initial.update(part.initial)
    return SynapseModel(
        model="\n".join(model_lines),
        on_pre="\n".join(p.on_pre for p in parts if p.on_pre),
        on_post="\n".join(p.on_post for p in parts if p.on_post),
        namespace=namespace, initial=initial)


# --------------------------------------------------------------------------------------
# Neurons
# --------------------------------------------------------------------------------------

LIF_PARAMS = {
    "tau_m": Param(ms, 20 * ms, low=0, strict_low=True, doc="membrane time constant"),
    "C_m": Param(pF, 200 * pF, low=0, strict_low=True, doc="membrane capacitance"),
    "V_L": Param(mV, -70 * mV, doc="leak (resting) potential"),
    "V_th": Param(mV, -50 * mV, doc="firing threshold"),
    "V_reset": Param(mV, -70 * mV, doc="reset potential, held during the refractory period"),
    "t_ref": Param(ms, 2 * ms, low=0, doc="absolute refractory period"),
    "tau_syn": Param(ms, 5 * ms, low=0, strict_low=True, doc="synaptic current decay"),
}


def lif(**params) -> NeuronModel:
    """Current-based leaky integrate-and-fire neuron with exponential synaptic current.

    .. math::
        \\tau_m \\frac{dV}{dt} = -(V - V_L) + \\frac{\\tau_m}{C_m}(I_{syn} + I_{ext}),
        \\qquad \\tau_{syn}\\frac{dI_{syn}}{dt} = -I_{syn}

    Spike when ``V > V_th``; ``V`` is reset to ``V_reset`` and held there for
    ``t_ref``.  The equations are linear, so they are integrated exactly.
    Synapses add to ``I_syn``; ``I_ext`` is a per-neuron constant current.
    """
    p = validate_params(LIF_PARAMS, params, "lif")
    return NeuronModel(
        name="lif",
        membrane="(V_L - v)/tau_m + (I_syn + I_ext)/C_m",
        other_equations="dI_syn/dt = -I_syn/tau_syn : amp\nI_ext : amp",
        threshold="v > V_th", reset="v = V_reset", refractory="t_ref",
        method="exact", namespace=p, initial={"v": "V_L"},
        resting={"v": "V_L", "I_syn": "0*amp"})


CONDUCTANCE_LIF_PARAMS = {
    "tau_m": Param(ms, 20 * ms, low=0, strict_low=True, doc="membrane time constant C_m/g_L (Eq. 5)"),
    "g_L": Param(nS, 10 * nS, low=0, strict_low=True, doc="leak conductance (Eq. 5)"),
    "V_L": Param(mV, -70 * mV, doc="leak potential (Eq. 5)"),
    "V_E": Param(mV, 0 * mV, doc="excitatory reversal potential (Eq. 5)"),
    "V_I": Param(mV, -80 * mV, doc="inhibitory reversal potential (Eq. 5)"),
    "V_th": Param(mV, -50 * mV, doc="firing threshold V_Tr (Eq. 5)"),
    "V_reset": Param(mV, -70 * mV, doc="reset and refractory clamp, the paper's V_rest (Eq. 5)"),
    "t_ref": Param(ms, 2 * ms, low=0, doc="refractory period tau_ref (Eq. 5)"),
    "tau_E": Param(ms, 5 * ms, low=0, strict_low=True,
                   doc="excitatory conductance decay; plays Eq. 4's tau_s"),
    "tau_I": Param(ms, 10 * ms, low=0, strict_low=True, doc="inhibitory conductance decay"),
}


#: Integration method of the conductance LIF (see :func:`conductance_lif`).
CONDUCTANCE_METHOD = "rk2"


def conductance_lif(*, conductance_gains: bool = False, **params) -> NeuronModel:
    """Conductance-based LIF neuron (SBP Eq. 5; GLSNN Eq. 2).

    .. math::
        \\tau_m \\frac{dV}{dt} = -(V - V_L) - \\frac{g_E}{g_L}(V - V_E)
            - \\frac{g_I}{g_L}(V - V_I) + \\frac{I_{ext}}{g_L},
        \\quad \\tau_E \\frac{dg_E}{dt} = -g_E, \\quad \\tau_I \\frac{dg_I}{dt} = -g_I

    with threshold ``V_th``, reset to ``V_reset`` and clamping there during
    ``t_ref``.  Eq. 5's ``I_syn/g_L`` term is kept as the external current
    ``I_ext``; the synaptic drive of Eq. 4 (with its recovery time tau_s)
    arrives through the conductance ``g_E`` (decay ``tau_E``), so that it
    keeps Eq. 5's driving force.  Steady state for constant conductances:
    ``V* = (g_L V_L + g_E V_E + g_I V_I + I_ext)/(g_L + g_E + g_I)``.

    Integrated with the second-order midpoint method (:data:`CONDUCTANCE_METHOD`,
    Brian's "rk2"): the product ``g V`` makes the system nonlinear, and exponential
    Euler, which holds ``g`` constant over a step (first order in ``g``), changed
    spike counts between dt = 0.1 and 0.05 ms for near-threshold inputs.  With rk2
    (and with RK4) spike times agree to within the finer step
    (``tests/test_equations.py``); rk2 costs a quarter of RK4's time in the
    784-500-10 training network, so it is the default.  Its price: the exponential
    conductance decays are integrated, not exact -- off by a relative ``(dt/tau)^3/6`` per
    step (1.3e-6 at dt = 0.1 ms, tau = 5 ms; 7e-5 after one tau).

    ``conductance_gains=True`` multiplies the conductances in the membrane equation by
    per-neuron gains, ``gain_E g_E`` and ``gain_I g_I`` (state variables, initially 1): one
    factor on all of a neuron's excitatory and one on all of its inhibitory synapses, which
    is multiplicative synaptic scaling expressed postsynaptically.  The training network
    keeps its synaptic scaling there until the next weight update (:mod:`sbp_brian.network`).
    """
    p = validate_params(CONDUCTANCE_LIF_PARAMS, params, "conductance_lif")
    g_E, g_I = ("gain_E*gE", "gain_I*gI") if conductance_gains else ("gE", "gI")
    gains = "\ngain_E : 1\ngain_I : 1" if conductance_gains else ""
    return NeuronModel(
        name="conductance_lif",
        membrane=f"(-(v - V_L) - {g_E}/g_L*(v - V_E) - {g_I}/g_L*(v - V_I) + I_ext/g_L)/tau_m",
        other_equations=("dgE/dt = -gE/tau_E : siemens\n"
                         "dgI/dt = -gI/tau_I : siemens\n"
                         "I_ext : amp" + gains),
        threshold="v > V_th", reset="v = V_reset", refractory="t_ref",
        method=CONDUCTANCE_METHOD, namespace=p,
        initial={"v": "V_L", **({"gain_E": 1, "gain_I": 1} if conductance_gains else {})},
        resting={"v": "V_L", "gE": "0*nS", "gI": "0*nS"})


IF_PARAMS = {
    "theta": Param(mV, 10 * mV, low=0, strict_low=True, doc="threshold relative to rest (BP-STDP Eq. 3b)"),
    "V_rest": Param(mV, 0 * mV, doc="rest and reset potential U_rest (Eq. 3b)"),
    "C_m": Param(pF, 200 * pF, low=0, strict_low=True, doc="capacitance, for external current only"),
    "t_ref": Param(ms, 0 * ms, low=0, doc="refractory period (the paper uses none)"),
}


def integrate_and_fire(**params) -> NeuronModel:
    """Non-leaky integrate-and-fire neuron (BP-STDP Eq. 3).

    ``U(t) = U(t - dt) + sum_h w_h s_h(t)``; if ``U >= V_rest + theta`` the
    neuron spikes and ``U`` is reset to ``V_rest`` (Eq. 3b).  Input spikes
    jump ``v`` (see :func:`voltage_transmission`); an optional external
    current integrates as ``dv/dt = I_ext/C_m``.
    """
    p = validate_params(IF_PARAMS, params, "integrate_and_fire")
    return NeuronModel(
        name="if", membrane="I_ext/C_m", other_equations="I_ext : amp",
        threshold="v >= V_rest + theta", reset="v = V_rest",
        # Forward Euler is exact here: the right-hand side is constant between events.
        refractory="t_ref", method="euler", namespace=p, initial={"v": "V_rest"},
        resting={"v": "V_rest"})


HOMEOSTASIS_PARAMS = {
    "tau_homeo": Param(ms, 0.2 * ms, low=0, strict_low=True,
                       doc="relaxation time of the homeostatic state; dt/tau_homeo is Eq. 8's "
                           "learning rate e (e = 0.5 at dt = 0.1 ms)"),
    "V_Tr": Param(mV, 0 * mV, doc="offset V_Tr of the homeostatic target (Eqs. 6-8)"),
    "V_in": Param(mV, 1 * mV, low=0,
                  doc="training network only: the membrane potential above rest that stands for "
                      "a fully active input in Eq. 8, V_i = V_in x_i (x_i the pixel intensity "
                      "that sets the input's Bernoulli rate); the paper gives no V_i for spike "
                      "sources"),
}

#: Readings of Eq. 9's mixing weight lambda in the training network:
#: "sample" (the default: the released code's fraction of the current sample window that has
#: elapsed, t_i/T) and "epochs" (the paper's printed t_e/T_e, epochs elapsed over total).
HOMEOSTASIS_TIME_BASES = ("sample", "epochs")


def with_homeostasis(neuron: NeuronModel, mix: str = "homeo_mix", **params) -> NeuronModel:
    """Add homeostatic membrane adjustment (SBP Eqs. 6-9) to a neuron model.

    Eq. 8 relaxes ``V_j`` toward the minimum of the energy of Eq. 6,
    ``sum_i V_i W_ij + V_Tr``; Eq. 9 blends that change with the feedforward
    (LIF) change with weight ``lambda``::

        dV/dt = lambda * LIF(V) + (1 - lambda) * (v_ff + V_Tr - V)/tau_homeo

    ``v_ff = sum_i W_ij V_i`` is a voltage filled by a summed variable from the
    input synapses (:func:`homeostatic_drive`) or set directly; the training network
    (:mod:`sbp_brian.network`) sets it to ``V_L + V_in sum_i W_ij x_i`` at each sample's start.
    The discrete step of Eq. 8 with rate ``e`` corresponds to ``tau_homeo = dt/e``.

    ``mix`` is the expression of ``lambda``.  By default it is the shared variable
    ``homeo_mix`` (a new group starts at 1, the plain neuron model), which a protocol or the
    training loop sets: the paper's printed reading is ``t_e/T_e``, epochs elapsed over
    total.  The training network's default reading (the released code's) passes the
    fraction of the current sample that has elapsed instead (:data:`HOMEOSTASIS_TIME_BASES`).
    ``V_in`` is read by the training network only.
    """
    p = validate_params(HOMEOSTASIS_PARAMS, params, "homeostasis")
    clash = set(p) & set(neuron.namespace)
    if clash:
        raise ValueError(f"homeostasis parameters clash with neuron parameters: {sorted(clash)}")
    shared_mix = mix == "homeo_mix"
    return dataclasses.replace(
        neuron,
        name=neuron.name + "_homeo",
        membrane=(f"({mix})*({neuron.membrane}) + "
                  f"(1 - ({mix}))*(v_ff + V_Tr - v)/tau_homeo"),
        other_equations=neuron.other_equations + "\nv_ff : volt" + (
            "\nhomeo_mix : 1 (shared)" if shared_mix else ""),
        namespace={**neuron.namespace, **p},
        initial={**neuron.initial, **({"homeo_mix": 1} if shared_mix else {})})


def with_dale_sign(neuron: NeuronModel) -> NeuronModel:
    """Add the constant ``dale_sign`` (+1 excitatory, -1 inhibitory) that Dale's-law
    synapses read as ``dale_sign_pre`` (see :func:`dale_update_code`).  Initially +1."""
    return dataclasses.replace(
        neuron, other_equations=neuron.other_equations + "\ndale_sign : 1 (constant)",
        initial={**neuron.initial, "dale_sign": 1})


NEURON_MODELS: dict[str, tuple[Callable[..., NeuronModel], dict[str, Param]]] = {
    "lif": (lif, LIF_PARAMS),
    "conductance_lif": (conductance_lif, CONDUCTANCE_LIF_PARAMS),
    "integrate_and_fire": (integrate_and_fire, IF_PARAMS),
}


# --------------------------------------------------------------------------------------
# Synapses
# --------------------------------------------------------------------------------------

STP_PARAMS = {
    "U": Param(1, 0.2, low=0, high=1, strict_low=True, doc="utilisation increment U (Eq. 4)"),
    "tau_f": Param(ms, 50 * ms, low=0, strict_low=True, doc="facilitation recovery time (Eq. 4)"),
    "tau_d": Param(ms, 200 * ms, low=0, strict_low=True, doc="depression recovery time (Eq. 4)"),
}


def tm_stp(**params) -> SynapseModel:
    """Tsodyks-Markram short-term plasticity, event-driven per synapse (SBP Eq. 4).

    Between spikes ``du/dt = -u/tau_f`` and ``dx/dt = (1 - x)/tau_d`` (solved
    exactly, event-driven).  At a presynaptic spike, in this order:
    ``u += U (1 - u)``; ``efficacy = u x``; ``x -= efficacy``.  The synaptic
    variable ``efficacy`` holds the fraction of resources released by the last
    spike (``u_n^+ x_n^-``), which a transmission component multiplies into the
    weight (Eq. 4's ``A W_ij u x``).  Initial state ``u = 0``, ``x = 1``.
    """
    p = validate_params(STP_PARAMS, params, "tm_stp")
    return SynapseModel(
        model=("du/dt = -u/tau_f : 1 (event-driven)\n"
               "dx/dt = (1 - x)/tau_d : 1 (event-driven)\n"
               "efficacy : 1"),
        on_pre="u += U*(1 - u)\nefficacy = u*x\nx -= efficacy",
        namespace=p, initial={"u": 0, "x": 1})


def tm_efficacies(spike_times, U: float, tau_f, tau_d) -> np.ndarray:
    """Closed-form recursion of :func:`tm_stp` for a presynaptic spike train (tests, protocols).

    With ``D`` the interval since the previous spike:
    ``u_n^- = u_{n-1}^+ e^{-D/tau_f}``, ``u_n^+ = u_n^- + U(1 - u_n^-)``,
    ``x_n^- = 1 - (1 - x_{n-1}^+) e^{-D/tau_d}``; efficacy ``u_n^+ x_n^-``,
    ``x_n^+ = x_n^- - efficacy``.  Starts from rest (``u = 0``, ``x = 1``).
    """
    u, x = 0.0, 1.0
    out = np.empty(len(spike_times))
    for n in range(len(spike_times)):
        if n:
            interval = spike_times[n] - spike_times[n - 1]
            u *= float(np.exp(-interval / tau_f))
            x = 1 - (1 - x) * float(np.exp(-interval / tau_d))
        u += U * (1 - u)
        out[n] = u * x
        x -= out[n]
    return out


TRANSMISSION_PARAMS = {
    "g_w": Param(nS, 1 * nS, low=0, doc="conductance jump per unit weight"),
}


def conductance_transmission(signed: bool = False, factor: str = "1", **params) -> SynapseModel:
    """Conductance jump at a presynaptic spike: ``g_E += g_w * w * factor``.

    With ``signed=True`` (Dale's law, signed weights) positive weights drive
    ``gE`` and negative weights drive ``gI``.  ``factor`` is an expression
    multiplied in, e.g. ``"efficacy"`` after :func:`tm_stp`.
    """
    p = validate_params(TRANSMISSION_PARAMS, params, "conductance_transmission")
    if signed:
        code = (f"gE_post += g_w*w*int(w > 0)*{factor}\n"
                f"gI_post -= g_w*w*int(w < 0)*{factor}")
    else:
        code = f"gE_post += g_w*w*{factor}"
    return SynapseModel(model="w : 1", on_pre=code, namespace=p)


VOLTAGE_TRANSMISSION_PARAMS = {
    "v_w": Param(mV, 1 * mV, doc="membrane jump per unit weight"),
}


def voltage_transmission(factor: str = "1", **params) -> SynapseModel:
    """Instantaneous membrane jump ``v += v_w * w * factor`` (BP-STDP Eq. 3a, current LIF)."""
    p = validate_params(VOLTAGE_TRANSMISSION_PARAMS, params, "voltage_transmission")
    return SynapseModel(model="w : 1", on_pre=f"v_post += v_w*w*{factor}", namespace=p)


CURRENT_TRANSMISSION_PARAMS = {
    "I_w": Param(pA, 10 * pA, low=0, doc="synaptic current jump per unit weight"),
}


def current_transmission(factor: str = "1", **params) -> SynapseModel:
    """Synaptic current jump ``I_syn += I_w * w * factor`` for :func:`lif`."""
    p = validate_params(CURRENT_TRANSMISSION_PARAMS, params, "current_transmission")
    return SynapseModel(model="w : 1", on_pre=f"I_syn_post += I_w*w*{factor}", namespace=p)


STDP_PARAMS = {
    "A_plus": Param(1, 0.01, low=0, doc="LTP amplitude A+ (Eq. 12)"),
    "A_minus": Param(1, 0.0105, low=0, doc="LTD amplitude A- (Eq. 12)"),
    "tau_plus": Param(ms, 20 * ms, low=0, strict_low=True, doc="LTP time constant tau+ (Eq. 12)"),
    "tau_minus": Param(ms, 20 * ms, low=0, strict_low=True, doc="LTD time constant tau- (Eq. 12)"),
    "w_min": Param(1, 0.0, doc="lower weight bound (immediate mode, bounds='clip'; refused in "
                               "accumulate mode)"),
    "w_max": Param(1, 1.0, doc="upper weight bound (immediate mode; |w| bound with Dale; refused "
                               "in accumulate mode)"),
}

STDP_MODES = ("immediate", "accumulate")
STDP_PAIRINGS = ("all", "nearest")
STDP_BOUNDS = ("clip", "dale")


def pair_stdp(mode: str = "immediate", pairing: str = "all", bounds: str = "clip",
              **params) -> SynapseModel:
    """Pair-based exponential STDP with traces (SBP Eq. 12).

    For a pre spike at ``t_j`` and a post spike at ``t_k``::

        dW = +A_plus  exp((t_j - t_k)/tau_plus)    if t_j - t_k <= 0   (LTP)
        dW = -A_minus exp(-(t_j - t_k)/tau_minus)  if t_j - t_k >  0   (LTD)

    implemented with event-driven traces ``apre`` (jumps by ``A_plus``) and
    ``apost`` (jumps by ``A_minus``); simultaneous spikes count as LTP, as in
    Eq. 12.  ``pairing="all"`` sums over all pairs (additive traces), the
    reading of "each pair of pre- and postsynaptic spikes"; ``"nearest"``
    pairs each spike with the latest one of the other side only.

    ``mode="immediate"`` applies each change at once, bounded either to
    ``[w_min, w_max]`` (``bounds="clip"``) or by Dale's law with
    ``|w| <= w_max`` (``bounds="dale"``, needs ``dale_sign`` in the
    presynaptic group).  ``mode="accumulate"`` leaves ``w`` untouched and sums
    the LTP and LTD parts into ``dw_ltp`` (>= 0) and ``dw_ltd`` (<= 0) for a
    nonlocal step (SBP Eqs. 13-15) to read and reset; it refuses ``w_min`` and
    ``w_max``, which it would not read.
    """
    if mode not in STDP_MODES:
        raise ValueError(f"pair_stdp: unknown mode {mode!r}; expected one of {STDP_MODES}")
    if pairing not in STDP_PAIRINGS:
        raise ValueError(f"pair_stdp: unknown pairing {pairing!r}; expected one of {STDP_PAIRINGS}")
    if bounds not in STDP_BOUNDS:
        raise ValueError(f"pair_stdp: unknown bounds {bounds!r}; expected one of {STDP_BOUNDS}")
    bounds_given = sorted({"w_min", "w_max"} & set(params))
    if mode == "accumulate" and bounds_given:  # no silent settings: nothing here reads them
        raise ValueError(f"pair_stdp: {' and '.join(bounds_given)} bound(s) the weight in "
                         "immediate mode only; in accumulate mode the step that applies the "
                         "summed changes bounds them (the training network: [training] "
                         "w_in_max and w_out_max); remove them")
    p = validate_params(STDP_PARAMS, params, "pair_stdp")
    jump = "=" if pairing == "nearest" else "+="
    model = ("dapre/dt = -apre/tau_plus : 1 (event-driven)\n"
             "dapost/dt = -apost/tau_minus : 1 (event-driven)")
    if mode == "accumulate":
        model += "\ndw_ltp : 1\ndw_ltd : 1"
        on_pre = f"apre {jump} A_plus\ndw_ltd -= apost"
        on_post = f"apost {jump} A_minus\ndw_ltp += apre"
    elif bounds == "clip":
        on_pre = f"apre {jump} A_plus\nw = clip(w - apost, w_min, w_max)"
        on_post = f"apost {jump} A_minus\nw = clip(w + apre, w_min, w_max)"
    else:
        on_pre = f"apre {jump} A_plus\n" + dale_update_code("w", "-apost")
        on_post = f"apost {jump} A_minus\n" + dale_update_code("w", "apre")
    return SynapseModel(model=model + "\nw : 1", on_pre=on_pre, on_post=on_post, namespace=p)


def homeostatic_drive(state: str = "v") -> SynapseModel:
    """Summed drive ``v_ff = sum_i W_ij V_i`` for :func:`with_homeostasis` (SBP Eq. 8).

    ``state`` names a voltage variable of the presynaptic group.
    """
    return SynapseModel(model=f"w : 1\nv_ff_post = w*{state}_pre : volt (summed)")


# --------------------------------------------------------------------------------------
# Dale's law
# --------------------------------------------------------------------------------------

def dale_update_code(weight: str = "w", change: str = "dw", sign: str = "dale_sign_pre",
                     w_max: str = "w_max") -> str:
    """Brian2 code applying ``change`` to ``weight`` under Dale's law.

    The SBP paper's rule: a change with ``W dW >= 0`` is free, one with
    ``W dW < 0`` is clipped to ``[-|W|, |W|]`` so a synapse never changes sign.
    Written with the presynaptic neuron's fixed sign ``s`` (+1 excitatory,
    -1 inhibitory) as ``W <- s clip(s (W + dW), 0, w_max)``, which is the same
    rule for ``W != 0`` and keeps the sign defined when ``W`` reaches 0.
    """
    return f"{weight} = {sign}*clip({sign}*({weight} + ({change})), 0, {w_max})"


def dale_clip(w: np.ndarray, dw: np.ndarray, sign: np.ndarray | None = None,
              w_max: float = np.inf) -> np.ndarray:
    """Numpy reference of :func:`dale_update_code`: the new weights ``w + dW`` under Dale's law.

    Without ``sign`` the sign is taken from ``w`` (the paper's literal rule,
    zero weights may then take either sign).
    """
    w = np.asarray(w, dtype=float)
    dw = np.asarray(dw, dtype=float)
    if sign is None:
        opposing = w * dw < 0
        limited = np.clip(dw, -np.abs(w), np.abs(w))
        new = w + np.where(opposing, limited, dw)
        return np.clip(new, -w_max, w_max)
    sign = np.asarray(sign, dtype=float)
    return sign * np.clip(sign * (w + dw), 0, w_max)


SYNAPSE_MODELS: dict[str, tuple[Callable[..., SynapseModel], dict[str, Param]]] = {
    "tm_stp": (tm_stp, STP_PARAMS),
    "pair_stdp": (pair_stdp, STDP_PARAMS),
    "conductance_transmission": (conductance_transmission, TRANSMISSION_PARAMS),
    "voltage_transmission": (voltage_transmission, VOLTAGE_TRANSMISSION_PARAMS),
    "current_transmission": (current_transmission, CURRENT_TRANSMISSION_PARAMS),
}
