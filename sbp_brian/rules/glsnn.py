"""GLSNN (Zhao, Zeng, Zhang & Zhang, "GLSNN: A Multi-Layer Spiking Neural Network Based on
Global Feedback Alignment and Local STDP Plasticity", Front. Comput. Neurosci. 14, 2020).

A layered network (:mod:`sbp_brian.layered`; the paper's neurons are conductance LIF, Eq. 2)
runs a sample; at its end every layer's activity ``S_l`` gives the output error and a target
for every hidden layer, and every projection learns from its own two layers only::

    e        = 2 (S_L - S_T)                                  (Eq. 4, S_T the one-hot label)
    d_L      = S_L - S_T                                      (the output's target is S_T)
    d_{L-1}  = S_{L-1} - S^_{L-1} = eta_t W_L e               (Eq. 5, the old W_L)
    d_l      = S_l - S^_l         = B_l e + b_l,  l < L - 1   (Eq. 6, B_l, b_l fixed random)
    W_l     <- W_l - eta_w mean_batch(S_{l-1} d_l^T)          (Eqs. 7-8, "differential STDP")

with ``W_l`` (n_{l-1}, n_l) the weights into layer ``l``.  Every difference is computed before
any weight changes (Algorithm 1).

Readings of what the paper leaves open (the spec's recommendations are the defaults):

1. **The activity S** is the layer's spike count over the sample divided by its number of
   time steps, a rate in [0, 1] that the one-hot target can be compared with (BrainCog's
   ``r``, the time average of the spikes).  The paper's Eq. 3 output, ``S = I_in + 0.01 spk``,
   is mostly the neuron's analog input current: layers coupled through it form a rate network
   with a small spike term, and its projections would carry currents, not spikes.  This
   package's layered network transmits spikes (the projection's conductance jumps), so the
   count is the measure that exists there; Eq. 3's output would need analog projections and is
   not offered.
2. **Eq. 4's e** is the signed ``2 (S_L - S_T)`` (the printed ``|.|`` would lose the sign).
3. **The penultimate target** uses the linear shortcut ``W_L e`` (the paper), not BrainCog's
   gradient through the output neurons.
4. **b_l**: the paper calls it random without a scale, BrainCog sets it to 0.  Here its
   entries are ``N(0, feedback_bias_sd^2)``, default 0: a fixed non-zero ``b_l`` adds the same
   change ``-eta_w S_{l-1} b_l^T`` to the weights at every sample, a drift that no error
   cancels.  ``B_l`` is a random semi-orthogonal (C, n_l) matrix (BrainCog's ``rand_ortho``,
   as DTP), times ``feedback_scale``.  ``B_l`` and ``b_l`` are drawn from the run's seed, the
   same at every launch of a run.
5. **The ablation of the paper's Fig. 9**: ``no_feedback_below = K`` gives the lowest ``K``
   hidden layers no feedback (``B_l = 0``, ``b_l = 0``: no target, so their input projections
   stay as drawn); the paper adds feedback layers from the top down, and with every hidden
   layer below the penultimate one without feedback only the last two projections learn.
6. **Batches**: the changes of ``batch_size`` samples (counted from each launch's first; the
   chunk must be a multiple) are averaged and applied at once (the paper's batch 10; 1
   updates after every sample).

The numpy reference is :func:`differences` and :func:`update`; :func:`sample_end_step` builds
the same as Brian2 generated code at each sample boundary (``run_regularly`` and summed
variables; the feedback ``B_l`` are synapses from the output layer that only sum), so a
compiled project trains a chunk of samples with no Python in between.  A test runs both on the
network's own spike counts.
"""
from __future__ import annotations

import numpy as np
from ..parameters import Param, ParameterError
from ..sections import register_section
from ..steps import summed_lines
from .base import SampleEndRule, register_rule

__all__ = ["GLSNN", "GLSNN_PARAMS", "differences", "update", "semi_orthogonal",
           "feedback_matrices", "sample_end_step", "SAMPLE_END_PHASES"]

GLSNN_PARAMS = {
    "eta_w": Param(1, 0.015, low=0, doc="weight learning rate eta_w (Eq. 8; the paper: 0.015, "
                                        "plain SGD)"),
    "eta_t": Param(1, 0.5, low=0, doc="target learning rate eta_t of the penultimate layer "
                                      "(Eq. 5; the paper: 0.5)"),
    "batch_size": Param(1, 10, low=1, integer=True,
                        doc="samples whose mean change is applied at once (the paper: 10)"),
    "feedback_scale": Param(1, 1.0, low=0, doc="scale of the fixed random feedback B_l (Eq. 6), "
                                               "a semi-orthogonal matrix times this"),
    "feedback_bias_sd": Param(1, 0.0, low=0, doc="SD of the fixed random b_l (Eq. 6; the "
                                                 "paper: random, no scale; BrainCog: 0)"),
    "no_feedback_below": Param(1, 0, low=0, integer=True,
                               doc="the lowest K hidden layers get no feedback and keep their "
                                   "input weights (the ablation of the paper's Fig. 9; 0: "
                                   "every layer learns)"),
}
register_section("glsnn", GLSNN_PARAMS)

