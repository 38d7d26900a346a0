"""The SBP paper's spiking MLP: leaky spiking layers trained through time with a pseudo-gradient,
with or without SBP replacing the hidden layers' gradient.

The SBP paper (Zhang et al., Sci. Adv. 7, eabh0146, 2021; Eqs. 22-23, fig. S4D) also adds SBP
to a spiking multilayer perceptron trained by a pseudo-gradient ("p-BP").  This module follows
the authors' released code (GitHub ``thomasaimondy/SBP``, ``SBP_SNN_pBP/``, PyTorch), as small
numpy functions; the network around them is :mod:`sbp_brian.mlp`.  It is a discrete-time
algorithm on batches (``T = 20`` steps of no stated duration): Brian2 would add nothing.

**Forward** (:func:`forward`), every layer ``l`` in every step ``t``, from the input up:
``I = sigmoid(s_{l-1} W_l + b_l) - 0.1``, ``V_t = decay V_{t-1} (1 - s_{l,t-1}) + I`` (the
paper's Eq. 22 with the code's input current; ``decay`` its ``g_j``), ``s_{l,t} = [V_t > 0.5]``.
The input ``s_0`` is a Bernoulli spike per pixel and step, ``x > U(0, 1)`` (the SBP paper's
Eq. 2).  The output is the last layer's spike count over ``T``, divided by ``T``.

**Loss** (:func:`loss_gradients`): the mean squared error of the output against the one-hot
label (Eq. 23; PyTorch's ``MSELoss``, a mean over samples and classes) plus ``energy_weight``
times the code's energy term, ``sum_l |e_l|`` with
``e_l = mean(s_l W_l^T s_{l-1}^T)/(n_{l-1} n_l) + mean(s_l s_l^T)/n_l^2`` on the last step's
spikes (the means over the ``B x B`` matrices; the weights held constant, as the code's
``.data``): the paper's "E_MLP, Eq. 19 on spikes".

**Backward** (:func:`backward`): back-propagation through time, the spike's derivative
replaced by the rectangle ``[|V - 0.5| < 0.3]`` (the pseudo-gradient, :func:`rectangle`), and
through the reset term ``(1 - s_{t-1})`` too, as autograd does.

**SBP** (:func:`sbp_gradients`, the code's backward hook): the output layer keeps its gradient
(its bias's set to zero) and gives ``sp_j = 0.01 sum_k |dW_jk| / (H K)``; every hidden layer's
weight gradient becomes ``(diag(sp) B_l e^T s_in)^T + 0.01 hebb diag(sp)`` with ``B_l`` a fixed
random matrix (Kaiming-uniform, ``H x K``), ``e = y - output``, ``s_in`` the layer's input
spikes in the last step and ``hebb`` the difference of presynaptic-postsynaptic spike products
late and early in the sample, and its bias's gradient zero.  ``true_gradient_every = N`` lets
every ``N``-th batch keep the true gradient (the code's ``-bp_mark``).

The parameters then take one Adam step (PyTorch's), the rate divided by 10 every 50 epochs.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit as sigmoid  # the logistic function

from ..parameters import Param
from ..sections import register_section
from .base import Rule, register_rule
from .brp import adam_update

__all__ = ["MLPRule", "MLP_PARAMS", "MLP_INPUTS", "input_spikes", "heaviside", "rectangle",
           "forward",
           "loss_gradients", "energy_terms", "backward", "sbp_gradients", "kaiming_feedback"]

MLP_PARAMS = {
    "steps": Param(1, 20, low=1, integer=True, doc="time steps per sample (T)"),
    "decay": Param(1, 0.2, low=0, high=1, doc="membrane decay per step (the paper's g_j, Eq. 22)"),
    "threshold": Param(1, 0.5, doc="firing threshold"),
    "window": Param(1, 0.3, low=0, strict_low=True, doc="half-width of the pseudo-gradient's "
                    "rectangle around the threshold"),
    "current_offset": Param(1, 0.1, doc="subtracted from sigmoid(s W + b) to give the input "
                            "current"),
    "learning_rate": Param(1, 0.001, low=0, doc="Adam's rate"),
    "lr_step_epochs": Param(1, 50, low=1, integer=True, doc="the rate is multiplied by "
                            "lr_step_factor every that many epochs (PyTorch's StepLR)"),
    "lr_step_factor": Param(1, 0.1, low=0, doc="see lr_step_epochs"),
    "batch_size": Param(1, 100, low=1, integer=True, doc="samples per update"),
    "energy_weight": Param(1, 0.1, low=0, doc="weight of the energy term in the loss (the "
                           "code's alpha with -energy; 0: MSE only)"),
    "sbp_scale": Param(1, 0.01, low=0, doc="the factor of sp = scale sum_k |dW_jk| / (H K)"),
    "hebb_scale": Param(1, 0.01, low=0, doc="the factor of the Hebbian term of the SBP "
                        "gradient"),
    "true_gradient_every": Param(1, 0, low=0, integer=True, doc="with SBP: every that-many-th "
                                 "batch keeps the true gradient (the code's bp_mark; 0: never)"),
    "frames": Param(1, 1, low=1, integer=True, doc="input = \"frames\": frames per sample (a "
                    "sample's row holds them in a row)"),
    "frame_stride": Param(1, 1, low=1, integer=True, doc="input = \"frames\": step t shows "
                          "frame t x frame_stride"),
}
#: How a sample drives the input layer in each step: the code's MNIST, NETtalk and DVS forms
MLP_INPUTS = ("bernoulli", "direct", "frames")
register_section("mlp", MLP_PARAMS, {"update": ("sbp", "plain"), "input": MLP_INPUTS}, {
    "update": ("sbp", "sbp: the hidden layers' gradient replaced by SBP's; plain: the true "
                      "pseudo-gradient everywhere (--no-sbp chooses it)"),
    "input": ("bernoulli", "bernoulli: a spike where the intensity exceeds a uniform draw, "
                           "every step (the code's MNIST); direct: the values themselves "
                           "every step (its NETtalk); frames: frame t x frame_stride of the "
                           "sample's frames in step t (its DVS Gesture)")})


def input_spikes(batch, steps: int, rng: np.random.Generator, form: str = "bernoulli",
                 frames: int = 1, frame_stride: int = 1) -> np.ndarray:
    """The input layer's spikes, ``(steps, B, n_0)``, of a batch of samples (rows) in one of
    :data:`MLP_INPUTS` (the released ``SNN.forward``: ``input > rand`` for MNIST, the input
    itself for NETtalk, ``input[:, 5 t]`` for DVS Gesture)."""
    batch = np.asarray(batch, dtype=float)
    if form == "bernoulli":
        return (batch[None] > rng.random((steps, *batch.shape))).astype(float)
    if form == "direct":
        return np.repeat(batch[None], steps, axis=0)
    shown = np.arange(steps) * frame_stride
    return batch.reshape(len(batch), frames, -1)[:, shown].transpose(1, 0, 2).copy()


def heaviside(v, threshold: float, window: float):
    """The spike: ``[v > threshold]``."""
    return (v > threshold).astype(float)


def rectangle(v, threshold: float, window: float):
    """The pseudo-gradient of the spike: ``[|v - threshold| < window]``."""
    return (np.abs(v - threshold) < window).astype(float)


def forward(x_steps, w: list, b: list, decay: float = 0.2, threshold: float = 0.5,
            window: float = 0.3, offset: float = 0.1, spike=heaviside) -> dict:
    """Run the layers over the steps of ``x_steps`` (``(T, B, n_0)`` input spikes); returns the
    record :func:`backward` needs: per layer the drives ``a`` (``s_in W + b``), membranes ``V``
    and spikes ``s``, each ``(T, B, n_l)``, and the output ``sum_t s_L / T``.  ``spike``: the
    spike function (:func:`heaviside`; a smooth one in the gradient checks)."""
    steps, batch = x_steps.shape[:2]
    layers = []
    below = x_steps
    for W, bias in zip(w, b):
        a = below @ W + bias  # (T, B, n): every step's input at once
        current = sigmoid(a) - offset
        V, s = np.zeros_like(a), np.zeros_like(a)
        v_prev, s_prev = np.zeros((batch, W.shape[1])), np.zeros((batch, W.shape[1]))
        for t in range(steps):
            v_prev = decay * v_prev * (1 - s_prev) + current[t]
            s_prev = spike(v_prev, threshold, window)
            V[t], s[t] = v_prev, s_prev
        layers.append({"input": below, "a": a, "V": V, "s": s})
        below = s
    return {"layers": layers, "output": below.sum(axis=0) / steps}


def energy_terms(record: dict, w: list) -> list:
    """The code's ``e_l`` per layer (module docstring), on the last step's spikes."""
    terms = []
    for layer, W in zip(record["layers"], w):
        pre, post = layer["input"][-1], layer["s"][-1]
        n_pre, n_post = W.shape
        terms.append(np.mean(post @ W.T @ pre.T) / (n_pre * n_post)
                     + np.mean(post @ post.T) / n_post ** 2)
    return terms


def loss_gradients(record: dict, w: list, target, energy_weight: float = 0.1) -> tuple:
    """The loss (module docstring) and its gradient with respect to every layer's spikes,
    ``(T, B, n_l)`` per layer (the output's counts and the energy's last step)."""
    out = record["output"]
    steps, batch = record["layers"][-1]["s"].shape[:2]
    loss = float(np.mean((out - target) ** 2))
    grads = [np.zeros_like(layer["s"]) for layer in record["layers"]]
    grads[-1] += (2 * (out - target) / out.size / steps)[None]
    if energy_weight:
        for l, (layer, W, e) in enumerate(zip(record["layers"], w, energy_terms(record, w))):
            loss += energy_weight * abs(e)
            pre, post = layer["input"][-1], layer["s"][-1]
            n_pre, n_post = W.shape
            scale = energy_weight * np.sign(e) / batch ** 2
            # d mean(post W^T pre^T)/d post = 1 (sum_b pre_b W)/B^2; the square term's
            # 2 sum_b post_b/B^2
            grads[l][-1] += scale * (pre.sum(0) @ W / (n_pre * n_post)
                                     + 2 * post.sum(0) / n_post ** 2)[None]
            if l > 0:  # the input spikes of a layer above the first are the layer below's
                grads[l - 1][-1] += scale * (post.sum(0) @ W.T / (n_pre * n_post))[None]
    return loss, grads


def backward(record: dict, w: list, spike_grads: list, decay: float = 0.2,
             threshold: float = 0.5, window: float = 0.3, derivative=rectangle) -> tuple:
    """Back-propagation through time (module docstring): the gradients ``(dW, db)`` per layer
    from the loss's gradients with respect to the spikes.  ``derivative``: the spike's
    (pseudo-)derivative, :func:`rectangle` or a smooth function's own."""
    dws, dbs = [None] * len(w), [None] * len(w)
    from_above = None
    for l in reversed(range(len(w))):
        layer = record["layers"][l]
        V, s, a = layer["V"], layer["s"], layer["a"]
        g_spike = spike_grads[l] + (0 if from_above is None else from_above)
        steps = len(V)
        g_current = np.zeros_like(V)
        g_v_next = np.zeros_like(V[0])  # dL/dV_{t+1}
        for t in reversed(range(steps)):
            g_s = g_spike[t]
            if t + 1 < steps:  # V_{t+1} = decay V_t (1 - s_t) + I: through the reset too
                g_s = g_s - g_v_next * decay * V[t]
            g_v = g_s * derivative(V[t], threshold, window)
            if t + 1 < steps:
                g_v = g_v + g_v_next * decay * (1 - s[t])
            g_current[t] = g_v
            g_v_next = g_v
        sig = sigmoid(a)
        g_a = g_current * sig * (1 - sig)
        dws[l] = np.einsum("tbi,tbj->ij", layer["input"], g_a)
        dbs[l] = g_a.sum(axis=(0, 1))
        from_above = g_a @ w[l].T
    return dws, dbs


