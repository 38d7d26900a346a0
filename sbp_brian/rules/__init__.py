"""The learning rules of the hidden layer, one module each behind one interface
(:mod:`sbp_brian.rules.base`): SBP (:mod:`~sbp_brian.rules.sbp`), local STDP only
(:mod:`~sbp_brian.rules.local_stdp`) and the frozen-hidden control
(:mod:`~sbp_brian.rules.frozen`).  Importing the package registers them in :data:`RULES`.
"""
from . import frozen, local_stdp, sbp  # noqa: F401  (register the rules)
from .base import RULES, BoundaryStep, Rule, register_rule, rule_of

__all__ = ["RULES", "BoundaryStep", "Rule", "register_rule", "rule_of"]