#: The phases of the sample-end step, in order.
SAMPLE_END_PHASES = ("glsnn_output_error", "glsnn_feedback", "glsnn_targets", "glsnn_update")
#: The error fed back into the penultimate layer through the top projection (Eq. 5) and into
#: a lower hidden layer through its feedback synapses (Eq. 6), as sums over synapses
TOP_SUM = {"fb_pre": "w*err_post"}
FEEDBACK_SUM = {"fb_post": "B*err_pre"}


# ---- the numpy reference ---------------------------------------------------------------
def differences(rates: list, weights: list, target: np.ndarray, feedback: list,
                eta_t: float) -> list:
    """``d_l = S_l - S^_l`` for layers 1 .. L (module docstring, Eqs. 4-6).

    ``rates``: every layer's activity, the inputs first; ``weights[l]`` (n_l, n_{l+1}) the
    projection from layer ``l``; ``feedback[l - 1] = (B_l, b_l)`` with ``B_l`` (C, n_l), for
    the hidden layers below the penultimate one."""
    e = 2.0 * (rates[-1] - target)
    hidden = [B.T @ e + b for B, b in feedback]
    return [*hidden, eta_t * (weights[-1] @ e), rates[-1] - target]


def update(weights: list, rates_batch: list, differences_batch: list, eta_w: float) -> list:
    """Eqs. 7-8 over a batch: ``W_l - eta_w mean_b(S_{l-1} d_l^T)``; ``rates_batch[b]`` and
    ``differences_batch[b]`` are sample ``b``'s (as :func:`differences` gives them)."""
    n = len(rates_batch)
    return [w - eta_w / n * sum(np.outer(rates[l], diffs[l])
                                for rates, diffs in zip(rates_batch, differences_batch))
            for l, w in enumerate(weights)]


def semi_orthogonal(n_rows: int, n_cols: int, rng: np.random.Generator) -> np.ndarray:
    """A random matrix with all singular values 1 (orthonormal rows or columns): uniform
    entries in ``+-sqrt(6/(n_rows + n_cols))``, then ``U V^T`` of their SVD (BrainCog's
    ``rand_ortho``, from DTP)."""
    bound = np.sqrt(6.0 / (n_rows + n_cols))
    u, _, vt = np.linalg.svd(rng.uniform(-bound, bound, (n_rows, n_cols)),
                             full_matrices=False)
    return u @ vt


def feedback_matrices(sizes: list, seed: int, scale: float, bias_sd: float,
                      no_feedback_below: int = 0) -> list:
    """``(B_l, b_l)`` for the hidden layers below the penultimate one (module docstring,
    reading 4), drawn from the run's ``seed``: the same for every launch of a run; zero for
    the lowest ``no_feedback_below`` layers (reading 5; the others are drawn as without it)."""
    rng = np.random.default_rng([seed, 11])  # apart from the weights' and Brian2's streams
    drawn = [(scale * semi_orthogonal(sizes[-1], n, rng), rng.normal(0.0, bias_sd, n))
             for n in sizes[1:-2]]
    return [(0 * B, 0 * b) if layer < no_feedback_below else (B, b)
            for layer, (B, b) in enumerate(drawn)]


# ---- the generated step ---------------------------------------------------------------
def sample_end_step(step, layers: list, projections: list, feedback: list) -> None:
    """Build the sample-end update as generated code (module docstring).

    Every layer has its spike count ``c`` over the sample; the layers above the inputs
    ``diff`` (``d_l``) and the hidden ones ``fb`` (the summed feedback); the output ``err``
    and ``target``; ``projections[l]`` has ``w``, the batch's summed change ``dw`` and the
    shared learning rate ``eta_now``; ``feedback[l - 1]`` is a Synapses object from the output
    layer to hidden layer ``l`` with ``B``, and that layer has ``b_fb``.  The namespace holds
    ``eta_t``, ``glsnn_steps`` (time steps per sample), ``glsnn_batch`` and ``sim_dt``.
    At the first boundary (t = 0) every count is 0 and nothing changes.
    """
    step.run(layers[-1], "err = 2*(c/glsnn_steps - target)\ndiff = err/2", "glsnn_output_error",
             "glsnn_output_error")
    penultimate = len(layers) - 2
    step.reduce(projections[-1], TOP_SUM, "glsnn_feedback",
                "glsnn_feedback_top")
    for layer, synapses in enumerate(feedback, start=1):
        step.reduce(synapses, FEEDBACK_SUM, "glsnn_feedback",
                    f"glsnn_feedback_{layer}_sum")
    clear = "" if step.summed else "\nfb = 0"
    for layer in range(1, penultimate + 1):
        target = "eta_t*fb" if layer == penultimate else "fb + b_fb"
        step.run(layers[layer], f"diff = {target}{clear}", "glsnn_targets",
                 f"glsnn_target_{layer}")
    batch_end = "int(timestep(t, sim_dt) % (glsnn_batch*glsnn_steps) == 0)"
    for layer, projection in enumerate(projections):
        step.run(projection, "dw += c_pre/glsnn_steps*diff_post\n"
                             f"w -= {batch_end}*eta_now*dw/glsnn_batch\n"
                             f"dw *= 1 - {batch_end}", "glsnn_update", f"glsnn_update_{layer}")


