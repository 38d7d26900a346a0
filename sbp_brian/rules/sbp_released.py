"""The SBP paper's released algorithm: its relaxation, contrastive update and SBP gains.

The authors' released SNN code (Zhang et al., Sci. Adv. 7, eabh0146, 2021; GitHub
``thomasaimondy/SBP``, ``SBP_SNN_STDP/``) is not the spike-timing network the paper describes:
it is an equilibrium-propagation network of continuous states (docs/science.md).  This module
holds its learning step as small pure numpy functions, in the code's notation: ``x[l]`` the
state of layer ``l`` (a batch, ``(B, N_l)``; ``x[0]`` the clamped input), ``w[l]`` the weights
from layer ``l`` to ``l + 1`` (``(N_l, N_{l+1})``), ``b[l]`` the bias of layer ``l + 1``.

* :func:`relax`: the homeostatic free phase (``snnhomeov.m``; the paper's Eq. 8 with a learned
  bias for ``V_Tr`` and the top-down term the paper omits) and, with a target, the nudged
  "teaching" phase (``snnplasticitysbp.m``; the paper's MSE teaching, Eqs. 10-11): hidden
  layers ``x <- sigma1(x - eps (x - x_below w - x_above w^T - b))``, the output
  ``x <- ReLU(x - eps (x - x_below w - b + beta (x - y)))``, layer by layer (Gauss-Seidel).
* :func:`base_change`: the "STDP" change, a contrastive outer product of the free (``0``) and
  nudged (``beta``) states (the code's ``stdp_type``): "sbp" ``x_pre^0T (x_post^b - x_post^0)``,
  "symmetric" (the code's baseline, plain EqProp) ``x_pre^bT x_post^b - x_pre^0T x_post^0``,
  "differential" ``x_pre^bT x_post^0 - x_pre^0T x_post^0``, each ``/(beta B)``.
* :func:`sbp_modulation`: the SBP gains (``snnplasticitysbp.m:81-124``; the paper's
  Eqs. 13-15 as the code has them): LTP and LTD parts scaled per presynaptic neuron, LTD per
  postsynaptic neuron and, below the output layer, per postsynaptic neuron by its share of the
  layer above's LTP or LTD; every gain is ``1 + lambda f n(p s)`` with ``n(v) = v / sum v``.
  ``p`` cancels in ``n`` (it is kept as the code's no-op; ``p = 0`` or ``f = 0`` makes every
  gain 1, the neutral setting), so ``f`` is the one live knob.
* :func:`contrastive_update`: biases ``b += alpha (x^b - x^0)/beta`` (batch mean) and weights
  ``w += alpha dW`` with the gains for "sbp" only, as released.

The network around it (the leaky feed-forward phase that gives the relaxation its start, the
persistent state, the batches) is :mod:`sbp_brian.released`.
"""
from __future__ import annotations

import numpy as np
from brian2 import ms

from ..parameters import Param
from ..sections import register_section
from .base import Rule, register_rule

__all__ = ["ReleasedSBP", "RELEASED_PARAMS", "UPDATES", "sigma1", "relu", "normalised_share",
           "relax", "base_change", "sbp_modulation", "contrastive_update"]

#: The code's ``stdp_type``: "sbp" (its "with SBP"), "symmetric" (its "without SBP" baseline,
#: ``symmetricSTDP``), "differential" (``differentialSTDP``)
UPDATES = ("sbp", "symmetric", "differential")
#: What happens to the feed-forward state and the particles between batches
STATES = ("carried", "reset")

