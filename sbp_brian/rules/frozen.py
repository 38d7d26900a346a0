"""The frozen-hidden control: the input weights keep their random initial values and only the
output synapses learn, so the hidden layer is a fixed random code.  Any rule that trains the
hidden layer has to beat this control to show that it assigns credit there (docs/science.md).
"""
from __future__ import annotations

from .base import Rule, register_rule

__all__ = ["FrozenHidden"]


@register_rule
class FrozenHidden(Rule):
    """No change of the input weights; the network skips the input synapses' STDP
    bookkeeping."""

    name = "frozen"
    plastic_input = False