def hebbian_difference(record: dict, layer: int) -> np.ndarray:
    """The code's ``hebb_delta`` of a hidden layer: with ``P_t = s_in(t-1)^T s(t) / B^2``
    (the layer's input spikes one step before its own spikes), ``P_T + P_{T-1} - P_2 - P_3``:
    the code's last two products minus its first two as they are in its first batch (in later
    batches the code's first product pairs the previous batch's last input with this batch's
    first spikes, and its first two are ``P_1``, ``P_2``; here every product is of the batch's
    own steps)."""
    rec = record["layers"][layer]
    pre, post = rec["input"], rec["s"]
    batch = pre.shape[1]

    def product(t):  # P_t, t counted from 1
        return pre[t - 2].T @ post[t - 1] / batch ** 2

    steps = len(post)
    return product(steps) + product(steps - 1) - product(2) - product(3)


def sbp_gradients(dws: list, dbs: list, record: dict, target, feedback: list,
                  sbp_scale: float = 0.01, hebb_scale: float = 0.01) -> tuple:
    """SBP's gradients (module docstring): the output layer's weight gradient kept and its
    bias's zero; every hidden layer's replaced.  ``feedback[l]``: ``B_l`` (``n_l x K``)."""
    out_grad = dws[-1]
    sp = sbp_scale * np.abs(out_grad).sum(axis=1) / out_grad.size  # (H,)
    error = target - record["output"]
    new_w, new_b = list(dws), [np.zeros_like(g) for g in dbs]
    for l in range(len(dws) - 1):
        s_in = record["layers"][l]["input"][-1]
        if len(sp) != dws[l].shape[1]:
            raise ValueError("SBP's gains are per neuron of the last hidden layer: every "
                             "hidden layer must have its size")
        propagated = ((sp[:, None] * feedback[l]) @ error.T @ s_in).T
        new_w[l] = propagated + hebb_scale * hebbian_difference(record, l) * sp[None, :]
    return new_w, new_b