@register_rule
class GLSNN(SampleEndRule):
    """GLSNN as a rule of the family: global random feedback targets and a local update of
    every projection at the end of each sample (module docstring)."""

    name = "glsnn"
    section = "glsnn"
    neuron_models = ("conductance_lif", "lif", "integrate_and_fire")
    launch_keys = ("eta_w",)  # every launch's eta_now

    def __init__(self, eta_w: float = 0.015, eta_t: float = 0.5, batch_size: int = 10,
                 feedback_scale: float = 1.0, feedback_bias_sd: float = 0.0,
                 no_feedback_below: int = 0):
        values = dict(eta_w=eta_w, eta_t=eta_t, batch_size=batch_size,
                      feedback_scale=feedback_scale, feedback_bias_sd=feedback_bias_sd,
                      no_feedback_below=no_feedback_below)
        for key, value in values.items():
            GLSNN_PARAMS[key].check(key, value, "glsnn")
        self.eta_w, self.eta_t, self.batch_size = eta_w, eta_t, int(batch_size)
        self.feedback_scale, self.feedback_bias_sd = feedback_scale, feedback_bias_sd
        self.no_feedback_below = int(no_feedback_below)

    def check(self, config) -> None:
        if config.chunk % self.batch_size:
            raise ParameterError(f"[glsnn] batch_size = {self.batch_size} must divide the "
                                 f"[training] chunk ({config.chunk}): batches are counted from "
                                 "each launch's first sample")
        below_penultimate = len(config.sizes) - 3
        if self.no_feedback_below > below_penultimate:
            raise ParameterError(
                f"[glsnn] no_feedback_below = {self.no_feedback_below}: the network has "
                f"{below_penultimate} hidden layer(s) below the penultimate one, the layers "
                "that feedback reaches")

    def phases(self, n_hidden_layers: int) -> tuple:
        return SAMPLE_END_PHASES

    def layer_state(self, role: str, config) -> str:
        state = self.COUNT
        if role != "input":
            state += "diff : 1   # S - S^, the layer's distance from its target\n"
        if role == "hidden":
            state += "fb : 1   # the feedback sum of Eqs. 5-6\nb_fb : 1   # b_l of Eq. 6\n"
        if role == "output":
            state += "err : 1   # e = 2 (S - S_T), Eq. 4\n"
        return state

    def projection_state(self, index: int, summed: bool, config) -> str:
        state = "dw : 1   # the batch's summed change\neta_now : 1 (shared)"
        if summed and index == len(config.sizes) - 2:  # the error into the penultimate layer
            state += "\n" + summed_lines(TOP_SUM)
        return state

    def namespace(self, config) -> dict:
        return {"eta_t": self.eta_t, "glsnn_steps": config.steps_per_sample,
                "glsnn_batch": self.batch_size}

    def build_step(self, step, layers: list, projections: list, config) -> list:
        feedback = self.feedback_synapses(
            step, layers[-1], {f"glsnn_feedback_{layer}": layers[layer]
                               for layer in range(1, len(layers) - 2)}, FEEDBACK_SUM)
        sample_end_step(step, layers, projections, feedback)
        return feedback

    def learning_rate(self, scale: float = 1.0) -> float:
        return self.eta_w * scale

    def launch_values(self, net, n_samples: int, seed: int, learning_rate: float) -> tuple:
        """The learning rate ``eta_now`` of every projection; the feedback ``B_l``, ``b_l``
        (drawn from the run's seed, not the launch's: fixed over the run); every batch's
        summed change starts at 0."""
        c = net.config
        values = {p.eta_now: learning_rate for p in net.projections}
        values.update({p.dw: 0.0 for p in net.projections})
        drawn = feedback_matrices(c.sizes, c.seed, self.feedback_scale, self.feedback_bias_sd,
                                  self.no_feedback_below)
        for layer, (B, b) in enumerate(drawn, start=1):
            synapses = net.network[f"glsnn_feedback_{layer}"]
            values[synapses.B] = B.ravel()
            values[net.layers[layer].b_fb] = b
        return values, {"feedback": drawn}

    def initial_weights(self, sizes: list, rng: np.random.Generator) -> list:
        """Random semi-orthogonal weights for every projection (the paper: "as DTP")."""
        return [semi_orthogonal(n_pre, n_post, rng)
                for n_pre, n_post in zip(sizes[:-1], sizes[1:])]

    def describe(self) -> dict:
        return {"rule": self.name, "eta_w": self.eta_w, "eta_t": self.eta_t,
                "batch_size": self.batch_size, "feedback_scale": self.feedback_scale,
                "feedback_bias_sd": self.feedback_bias_sd,
                # only when set: earlier run folders, which have none, resume unchanged
                **({"no_feedback_below": self.no_feedback_below} if self.no_feedback_below
                   else {})}
