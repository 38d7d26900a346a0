"""The self-backpropagation (SBP) step (Zhang et al., Sci. Adv. 2021, Eqs. 13-15).

Notation: i input, j hidden, k output.  Over a sample, pair-STDP changes are
accumulated on every synapse without being applied (``pair_stdp(mode="accumulate")``):
the input synapses' LTP and LTD parts ``dW+_ij >= 0`` and ``dW-_ij <= 0`` and the output
synapses' net change ``dW_jk``.  At the sample's end, per hidden neuron::

    S+_j = sum_k max(dW_jk, 0)      (output LTP, Eq. 13)
    S-_j = sum_k min(dW_jk, 0)      (output LTD, Eq. 13)
    n(x) = x / sum_j x_j            (over hidden neurons; n(x) = x when the sum is 0)

and the input synapses change by one of three readings (``mode``):

``"paper"`` (default; Eqs. 14-15 read with the released code's structure)
    ``dW_ij = f (1 + p n(S+)_j) dW+_ij + f (1 + p n(|S-|)_j) dW-_ij``.
    Eq. 15 is printed with ``1 - p n(...)``; the paper insists that the propagated
    modification keeps the sign of the inducing one and the released code amplifies LTD
    too, so the minus is read as a garble.  ``eq15_sign="-"`` gives the printed form.
``"spread"`` (the biological reading of the text)
    hidden neuron j passes ``f S+_j`` and ``f S-_j``, with their signs, to the fraction
    ``p`` of its input synapses with the highest presynaptic activity in the sample
    (coactive synapses), shared in proportion to that activity.
``"weighted"`` (our extension, not the paper's)
    as ``"spread"``, but each output synapse's retrograde signal is scaled by its own
    efficacy: ``S_j = sum_k w_jk dW_jk``.  Under an error-driven output rule this carries
    ``sum_k w_jk e_k``, i.e. credit.

In ``"spread"`` and ``"weighted"`` modes the input synapses' own pair-STDP change
``dW+_ij + dW-_ij`` is added to the propagated term (``include_local=True``), so that
"without SBP" (local rules only) and "with SBP" differ by the SBP step alone; in
``"paper"`` mode the formula is the whole change.  :func:`propagated_change` isolates the
part of the change that the output synapses caused.

The pure functions below are the readable numpy reference (runtime mode); :class:`SBP` is
the rule of the family (:mod:`sbp_brian.rules.base`) that builds the same step as Brian2
generated code for the standalone targets and calls these functions for its reference.
"""
from __future__ import annotations

import math

import numpy as np
from brian2 import NeuronGroup, linked_var

from ..parameters import Param
from ..sections import register_section
from .base import Rule, register_rule

__all__ = ["SBP", "SBP_MODES", "SBP_PARAMS", "sbp_variant", "normalise", "output_signals",
           "sbp_input_change", "propagated_change", "coactive_shares"]

SBP_MODES = ("paper", "spread", "weighted")

SBP_PARAMS = {
    "p": Param(1, 0.3, low=0.1, high=1.0, doc="proportional factor p (Eq. 14); in spread "
                                              "modes the fraction of input synapses reached"),
    "f": Param(1, 0.7, low=0.1, high=1.0, doc="fraction factor f (Eq. 14)"),
}
register_section("sbp", SBP_PARAMS, {"mode": SBP_MODES, "eq15_sign": ("+", "-")}, {
    "mode": ("paper", "paper (Eqs. 14-15); spread (the text's reading); weighted (ours)"),
    "eq15_sign": ("+", "+: Eq. 15's printed minus read as a garble; - (the printed form) in "
                       "the numpy reference only, refused by the training network")})


def normalise(x: np.ndarray) -> np.ndarray:
    """``n(x) = x / sum(x)`` over hidden neurons; ``x`` itself when the sum is 0."""
    x = np.asarray(x, dtype=float)
    total = x.sum()
    return x / total if total != 0 else x