RELEASED_PARAMS = {
    "tau_m": Param(ms, 10 * ms, low=0, strict_low=True, doc="membrane time constant of the "
                   "feed-forward phase's leaky units (dimensionless 10 in the code, read in ms "
                   "like its dt)"),
    "tau_syn": Param(ms, 2 * ms, low=0, strict_low=True, doc="conductance time constant"),
    "g_L": Param(1, 5.0, low=0, strict_low=True, doc="leak conductance, also the conductance's "
                 "baseline (dimensionless)"),
    "V_E": Param(1, 0.2, doc="reversal potential of the input conductance (dimensionless)"),
    "V_L": Param(1, 0.0, doc="leak potential (dimensionless)"),
    "V_th": Param(1, 0.05, doc="threshold (dimensionless)"),
    "V_reset": Param(1, -0.5, doc="reset after a threshold crossing (dimensionless)"),
    "free_iterations": Param(1, 20, low=1, integer=True,
                             doc="iterations of the homeostatic free phase (n_it_neg)"),
    "nudged_iterations": Param(1, 5, low=1, integer=True,
                               doc="iterations of the nudged teaching phase (n_it_pos)"),
    "epsilon": Param(1, 0.5, low=0, strict_low=True, high=1, doc="relaxation step"),
    "beta": Param(1, 0.5, low=0, strict_low=True, doc="teaching strength (the nudge)"),
    "alpha": Param(1, None, low=0, many=True, doc="learning rates, one per projection from the "
                   "input up (each also the rate of its target layer's bias)"),
    "f": Param(1, 0.2, low=0, doc="SBP gain factor (the code's fraction): gains 1 + lambda f "
               "share"),
    "p": Param(1, 0.1, low=0, doc="the code's propagation_range: it multiplies the vector "
               "that is then normalised, so it cancels (0 makes every gain 1)"),
    "lambda_pre": Param(1, 1.0, low=0, doc="weight of the presynaptic gains (LTP and LTD)"),
    "lambda_post": Param(1, 0.5, low=0, doc="weight of the postsynaptic LTD gain"),
    "lambda_bp": Param(1, 1.0, low=0, doc="weight of the back-propagated gains (hidden layers)"),
    "batch_size": Param(1, 50, low=1, integer=True, doc="samples per update"),
    "stp_U": Param(1, 0.45, low=0, high=1, doc="STP utilisation increment (stp = true)"),
    "stp_tau_f": Param(1, 10.0, low=0, strict_low=True, doc="STP facilitation time constant, "
                       "in steps (stp = true)"),
    "stp_tau_d": Param(1, 2.0, low=0, strict_low=True, doc="STP depression time constant, in "
                       "steps (stp = true)"),
    "stp_tau_s": Param(1, 2.0, low=0, strict_low=True, doc="STP current time constant, in steps "
                       "(stp = true)"),
}
register_section("released", RELEASED_PARAMS, {
    "update": UPDATES, "stp": (False, True), "state": STATES, "order": ("fixed", "shuffled")}, {
    "update": ("sbp", "the contrastive change: sbp (the code's SBP: x_pre^0T dx_post with the "
                      "SBP gains), symmetric (its without-SBP baseline, plain EqProp), "
                      "differential (x_pre^bT x_post^0 - x_pre^0T x_post^0); --no-sbp chooses "
                      "symmetric"),
    "stp": (False, "true: the code's short-term plasticity on each layer's input current, per "
                   "postsynaptic unit, one Euler step of unit time per step (off in every "
                   "released script)"),
    "state": ("carried", "carried: the feed-forward phase's potentials, conductances and the "
                         "relaxed states (the particles, mixed into the next batch's "
                         "feed-forward phase) carry over from batch to batch, as released; "
                         "reset: every batch starts from zero"),
    "order": ("fixed", "fixed: the training set in its stored order every epoch, as released; "
                       "shuffled: a new order every epoch")})


def sigma1(z):
    """The code's squashing ``2/(1 + exp(-z)) - 1``, written as the identical ``tanh(z/2)``
    (no overflow for large ``|z|``)."""
    return np.tanh(np.asarray(z) / 2)


def relu(z):
    return np.maximum(z, 0.0)


def normalised_share(v: np.ndarray) -> np.ndarray:
    """The code's ``n(v) = v / sum(v)``, and ``v`` unchanged where the sum is 0."""
    total = v.sum()
    return v if total == 0 else v / total


