"""The learning rules, one module each behind one interface (:mod:`sbp_brian.rules.base`):
SBP (:mod:`~sbp_brian.rules.sbp`), local STDP only (:mod:`~sbp_brian.rules.local_stdp`) and
the frozen-hidden control (:mod:`~sbp_brian.rules.frozen`), which train the hidden layer of
the SBP network at sample boundaries, BP-STDP (:mod:`~sbp_brian.rules.bpstdp`), which
trains every projection of a layered network inside the sample, GLSNN
(:mod:`~sbp_brian.rules.glsnn`), which trains every projection at the end of each sample
toward targets set by global random feedback, and BRP (:mod:`~sbp_brian.rules.brp`), whose
synapses accumulate an eligibility during the sample and learn at its end from the label
projected through fixed random feedback; the SBP paper's released algorithm
(:mod:`~sbp_brian.rules.sbp_released`) and its RBM (:mod:`~sbp_brian.rules.sbp_rbm`), which
train rate networks batch by batch, and its spiking MLP (:mod:`~sbp_brian.rules.sbp_mlp`),
trained through time by a pseudo-gradient.  Importing the package
registers them in :data:`RULES` and declares the model file's ``[rule]`` section.
"""
from ..sections import register_section
from . import bpstdp, brp, frozen, glsnn, local_stdp, sbp, sbp_mlp, sbp_rbm, sbp_released  # noqa: F401  (register the rules)
from .base import (RULES, BoundaryStep, LayeredRule, Rule, SampleEndRule, register_rule,
                   rule_of)

__all__ = ["RULES", "BoundaryStep", "LayeredRule", "Rule", "SampleEndRule", "register_rule",
           "rule_of"]

register_section("rule", {}, {"name": tuple(RULES)}, {
    "name": ("sbp", "the learning rule: " + "; ".join(
        f"{name} ({rule.network} network)" for name, rule in RULES.items()) + ". Without "
        "[rule], SBP in the [sbp] mode; the command line's --no-sbp and --freeze-hidden "
        "choose local_stdp and frozen for the same network")})
