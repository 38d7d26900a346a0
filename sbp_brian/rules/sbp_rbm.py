"""The SBP paper's RBM: its energy, relaxation and learning, in two readings.

The SBP paper (Zhang et al., Sci. Adv. 7, eabh0146, 2021) also trains a three-layer "RBM" of
rate units ``x`` (input, clamped), ``h`` (hidden), ``o`` (output) with states in ``[0, 1]``
(``rho(s) = clip(s, 0, 1)``).  A "sleep" phase relaxes the states toward a minimum of the
energy ``E`` (Ns iterations), a "wake" phase relaxes them toward a minimum of ``E + beta C``
with the target ``y`` (Nw iterations), and the weights learn from the two states.  Both
readings below run on that machinery, the authors' released code's (GitHub
``thomasaimondy/SBP``, ``SBP_ANN_RBM/model.py``: Scellier & Bengio's equilibrium
propagation with a modified energy).  It is numpy, batched, in discrete iterations: no
neuron here has a membrane or a spike, so Brian2 would add nothing.

**Energies** (:func:`energy`), per sample, with the biases ``b_1``, ``b_2`` of ``h`` and ``o``:

* ``"standard"`` (the released code with ``sbp = False``; Scellier & Bengio's Hopfield
  energy): ``E = |x|^2/2 + |h|^2/2 + |o|^2/2 - b_1.h - b_2.o - x W_0 h - h W_1 o``;
* ``"sbp"`` (the paper's Eq. 19 with the released code's biases, ``sbp = True``):
  ``E = x W_0 h + |x|^2 + theta (h W_1 o + |h|^2) + 2 b_1.h + b_2.o``, every sign ``+`` and the
  hidden bias twice, as released; ``theta`` is the paper's scalar "sbp" (0.5).  The output has
  no quadratic term of its own: without the target its state only integrates its drive.

The cost is ``C = |o - y|^2`` (the code's; the paper's Eq. 17 has a 1/2, absorbed in beta).

**Relaxation** (:func:`relax`): ``iterations`` Jacobi sweeps ``s <- clip(s - eps dF/ds, 0, 1)``
of ``h`` and ``o`` together, ``F = E`` (sleep) or ``E + beta C`` (wake).  The states never leave
``[0, 1]``, where ``rho`` is the identity, so the gradients are written with ``rho(s) = s``.

**Learning** (:func:`contrastive_changes`): equilibrium propagation's estimate of the
gradient, ``dtheta = -(alpha/beta) [dE/dtheta(wake) - dE/dtheta(sleep)]`` (batch mean) for
every weight and bias, the input layer's bias left out (its change is 0: ``x`` is clamped).

The two readings (``[rbm] reading``):

* ``"released"`` (the default): the code's.  With SBP the energy is ``"sbp"``, without it
  ``"standard"``; every batch a sleep phase, then a wake phase and the update of everything,
  beta's sign drawn at random per batch (the code's ``sign * beta``).  The paper's wake
  phases I/II and its Eq. 21 are not in that code.
* ``"paper"``: the paper's description (its Fig. 2B-E, Eqs. 18-21) on the same machinery, the
  energy ``"sbp"`` with and without SBP.  Batches alternate wake phase I and II
  (``wake_ii_every``: every that-many-th batch is a wake phase II, the rest wake phase I; 2
  alternates them, as the figure draws; the paper gives no ratio).  Wake phase II ("BP1 +
  BP2") updates everything by the contrastive estimate; wake phase I ("BP1 + SBP") updates the
  output projection and bias by it and replaces the hidden projection's update by Eq. 21
  (:func:`sbp_change`): ``dW_ij = eta_SBP f (1 + s(p sum_k dW_jk)) u_i u_j`` with ``s`` the
  logistic sigmoid and ``u`` the wake states (batch mean), the hidden bias unchanged.  As
  printed (``dW in [0, 2 eta_SBP u_i u_j]``) the change is never negative; under the Eq. 19
  energy, whose terms are ``+ u_i W_ij u_j``, a larger weight lowers the hidden unit's drive.
  Without SBP every batch is a wake phase II.

Both readings keep the code's **persistent particles**: each training sample's sleep phase
starts from the states its last one ended in (zero at first).  Evaluation (``[rbm]
evaluation``) relaxes each sample from zero for ``test_iterations`` sweeps (``"zero"``, ours:
the prediction is a function of the weights and the sample) or, as the code, from the
evaluated sample's own particle, ``Ns`` sweeps per evaluation (``"particles"``).
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit as sigmoid  # the logistic function

from ..parameters import Param
from ..sections import register_section
from .base import Rule, register_rule

__all__ = ["RBMRule", "RBM_PARAMS", "READINGS", "ENERGIES", "rho", "energy", "cost",
           "state_gradients", "energy_parameter_gradients", "relax", "contrastive_changes",
           "sbp_change"]

READINGS = ("released", "paper")
ENERGIES = ("standard", "sbp")

RBM_PARAMS = {
    "alpha": Param(1, None, low=0, many=True, doc="learning rates of W_0 and W_1 (each also the "
                   "rate of its target layer's bias; the code's alphas)"),
    "epsilon": Param(1, 1.0, low=0, strict_low=True, high=1, doc="relaxation step"),
    "beta": Param(1, 0.2, low=0, strict_low=True, doc="strength of the target in the wake "
                  "phase (its sign drawn per batch)"),
    "sleep_iterations": Param(1, 10, low=1, integer=True, doc="Ns: sweeps of the sleep (free) "
                              "phase (the code's n_it_neg)"),
    "wake_iterations": Param(1, 10, low=1, integer=True, doc="Nw: sweeps of the wake phase "
                             "(the code's n_it_pos)"),
    "test_iterations": Param(1, 100, low=1, integer=True, doc="sweeps of the sleep phase from "
                             "zero that evaluate a sample (ours)"),
    "theta": Param(1, 0.5, low=0, doc="the paper's 'sbp' scalar of Eq. 19 (the code's "
                   "theta_sbp)"),
    "batch_size": Param(1, 20, low=1, integer=True, doc="samples per update"),
    "eta_sbp": Param(1, 0.001, low=0, doc="reading 'paper': eta_SBP of Eq. 21"),
    "f": Param(1, 0.7, low=0, high=1, doc="reading 'paper': the fraction factor f of Eq. 21"),
    "p": Param(1, 0.3, low=0, high=1, doc="reading 'paper': the proportional factor p of Eq. 21"),
    "wake_ii_every": Param(1, 2, low=1, integer=True, doc="reading 'paper': every that-many-th "
                           "batch is a wake phase II (BP1 + BP2), the others wake phase I (BP1 "
                           "+ SBP); 1: no wake phase I"),
}
register_section("rbm", RBM_PARAMS, {"reading": READINGS, "update": ("sbp", "plain"),
                                     "evaluation": ("zero", "particles")}, {
    "reading": ("released", "released: the code's (the energy of Eq. 19 with SBP, the standard "
                            "one without, every batch one update of everything); paper: the "
                            "paper's wake phases I (BP1 + SBP, Eq. 21) and II (BP1 + BP2)"),
    "update": ("sbp", "sbp: with SBP; plain: without (--no-sbp chooses it)"),
    "evaluation": ("zero", "zero: every evaluated sample relaxed from zero for test_iterations "
                           "sweeps (ours: a function of the weights); particles: as the code, "
                           "each evaluated sample keeps its particle from evaluation to "
                           "evaluation, relaxed sleep_iterations sweeps each time")})


def rho(s):
    """The units' activation, ``clip(s, 0, 1)``."""
    return np.clip(s, 0.0, 1.0)


