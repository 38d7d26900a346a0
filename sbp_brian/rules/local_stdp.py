"""Local STDP only: the input synapses apply their own pair-STDP change (SBP paper Eq. 12)
at every sample boundary, with no nonlocal step -- "without SBP" in the paper's comparisons.

In the numpy reference the change is ``dW+_ij + dW-_ij``; in generated code the accumulated
``dw_stdp`` (:mod:`sbp_brian.network` keeps LTP and LTD in one accumulator when a rule does not
need them apart).
"""
from __future__ import annotations

from .base import Rule, register_rule

__all__ = ["LocalSTDP"]


@register_rule
class LocalSTDP(Rule):
    """The input synapses' pair-STDP change, applied as it is (the :class:`Rule` defaults)."""

    name = "local_stdp"