def relax(x: list, w: list, b: list, iterations: int, epsilon: float, target=None,
          beta: float = 0.0) -> list:
    """The free phase (no ``target``) or the nudged phase (``target``, strength ``beta``):
    ``iterations`` sweeps over the layers from the first hidden one to the output, each layer
    updated from its neighbours' latest states (module docstring).  Returns new arrays; the
    input ``x[0]`` stays clamped."""
    x = [np.array(layer, dtype=float) for layer in x]
    top = len(x) - 1
    bottom_up = x[0] @ w[0]  # the clamped input's drive, the same in every sweep
    for _ in range(iterations):
        for layer in range(1, top + 1):
            drive = (bottom_up if layer == 1 else x[layer - 1] @ w[layer - 1]) + b[layer - 1]
            if layer < top:
                x[layer] = sigma1(x[layer] - epsilon * (x[layer] - drive - x[layer + 1] @ w[layer].T))
            else:
                pull = 0.0 if target is None else beta * (x[layer] - target)
                x[layer] = relu(x[layer] - epsilon * (x[layer] - drive + pull))
    return x


def base_change(update: str, pre_free, pre_nudged, post_free, post_nudged,
                beta: float) -> np.ndarray:
    """One projection's contrastive change ``(N_pre, N_post)`` from the batch's free and nudged
    states (module docstring)."""
    batch = len(pre_free)
    if update == "sbp":
        change = pre_free.T @ (post_nudged - post_free)
    elif update == "symmetric":
        change = pre_nudged.T @ post_nudged - pre_free.T @ post_free
    elif update == "differential":
        change = (pre_nudged - pre_free).T @ post_free
    else:
        raise ValueError(f"update must be one of {UPDATES}, got {update!r}")
    return change / (beta * batch)


def sbp_modulation(change: np.ndarray, f: float, p: float, lambdas=(1.0, 0.5, 1.0),
                   above: tuple | None = None) -> tuple:
    """The SBP gains on one projection's ``change`` (``snnplasticitysbp.m:81-124``).

    With ``ltp = max(change, 0)``, ``ltd = min(change, 0)`` and ``gain(l, s) = 1 + l f n(p s)``,
    the code's five terms are ``LTP_pre = ltp`` times a gain per presynaptic neuron (from the
    row sums of ``ltp``), ``LTD_pre`` likewise (row sums of ``|ltd|``), ``LTD_post = ltd`` times
    a gain per postsynaptic neuron (column sums of ``|ltd|``, ``lambda_post``) and, below the
    output, ``LTP_bp``, ``LTD_bp``: ``ltp``, ``ltd`` times a gain per postsynaptic neuron from the
    row sums of the layer above's ``LTP_pre``, ``LTD_pre`` (``lambda_bp``).  The output
    projection's change is ``LTP_pre + (LTD_pre + LTD_post)/2``, a hidden one's
    ``(LTP_pre + LTP_bp)/2 + (LTD_pre + LTD_post + LTD_bp)/3``; a gain that is NaN makes its
    term 0 (the code's NaN -> 0).  The terms are summed here as one gain matrix per sign.

    ``lambdas``: ``(lambda_pre, lambda_post, lambda_bp)``.  ``above``: the row sums of the
    layer above's ``(LTP_pre, LTD_pre)`` (``None`` for the output projection).  Returns the
    modulated change and this projection's row sums of ``(LTP_pre, LTD_pre)``.  With ``f = 0``
    or ``p = 0`` every gain is 1 and the result is ``change``.
    """
    lambda_pre, lambda_post, lambda_bp = lambdas
    ltp, ltd = np.maximum(change, 0.0), np.minimum(change, 0.0)
    ltp_rows, ltd_rows = ltp.sum(axis=1), ltd.sum(axis=1)

    def gain(strength, sums):
        return np.nan_to_num(1 + strength * f * normalised_share(p * sums), nan=0.0)

    ltp_pre = gain(lambda_pre, ltp_rows)
    ltd_pre = gain(lambda_pre, np.abs(ltd_rows))
    ltd_post = gain(lambda_post, np.abs(ltd.sum(axis=0)))
    sums = (ltp_pre * ltp_rows, ltd_pre * ltd_rows)
    if above is None:
        return ltp * ltp_pre[:, None] + ltd * (ltd_pre[:, None] + ltd_post[None, :]) / 2, sums
    # the layer above's LTD sums are negative; their normalised shares are positive
    ltp_bp, ltd_bp = gain(lambda_bp, above[0]), gain(lambda_bp, above[1])
    return (ltp * (ltp_pre[:, None] + ltp_bp[None, :]) / 2
            + ltd * (ltd_pre[:, None] + ltd_post[None, :] + ltd_bp[None, :]) / 3), sums