def energy(x, h, o, w, b, kind: str, theta: float = 0.5) -> np.ndarray:
    """Per-sample energy (module docstring); ``w = (W_0, W_1)``, ``b = (b_1, b_2)``."""
    x, h, o = rho(x), rho(h), rho(o)
    if kind == "standard":
        return (0.5 * ((x * x).sum(1) + (h * h).sum(1) + (o * o).sum(1)) - h @ b[0] - o @ b[1]
                - ((x @ w[0]) * h).sum(1) - ((h @ w[1]) * o).sum(1))
    if kind == "sbp":
        return (((x @ w[0]) * h).sum(1) + (x * x).sum(1)
                + theta * (((h @ w[1]) * o).sum(1) + (h * h).sum(1)) + 2 * h @ b[0] + o @ b[1])
    raise ValueError(f"energy must be one of {ENERGIES}, got {kind!r}")


def cost(o, y) -> np.ndarray:
    """Per-sample cost ``|o - y|^2`` (the code's)."""
    return ((rho(o) - y) ** 2).sum(1)


def state_gradients(x, h, o, w, b, kind: str, theta: float = 0.5, target=None,
                    beta: float = 0.0, bottom_up=None) -> tuple:
    """``(dF/dh, dF/do)`` with ``F = E + beta C`` (``C`` only with a ``target``), for states
    in ``[0, 1]``; ``bottom_up``: ``x W_0``, if already computed."""
    bottom_up = x @ w[0] if bottom_up is None else bottom_up
    if kind == "standard":
        dh = h - b[0] - bottom_up - o @ w[1].T
        do = o - b[1] - h @ w[1]
    elif kind == "sbp":
        dh = bottom_up + theta * (o @ w[1].T + 2 * h) + 2 * b[0]
        do = theta * (h @ w[1]) + b[1]
    else:
        raise ValueError(f"energy must be one of {ENERGIES}, got {kind!r}")
    if target is not None:
        do = do + 2 * beta * (o - target)
    return dh, do