def kaiming_feedback(sizes: list, rng: np.random.Generator) -> list:
    """``B_l`` (``n_l x K``) of every hidden layer, PyTorch's ``kaiming_uniform_`` on that
    shape: ``U(-sqrt(6/K), sqrt(6/K))``."""
    k = sizes[-1]
    return [rng.uniform(-np.sqrt(6 / k), np.sqrt(6 / k), (n, k)) for n in sizes[1:-1]]


@register_rule
class MLPRule(Rule):
    """The spiking MLP's learning (module docstring) as a rule of the family: it trains the
    network of :mod:`sbp_brian.mlp` (network "mlp"), batch by batch."""

    name = "sbp_mlp"
    network = "mlp"
    sbp_keys = ("mlp.sbp_scale", "mlp.hebb_scale", "mlp.true_gradient_every")

    def __init__(self, params: dict, with_sbp: bool = True, frozen_hidden: bool = False):
        self.params, self.with_sbp, self.frozen_hidden = dict(params), with_sbp, frozen_hidden

    def gradients(self, x_steps, target, w, b, feedback, batch: int) -> tuple:
        """Forward, loss and backward of one batch, SBP's replacement where it applies:
        ``(loss, record, dW, db)``.  ``batch``: the batch's number in the run, from 0."""
        p = self.params
        record = forward(x_steps, w, b, p["decay"], p["threshold"], p["window"],
                         p["current_offset"])
        loss, spike_grads = loss_gradients(record, w, target, p["energy_weight"])
        dws, dbs = backward(record, w, spike_grads, p["decay"], p["threshold"], p["window"])
        every = p["true_gradient_every"]
        if self.with_sbp and not (every and (batch + 1) % every == 0):
            dws, dbs = sbp_gradients(dws, dbs, record, target, feedback, p["sbp_scale"],
                                     p["hebb_scale"])
        elif self.with_sbp:  # the code's bp_mark batch: true gradients, the output bias's zero
            dbs = dbs[:-1] + [np.zeros_like(dbs[-1])]
        if self.frozen_hidden:
            dws = [np.zeros_like(g) for g in dws[:-1]] + dws[-1:]
            dbs = [np.zeros_like(g) for g in dbs[:-1]] + dbs[-1:]
        return loss, record, dws, dbs

    def step(self, params: list, moments: list, grads: list, step: int, rate: float) -> tuple:
        """One Adam step (PyTorch's) of every parameter array; ``step`` counts from 1."""
        return adam_update(params, moments, [grads], [rate] * len(params), 1, step)

    def describe(self) -> dict:
        return {"rule": self.name, "with_sbp": self.with_sbp,
                "frozen_hidden": self.frozen_hidden, **self.params}