def output_signals(dw_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``S+_j``, ``S-_j`` from the output synapses' accumulated change ``dw_out[j, k]`` (Eq. 13)."""
    dw_out = np.asarray(dw_out, dtype=float)
    return np.maximum(dw_out, 0).sum(axis=1), np.minimum(dw_out, 0).sum(axis=1)


def coactive_shares(pre_activity: np.ndarray, p: float) -> np.ndarray:
    """Share of the propagated signal each input synapse receives in the spread modes.

    The most active inputs are reached: those whose activity is at least ``c*``, the
    largest threshold ``c >= 1`` that at least ``ceil(p * n_input)`` inputs reach (all
    active inputs if fewer are active).  Ties at the threshold are all included, so no
    input is preferred for its index; the generated-code step uses the same rule.  The
    reached inputs share in proportion to their activity; all zeros if none was active.
    """
    activity = np.asarray(pre_activity, dtype=float)
    n_reached = int(np.ceil(p * len(activity) - 1e-9))
    shares = np.zeros_like(activity)
    if activity.max(initial=0) <= 0:
        return shares
    levels = np.arange(1, int(np.ceil(activity.max())) + 1)
    reaching = [(activity >= level).sum() >= n_reached for level in levels]
    threshold = levels[np.flatnonzero(reaching)[-1]] if any(reaching) else 1
    chosen = activity >= threshold
    shares[chosen] = activity[chosen] / activity[chosen].sum()
    return shares


def sbp_input_change(mode: str, dw_in_ltp: np.ndarray, dw_in_ltd: np.ndarray,
                     dw_out: np.ndarray, p: float = 0.3, f: float = 0.7,
                     w_out: np.ndarray | None = None, pre_activity: np.ndarray | None = None,
                     include_local: bool = True, eq15_sign: str = "+") -> np.ndarray:
    """Change of the input weights ``dW[i, j]`` after one sample (see the module docstring).

    Parameters
    ----------
    mode : {"paper", "spread", "weighted"}
    dw_in_ltp, dw_in_ltd : array (n_input, n_hidden)
        Accumulated LTP (>= 0) and LTD (<= 0) parts of the input synapses' pair STDP.
    dw_out : array (n_hidden, n_output)
        Accumulated pair-STDP change of the output synapses.
    p, f : float
        SBP factors, each in [0.1, 1].
    w_out : array (n_hidden, n_output), needed for ``"weighted"``
        Output weights (signed, Dale's law).
    pre_activity : array (n_input,), needed for the spread modes
        Presynaptic spike counts of the inputs in the sample.
    include_local : bool
        Spread modes: add the input synapses' own STDP change.
    eq15_sign : {"+", "-"}
        Paper mode: ``"-"`` uses Eq. 15 as printed, ``1 - p n(|S-|)``.
    """
    if mode not in SBP_MODES:
        raise ValueError(f"unknown SBP mode {mode!r}; expected one of {', '.join(SBP_MODES)}")
    for name, value in (("p", p), ("f", f)):
        SBP_PARAMS[name].check(name, value, "sbp")
    dw_in_ltp = np.asarray(dw_in_ltp, dtype=float)
    dw_in_ltd = np.asarray(dw_in_ltd, dtype=float)
    s_plus, s_minus = output_signals(dw_out)
    if mode == "paper":
        if eq15_sign not in ("+", "-"):
            raise ValueError(f"eq15_sign must be '+' or '-', got {eq15_sign!r}")
        ltd_sign = 1.0 if eq15_sign == "+" else -1.0
        gain_ltp = f * (1 + p * normalise(s_plus))
        gain_ltd = f * (1 + ltd_sign * p * normalise(np.abs(s_minus)))
        return dw_in_ltp * gain_ltp[None, :] + dw_in_ltd * gain_ltd[None, :]
    if pre_activity is None:
        raise ValueError(f"SBP mode {mode!r} needs the inputs' presynaptic activity")
    if mode == "spread":
        signal = f * (s_plus + s_minus)
    else:
        if w_out is None:
            raise ValueError("SBP mode 'weighted' needs the output weights w_out")
        signal = f * (np.asarray(w_out, dtype=float) * np.asarray(dw_out, dtype=float)).sum(axis=1)
    change = np.outer(coactive_shares(pre_activity, p), signal)
    if include_local:
        change = change + dw_in_ltp + dw_in_ltd
    return change


def propagated_change(mode: str, dw_in_ltp, dw_in_ltd, dw_out, **kwargs) -> np.ndarray:
    """The part of :func:`sbp_input_change` caused by the output synapses' change.

    The change with ``dw_out`` minus the change with ``dw_out = 0``: in paper mode
    ``f p n(S+)_j dW+_ij + f p n(|S-|)_j dW-_ij``, in the spread modes the spread term.
    """
    with_output = sbp_input_change(mode, dw_in_ltp, dw_in_ltd, dw_out, **kwargs)
    without = sbp_input_change(mode, dw_in_ltp, dw_in_ltd, np.zeros_like(dw_out), **kwargs)
    return with_output - without


@register_rule
class SBP(Rule):
    """Self-backpropagation at every sample boundary (module docstring), in one of
    :data:`SBP_MODES`.  Generated code, in the boundary step's phases:

    * ``sum_output_changes``: per hidden neuron ``Sp = S+_j``, ``Sm = S-_j`` (Eq. 13) and
      ``Sw = sum_k w_jk dW_jk``, summed over its output synapses;
    * ``sum_hidden_totals``: their totals over the hidden layer, reduced into a one-neuron
      group per network copy (``sbp_norm``) that the hidden neurons read through linked
      variables, for ``n(x) = x / sum(x)``;
    * ``gains``: "paper": ``gain_ltp = f (1 + p n(S+))``, ``gain_ltd = f (1 + p n(|S-|))``
      (Eqs. 14-15); spread modes: the hidden neuron's ``signal``;
    * spread modes, ``count_input_levels`` .. ``shares``: the activity threshold that selects
      the fraction p of most active inputs, ties included (:func:`coactive_shares`), and each
      input's ``share``.

    The change is ``gain_ltp dw_ltp + gain_ltd dw_ltd`` ("paper") or
    ``dw_stdp + share signal`` (spread modes, local STDP included).
    """

    name = "sbp"
    sbp_keys = ("sbp.mode", "sbp.p", "sbp.f", "sbp.eq15_sign")
    launch_keys = ("p", "f")  # run values (run_values): one compiled project serves them all

    def __init__(self, mode: str = "paper", p: float = SBP_PARAMS["p"].default,
                 f: float = SBP_PARAMS["f"].default):
        if mode not in SBP_MODES:
            raise ValueError(f"unknown SBP mode {mode!r}; expected one of {', '.join(SBP_MODES)}")
        for key, value in (("p", p), ("f", f)):
            SBP_PARAMS[key].check(key, value, "sbp")
        self.mode, self.p, self.f = mode, p, f

    @classmethod
    def from_model(cls, model) -> "SBP":
        """SBP with the model file's ``[sbp]`` p, f and mode (the defaults where it has none;
        ``eq15_sign`` is the training network's to refuse)."""
        section = model.sections.get("sbp", {})
        return cls(mode=model.options.get("sbp", {}).get("mode", "paper"),
                   **{key: section[key] for key in ("p", "f") if key in section})

    @property
    def splits_stdp(self) -> bool:  # "paper" weighs LTP and LTD apart (Eqs. 14-15)
        return self.mode == "paper"

    @property
    def spreads(self) -> bool:
        return self.mode in ("spread", "weighted")

    def run_values(self) -> dict:
        """p, f and the spread modes' number of inputs reached, ``ceil(p n_input)``: values
        of the norm group, set at every launch, so that one compiled project serves every
        (p, f) (a sweep over them compiles once)."""
        norm = self._norm
        return {norm.p_sbp: self.p, norm.f_sbp: self.f,
                norm.k_reached: int(math.ceil(self.p * self._n_input - 1e-9))}

    def input_state(self, generated: bool) -> str:
        state = ("coactive : 1   # activity weight in the spread modes\n"
                 "share : 1      # share of the propagated signal\n")
        if generated:  # read from the one-neuron group "sbp_norm"
            state += ("cstar : 1 (linked)    # activity threshold of the spread modes\n"
                      "act_tot : 1 (linked)  # their total activity\n")
        return state

    def hidden_state(self, generated: bool) -> str:
        state = ("Sp : 1   # S+ (Eq. 13)\nSm : 1   # S- (Eq. 13)\n"
                 "Sw : 1   # sum_k w_jk dW_jk (weighted mode)\n"
                 "gain_ltp : 1\ngain_ltd : 1\nsignal : 1\n")
        if generated:
            state += ("Sp_tot : 1 (linked)\nSm_tot : 1 (linked)\n"
                      "p_sbp : 1 (linked)\nf_sbp : 1 (linked)\n")
        return state

    def output_sums(self) -> dict:
        return {"Sp_pre": "dw*int(dw > 0)", "Sm_pre": "dw*int(dw < 0)", "Sw_pre": "w*dw"}

    def boundary_objects(self, step) -> list:
        net, copies = step.net, step.copies
        # p, f and k_reached are variables (not constants) of this group: run_values(), which
        # the network sets (or every launch of a compiled project)
        norm = NeuronGroup(copies, "Sp_tot : 1\nSm_tot : 1\nact_tot : 1\ncstar : 1\n"
                           "p_sbp : 1\nf_sbp : 1\nk_reached : 1",
                           namespace=step.namespace, clock=step.clock, name="sbp_norm")
        self._norm, self._n_input = norm, step.net.config.n_input
        objects = [norm, step.reducer(net.hidden, norm,
                                      {"Sp_tot_post": "Sp_pre", "Sm_tot_post": "-Sm_pre"},
                                      "sum_hidden_totals", "sbp_hidden_norm")]
        for group, variables in ((net.hidden, ("Sp_tot", "Sm_tot", "p_sbp", "f_sbp")),
                                 (net.inputs, ("cstar", "act_tot"))):
            copy = np.arange(len(group)) // (len(group) // copies)  # its copy's norm neuron
            for variable in variables:
                setattr(group, variable, linked_var(norm, variable, index=copy))
        # n(x) = x when sum(x) = 0
        step.run(net.hidden, "signal = f_sbp*Sw" if self.mode == "weighted" else
                 "signal = f_sbp*(Sp + Sm)" if self.mode == "spread" else
                 "gain_ltp = f_sbp*(1 + p_sbp*Sp/(Sp_tot + int(Sp_tot == 0)))\n"
                 "gain_ltd = f_sbp*(1 + p_sbp*(-Sm)/(Sm_tot + int(Sm_tot == 0)))", "gains",
                 "sbp_gains")
        if self.spreads:
            objects += self._coactive_inputs(step, norm)
        if not step.summed:
            step.run(norm, "Sp_tot = 0\nSm_tot = 0\nact_tot = 0\ncstar = 0", "reset",
                     "sbp_norm_reset")
        return objects

    def _coactive_inputs(self, step, norm) -> list:
        """The spread modes' activity threshold (the largest level that at least k_reached
        inputs reach, :func:`coactive_shares`) and each input's share of the activity."""
        net, copies, config = step.net, step.copies, step.net.config
        max_count = int(np.ceil(float(config.max_rate * config.sample_duration))) * 3 + 10
        levels = NeuronGroup(copies * max_count, "level : 1\nn_above : 1",
                             namespace=step.namespace, clock=step.clock, name="sbp_levels")
        levels.level = f"i % {max_count} + 1"
        count_levels = step.reducer(net.inputs, levels,
                                    {"n_above_post": "int(count_pre >= level_post)"},
                                    "count_input_levels", "sbp_count_levels")
        pick = step.reducer(levels, norm, {"cstar_post": "int(n_above_pre >= k_reached_post)"},
                            "pick_level", "sbp_pick_level")
        step.run(net.inputs, "coactive = count*int(count >= clip(cstar, 1, inf))", "coactive",
                 "sbp_coactive")
        activity = step.reducer(net.inputs, norm, {"act_tot_post": "coactive_pre"},
                                "sum_input_activity", "sbp_inputs_norm")
        step.run(net.inputs, "share = coactive/(act_tot + int(act_tot == 0))", "shares",
                 "sbp_share")
        if not step.summed:
            step.run(levels, "n_above = 0", "reset", "sbp_levels_reset")
        return [levels, count_levels, pick, activity]

    def input_change(self) -> str:
        return ("gain_ltp_post*dw_ltp + gain_ltd_post*dw_ltd" if self.mode == "paper"
                else "dw_stdp + share_pre*signal_post")

    def reset(self, summed: bool) -> dict:
        return {} if summed else {"hidden": "Sp = 0\nSm = 0\nSw = 0"}

    def reference_change(self, config, dw_ltp, dw_ltd, w_out, dw_out, pre_activity):
        return sbp_input_change(self.mode, dw_ltp, dw_ltd, dw_out, p=self.p, f=self.f,
                                w_out=w_out, pre_activity=pre_activity)

    def describe(self) -> dict:
        return {"rule": self.name, "mode": self.mode, "p": self.p, "f": self.f}


def sbp_variant(rule: dict, *, no_sbp: bool = False, freeze_hidden: bool = False,
                mode: str | None = None, p: float | None = None, f: float | None = None) -> dict:
    """The SBP network's rule for a variant of a run (the command line's ``--freeze-hidden``,
    ``--no-sbp``, ``--sbp-mode``, ``--p``, ``--f``; ``sbp-brian compare``'s variants), as a
    description (:meth:`Rule.describe`), from ``rule``, the model file's.

    The frozen-hidden control wins over everything, then "without SBP" (local STDP only); an
    SBP mode switches SBP on, with the model's p and f where it has them (the defaults
    otherwise) unless given.  Without a mode, p and f change the model's own SBP and are not
    used by a model whose rule is not SBP (a variant without SBP has none)."""
    if freeze_hidden:
        return {"rule": "frozen"}
    if no_sbp:
        return {"rule": "local_stdp"}
    own = {k: v for k, v in rule.items() if k != "rule"} if rule["rule"] == SBP.name else {}
    if mode is None and not own:
        return dict(rule)
    given = {"mode": mode, "p": p, "f": f}
    return SBP(**{**own, **{k: v for k, v in given.items() if v is not None}}).describe()