def energy_parameter_gradients(x, h, o, kind: str, theta: float = 0.5) -> dict:
    """Batch means of ``dE/dW_0``, ``dE/dW_1``, ``dE/db_1``, ``dE/db_2`` at the states."""
    n = len(x)
    if kind == "standard":
        return {"W_0": -x.T @ h / n, "W_1": -h.T @ o / n, "b_1": -h.mean(0), "b_2": -o.mean(0)}
    if kind == "sbp":
        return {"W_0": x.T @ h / n, "W_1": theta * h.T @ o / n, "b_1": 2 * h.mean(0),
                "b_2": o.mean(0)}
    raise ValueError(f"energy must be one of {ENERGIES}, got {kind!r}")


def relax(x, h, o, w, b, iterations: int, epsilon: float, kind: str, theta: float = 0.5,
          target=None, beta: float = 0.0) -> tuple:
    """``iterations`` Jacobi sweeps ``s <- clip(s - epsilon dF/ds, 0, 1)`` of ``h`` and ``o``
    (module docstring); returns the new ``(h, o)``."""
    bottom_up = x @ w[0]  # the clamped input's drive, the same in every sweep
    for _ in range(iterations):
        dh, do = state_gradients(x, h, o, w, b, kind, theta, target, beta, bottom_up)
        h, o = rho(h - epsilon * dh), rho(o - epsilon * do)
    return h, o


def contrastive_changes(x, sleep: tuple, wake: tuple, beta: float, kind: str,
                        theta: float = 0.5) -> dict:
    """Equilibrium propagation's changes per unit learning rate,
    ``-(dE/dtheta(wake) - dE/dtheta(sleep))/beta`` (batch means), from the sleep and wake
    states ``(h, o)`` of the batch ``x``."""
    at_wake = energy_parameter_gradients(x, *wake, kind, theta)
    at_sleep = energy_parameter_gradients(x, *sleep, kind, theta)
    return {key: -(at_wake[key] - at_sleep[key]) / beta for key in at_wake}


def sbp_change(x, h, output_change, eta: float, f: float, p: float) -> np.ndarray:
    """The paper's Eq. 21: ``dW_ij = eta f (1 + s(p sum_k dW_jk)) u_i u_j`` (batch mean of
    ``u_i u_j``), ``output_change`` the hidden-to-output change ``dW_jk`` of the same batch."""
    gain = f * (1 + sigmoid(p * output_change.sum(axis=1)))
    return eta * (x.T @ h / len(x)) * gain[None, :]