def contrastive_update(free: list, nudged: list, w: list, b: list, alpha, beta: float,
                       update: str = "sbp", f: float = 0.2, p: float = 0.1,
                       lambdas=(1.0, 0.5, 1.0)) -> tuple[list, list]:
    """New weights and biases after one batch (module docstring); ``alpha[l]`` the rate of
    ``w[l]`` and ``b[l]`` (0 freezes a projection).  The gains act with ``update = "sbp"``
    only, computed from the output projection down."""
    new_b = [bias + rate * np.mean((nudged[l + 1] - free[l + 1]) / beta, axis=0)
             for l, (bias, rate) in enumerate(zip(b, alpha))]
    new_w = list(w)
    above = None
    for l in reversed(range(len(w))):
        change = base_change(update, free[l], nudged[l], free[l + 1], nudged[l + 1], beta)
        if update == "sbp":
            change, above = sbp_modulation(change, f, p, lambdas, above)
        new_w[l] = w[l] + alpha[l] * change
    return new_w, new_b


@register_rule
class ReleasedSBP(Rule):
    """The released code's learning (module docstring) as a rule of the family: it trains the
    rate network of :mod:`sbp_brian.released` (network "released"), batch by batch."""

    name = "sbp_released"
    network = "released"
    # without SBP the update is the code's symmetric one, which no gain reaches
    sbp_keys = ("released.update", "released.f", "released.p", "released.lambda_pre",
                "released.lambda_post", "released.lambda_bp")

    def __init__(self, alpha, update: str = "sbp", f: float = 0.2, p: float = 0.1,
                 lambda_pre: float = 1.0, lambda_post: float = 0.5, lambda_bp: float = 1.0,
                 beta: float = 0.5, epsilon: float = 0.5, free_iterations: int = 20,
                 nudged_iterations: int = 5):
        if update not in UPDATES:
            raise ValueError(f"[released] update must be one of {UPDATES}, got {update!r}")
        self.alpha, self.update, self.f, self.p = [float(a) for a in alpha], update, f, p
        self.lambdas = (lambda_pre, lambda_post, lambda_bp)
        self.beta, self.epsilon = beta, epsilon
        self.free_iterations, self.nudged_iterations = free_iterations, nudged_iterations

    def step(self, free: list, target, w: list, b: list, rate_scale: float = 1.0):
        """The nudged phase from the free states, then the update: new ``(w, b)``."""
        nudged = relax(free, w, b, self.nudged_iterations, self.epsilon, target, self.beta)
        return contrastive_update(free, nudged, w, b, [a * rate_scale for a in self.alpha],
                                  self.beta, self.update, self.f, self.p, self.lambdas)

    def describe(self) -> dict:
        return {"rule": self.name, "alpha": self.alpha, "update": self.update, "f": self.f,
                "p": self.p, "lambdas": list(self.lambdas), "beta": self.beta,
                "epsilon": self.epsilon, "free_iterations": self.free_iterations,
                "nudged_iterations": self.nudged_iterations}