@register_rule
class RBMRule(Rule):
    """The RBM's learning (module docstring) as a rule of the family: it trains the rate
    network of :mod:`sbp_brian.rbm` (network "rbm"), batch by batch."""

    name = "sbp_rbm"
    network = "rbm"
    sbp_keys = ("rbm.eta_sbp", "rbm.f", "rbm.p", "rbm.wake_ii_every")

    def __init__(self, alpha, reading: str = "released", with_sbp: bool = True,
                 epsilon: float = 1.0, beta: float = 0.2, sleep_iterations: int = 10,
                 wake_iterations: int = 10, theta: float = 0.5, eta_sbp: float = 0.001,
                 f: float = 0.7, p: float = 0.3, wake_ii_every: int = 2):
        if reading not in READINGS:
            raise ValueError(f"[rbm] reading must be one of {READINGS}, got {reading!r}")
        if len(alpha) != 2:
            raise ValueError(f"[rbm] alpha needs 2 rates (W_0 and W_1), got {len(alpha)}")
        self.alpha = [float(a) for a in alpha]
        self.reading, self.with_sbp = reading, with_sbp
        self.epsilon, self.beta, self.theta = epsilon, beta, theta
        self.sleep_iterations, self.wake_iterations = sleep_iterations, wake_iterations
        self.eta_sbp, self.f, self.p, self.wake_ii_every = eta_sbp, f, p, wake_ii_every

    @property
    def energy(self) -> str:
        """The energy the network relaxes in (module docstring)."""
        return "standard" if self.reading == "released" and not self.with_sbp else "sbp"

    def wake_phase(self, batch: int) -> str:
        """"I" (BP1 + SBP) or "II" (BP1 + BP2, the update of everything) for batch number
        ``batch`` (from 0, counted over the run)."""
        if self.reading == "paper" and self.with_sbp and (batch + 1) % self.wake_ii_every:
            return "I"
        return "II"

    def sleep(self, x, h, o, w, b, iterations: int | None = None) -> tuple:
        """The sleep (free) phase from ``(h, o)``."""
        return relax(x, h, o, w, b, iterations or self.sleep_iterations, self.epsilon,
                     self.energy, self.theta)

    def step(self, x, sleep: tuple, target, w, b, batch: int, beta_sign: float,
             rate_scale: float = 1.0) -> tuple:
        """The wake phase from the sleep states, then the update of batch number ``batch``:
        new ``(w, b)``.  ``beta_sign``: the sign of beta for this batch (+1 or -1)."""
        beta = beta_sign * self.beta
        wake = relax(x, *sleep, w, b, self.wake_iterations, self.epsilon, self.energy,
                     self.theta, target, beta)
        change = contrastive_changes(x, sleep, wake, beta, self.energy, self.theta)
        a0, a1 = (a * rate_scale for a in self.alpha)
        new_w = [w[0] + a0 * change["W_0"], w[1] + a1 * change["W_1"]]
        new_b = [b[0] + a0 * change["b_1"], b[1] + a1 * change["b_2"]]
        if self.wake_phase(batch) == "I":  # Eq. 21 replaces BP2: the hidden bias stays
            new_w[0] = w[0] + rate_scale * sbp_change(x, wake[0], a1 * change["W_1"],
                                                      self.eta_sbp, self.f, self.p)
            new_b[0] = b[0]
        return new_w, new_b

    def describe(self) -> dict:
        return {"rule": self.name, "reading": self.reading, "with_sbp": self.with_sbp,
                "energy": self.energy, "alpha": self.alpha, "epsilon": self.epsilon,
                "beta": self.beta, "theta": self.theta, "sleep_iterations":
                self.sleep_iterations, "wake_iterations": self.wake_iterations,
                **({"eta_sbp": self.eta_sbp, "f": self.f, "p": self.p,
                    "wake_ii_every": self.wake_ii_every}
                   if self.reading == "paper" and self.with_sbp else {})}
