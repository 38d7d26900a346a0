"""BRP (Zhang, Jia, Cheng & Xu, "Tuning convolutional spiking neural network with biologically
plausible reward propagation", IEEE TNNLS 2021): every hidden layer learns from the label
projected through a fixed random matrix, the output layer from its own error.

A layered network (:mod:`sbp_brian.layered`) of leaky integrate-and-fire layers whose membrane
keeps ``exp(-dt/tau_m)`` of itself per step (the released code's ``decay = 0.2``: ``tau_m =
dt/ln 5``), jumps by ``v_w w`` at each input spike and resets to rest after a spike, with every
layer updated in the step its input spikes (``propagation = "same_step"``), is the released
discrete map ``V(t) = 0.2 V(t-1) (1 - s(t-1)) + W z(t)``, ``s(t) = [V(t) > V_th]``.  During the
sample every synapse ``(j -> i)`` of every projection accumulates, in time steps ``t``::

    e_ij(t) = z_j(t) + decay (1 - s_i(t-1)) e_ij(t-1)           (the presynaptic trace)
    G_ij   += [|V_i(t) - V_th| < width] e_ij(t)                 (gated by the surrogate, Eq. 10)

the forward-mode form of the released code's surrogate gradient within a layer (the spec's
"eligibility" form).  At the sample's end, with ``r`` the output rates (spike count / time
steps), ``y*`` the one-hot label, ``C`` classes and ``T`` steps::

    g_L = 2 (r - y*) / (C T)                       (the output: the gradient of the mean
                                                    squared error of r)
    g_l = hidden_scale B_l^T y*                    (hidden layer l: TP_BRP, seed Eq. 4;
                                                    "error": B_l^T (r - y*), Eq. 5;
                                                    "sign": B_l^T sign(r - y*), Eq. 7)
    grad W_l = mean_batch(G_l g_l)                 (G_l (n_pre, n_l) times g_l per column)

and every projection takes one step of plain SGD, ``W -= eta grad W`` (the default), or of Adam
(``optimizer = "adam"``, the released code's, with PyTorch's betas 0.9, 0.999 and eps 1e-8; its
moments travel with the weights from launch to launch and into checkpoints), the output
projection at ``eta`` and the projections into hidden layers at ``eta_hidden`` (the released
code: one rate, ``eta_hidden = eta``).

Readings and where this differs from the released code (spec section 1.7, "BRP"):

1. **The DRTP form** of the released code, not the paper's Eqs. 8-9 "(B TP - h)" difference.
2. **The eligibility form is exact** for the released code's variant whose hidden reset uses the
   hooked spike (kappa = 0 in the spec's notation); where the reset also carries gradient
   (kappa = 1), backpropagation through time within a layer adds a small correction, not
   computed here.
3. **No gradient crosses layers**: the output layer is trained by its true error, every hidden
   layer by its projected label only, so each update reads its own synapse, its postsynaptic
   neuron and a signal broadcast to that neuron.
4. **The scale of the hidden signal**: the released hook injects ``B_l^T y*`` per sample without
   the output's ``1/(B C T)``.  Under Adam a constant scale does not matter; under SGD the two
   layers need their own rates, hence ``eta_hidden`` (and ``hidden_scale``, 1 by default; 0
   freezes the hidden layers under either optimiser, as ``eta_hidden = 0`` does: the
   fixed-hidden control).
5. **Biases**: the released layers have biases; here ``[input] bias = true`` adds an input
   neuron that fires in every step, whose weights are the first hidden layer's biases (the
   deeper layers have none).
6. **B_l** is uniform in ``+-sqrt(6/n_l)`` (the released ``kaiming_uniform_`` on a (C, n_l)
   tensor), fixed, drawn from the run's seed; the weights start uniform in
   ``+-1/sqrt(fan_in)`` (PyTorch's default).

The numpy reference is :func:`simulate_sample` (the released discrete map and the
accumulation), :func:`signals`, :func:`gradients`, :func:`sgd_update` and :func:`adam_update`;
:func:`accumulation_code` and :func:`sample_end_step` build the same as Brian2 generated code
(a ``run_regularly`` of every projection in every time step, and one at each sample's end),
so that a compiled project trains a chunk of samples with no Python in between.  Tests run both
on the same input spikes.
"""
from __future__ import annotations

import numpy as np
from brian2 import mV

from ..parameters import Param, ParameterError
from ..sections import register_section
from .base import SampleEndRule, register_rule

__all__ = ["BRP", "BRP_PARAMS", "SIGNALS", "OPTIMIZERS", "ADAM", "SAMPLE_END_PHASES",
           "surrogate", "simulate_sample", "signals", "gradients", "sgd_update",
           "adam_update", "feedback_matrices", "accumulation_code", "sample_end_step"]

#: What every hidden layer receives through its fixed random matrix (module docstring)
SIGNALS = ("label", "error", "sign")
OPTIMIZERS = ("sgd", "adam")
#: Adam's constants (PyTorch's defaults, the released code's)
ADAM = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}

BRP_PARAMS = {
    "eta": Param(1, 1e-4, low=0, strict_low=True,
                 doc="learning rate of the output projection (the released: 1e-4, Adam)"),
    "eta_hidden": Param(1, 1e-4, low=0, doc="learning rate of the projections into hidden "
                                            "layers (reading 4; the released: eta; 0 freezes "
                                            "them)"),
    "hidden_scale": Param(1, 1.0, low=0, doc="factor of every hidden layer's signal "
                                             "B_l^T y* (reading 4; 1: the released)"),
    "batch_size": Param(1, 50, low=1, integer=True,
                        doc="samples whose mean gradient makes one step (the released: 50)"),
    "surrogate_width": Param(mV, 0.5 * mV, low=0, strict_low=True,
                             doc="half-width of the surrogate derivative around V_th (Eq. 10; "
                                 "the released 'lens' 0.5 with V_th 0.5)"),
}
register_section("brp", BRP_PARAMS, {"signal": SIGNALS, "optimizer": OPTIMIZERS}, {
    "signal": ("label", "label: the one-hot label (TP_BRP, seed Eq. 4); error: the output "
                        "error r - y* (TP_err, Eq. 5); sign: its sign (TP_sign, Eq. 7)"),
    "optimizer": ("sgd", "sgd: plain gradient steps; adam: Adam with betas 0.9 / 0.999, eps "
                         "1e-8 (the released code, one rate: eta_hidden = eta)")})

#: The phases of the sample-end step, in order
SAMPLE_END_PHASES = ("brp_output_signal", "brp_feedback", "brp_hidden_signal", "brp_update")
#: The signal fed back into a hidden layer through its fixed random synapses
FEEDBACK_SUM = {"fb_post": "B*carried_pre"}


# ---- the numpy reference ---------------------------------------------------------------
def surrogate(v: np.ndarray, threshold: float, width: float) -> np.ndarray:
    """Eq. 10's pseudo-derivative: 1 where ``|v - threshold| < width``, else 0."""
    return (np.abs(v - threshold) < width).astype(float)


def simulate_sample(weights: list, input_spikes: np.ndarray, thresholds: list, decay: float,
                    width: float) -> tuple[list, list]:
    """One sample of the released discrete map (module docstring), membranes from 0 (rest)
    and in units of the weights: ``input_spikes`` (T, n_input) 0/1, ``weights[l]``
    (n_l, n_{l+1}), ``thresholds[l]`` and ``width`` of layer ``l + 1``; ``decay`` the
    membrane's factor per step.  Returns every layer's spikes (T, n_l), the inputs first, and
    every projection's accumulated ``G`` (n_l, n_{l+1})."""
    n_steps = len(input_spikes)
    spikes = [np.asarray(input_spikes, dtype=float)]
    spikes += [np.zeros((n_steps, w.shape[1])) for w in weights]
    v = [np.zeros(w.shape[1]) for w in weights]
    fired = [np.zeros(w.shape[1]) for w in weights]
    e = [np.zeros(w.shape) for w in weights]
    G = [np.zeros(w.shape) for w in weights]
    for t in range(n_steps):
        for l, w in enumerate(weights):
            z = spikes[l][t]
            v[l] = decay * v[l] * (1 - fired[l]) + z @ w
            e[l] = z[:, None] + decay * (1 - fired[l])[None, :] * e[l]
            G[l] += surrogate(v[l], thresholds[l], width)[None, :] * e[l]
            fired[l] = (v[l] > thresholds[l]).astype(float)
            spikes[l + 1][t] = fired[l]
    return spikes, G


def signals(rates: np.ndarray, target: np.ndarray, feedback: list, n_steps: int,
            signal: str = "label", hidden_scale: float = 1.0) -> list:
    """Every layer's signal ``g_l`` (module docstring), the hidden layers first:
    ``rates`` the output's spike counts / ``n_steps``, ``feedback[l]`` the (C, n_l) matrix
    ``B`` of hidden layer ``l + 1``."""
    error = rates - target
    carried = {"label": target, "error": error, "sign": np.sign(error)}[signal]
    return [hidden_scale * (B.T @ carried) for B in feedback] + [
        2.0 * error / (len(target) * n_steps)]


def gradients(G: list, g: list) -> list:
    """One sample's gradient of every projection, ``G_l`` times ``g_l`` per column."""
    return [accumulated * signal[None, :] for accumulated, signal in zip(G, g)]


def sgd_update(weights: list, grads_batch: list, rates: list, batch_size: int) -> list:
    """``W_l - rates[l] sum_b grad_b / batch_size`` (``grads_batch[b]``: sample b's
    :func:`gradients`)."""
    return [w - rate * sum(grads[l] for grads in grads_batch) / batch_size
            for l, (w, rate) in enumerate(zip(weights, rates))]


def adam_update(weights: list, moments: list, grads_batch: list, rates: list, batch_size: int,
                step: int) -> tuple[list, list]:
    """One Adam step (PyTorch's, :data:`ADAM`) of every projection, at ``rates[l]``, on the
    batch's mean gradient; ``moments[l] = (m, v)``, ``step`` counts from 1.  Returns the new
    weights and moments."""
    b1, b2, eps = ADAM["beta1"], ADAM["beta2"], ADAM["eps"]
    new_weights, new_moments = [], []
    for l, (w, (m, v), eta) in enumerate(zip(weights, moments, rates)):
        grad = sum(grads[l] for grads in grads_batch) / batch_size
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad ** 2
        new_weights.append(w - eta * (m / (1 - b1 ** step))
                           / (np.sqrt(v / (1 - b2 ** step)) + eps))
        new_moments.append((m, v))
    return new_weights, new_moments


def feedback_matrices(sizes: list, seed: int) -> list:
    """``B_l`` (C, n_l) for every hidden layer, uniform in ``+-sqrt(6/n_l)`` (reading 6), drawn
    from the run's ``seed``: the same for every launch of a run."""
    rng = np.random.default_rng([seed, 13])  # apart from the weights' and Brian2's streams
    return [rng.uniform(-np.sqrt(6.0 / n), np.sqrt(6.0 / n), (sizes[-1], n))
            for n in sizes[1:-1]]


# ---- the generated code ----------------------------------------------------------------
def accumulation_code(layer: int) -> str:
    """Every time step, after every layer's threshold and before the resets, at each synapse
    into ``layer``: add the gated trace to ``G``, then carry the trace into the next step
    (decayed, or cleared where the postsynaptic neuron fired).  The presynaptic spike's
    ``trace += 1`` (``e_ij``) runs in the projection's pathway, in the step of the spike."""
    return (f"G += int(abs(v_post - brp_threshold_{layer}) < brp_width)*trace\n"
            f"trace *= brp_decay_{layer}*int(v_post <= brp_threshold_{layer})")


def sample_end_step(step, layers: list, projections: list, feedback: list,
                    signal: str = "label", optimizer: str = "sgd") -> None:
    """Build the sample-end update as generated code (module docstring).

    The output layer has its spike count ``c``, ``target``, the signal ``g`` and ``carried``
    (what the feedback carries); hidden layer ``l`` has ``fb`` (the feedback's sum) and ``g``;
    ``projections[l]`` has ``w``, ``G``, ``trace`` (``e``), the batch's summed gradient ``dw``
    and the shared ``eta_now``, and under Adam the moments ``adam_m``, ``adam_v`` and the
    shared ``adam_start`` (steps before the launch) and ``adam_batches`` (the launch's batches
    of real samples); ``feedback[l - 1]`` are Synapses from the output layer to hidden layer
    ``l`` with ``B``; ``signal`` and ``optimizer`` are the rule's options.  The namespace
    holds ``brp_steps``, ``brp_classes``, ``brp_batch``, ``brp_signal_scale``, ``sim_dt`` and
    Adam's constants.  At the first boundary (t = 0) every ``G`` is 0 and nothing changes.
    """
    carried = {"label": "target", "error": "c/brp_steps - target",
               "sign": "sign(c/brp_steps - target)"}
    step.run(layers[-1], "g = 2*(c/brp_steps - target)/(brp_classes*brp_steps)\n"
                         "carried = " + carried[signal],
             "brp_output_signal", "brp_output_signal")
    for layer, synapses in enumerate(feedback, start=1):
        step.reduce(synapses, FEEDBACK_SUM, "brp_feedback", f"brp_feedback_{layer}_sum")
    clear = "" if step.summed else "\nfb = 0"
    for layer in range(1, len(layers) - 1):
        step.run(layers[layer], f"g = brp_signal_scale*fb{clear}", "brp_hidden_signal",
                 f"brp_hidden_signal_{layer}")
    batch = "timestep(t, sim_dt)//(brp_batch*brp_steps)"  # batches ended so far, at a batch end
    batch_end = "int(timestep(t, sim_dt) % (brp_batch*brp_steps) == 0)"
    if optimizer == "sgd":
        descent = f"w -= {batch_end}*eta_now*dw/brp_batch\n"
    else:
        # a batch of real samples has ended: not at t = 0 (no batch yet), nor in the padding
        live = f"{batch_end}*int({batch} >= 1)*int({batch} <= adam_batches)"
        k = f"clip(adam_start + {batch}, 1, 1e15)"  # never 0: the bias correction divides
        descent = (f"adam_m += {live}*(1 - adam_beta1)*(dw/brp_batch - adam_m)\n"
                   f"adam_v += {live}*(1 - adam_beta2)*((dw/brp_batch)**2 - adam_v)\n"
                   f"w -= {live}*eta_now*adam_m/(1 - adam_beta1**{k})"
                   f"/(sqrt(adam_v/(1 - adam_beta2**{k})) + adam_eps)\n")
    for index, projection in enumerate(projections):
        step.run(projection, "dw += g_post*G\nG = 0\ntrace = 0\n" + descent +
                 f"dw *= 1 - {batch_end}", "brp_update", f"brp_update_{index}")


@register_rule
class BRP(SampleEndRule):
    """BRP as a rule of the family: eligibility accumulated at every synapse during the
    sample, the projected label (or error) as every hidden layer's signal at its end, one
    optimiser step per batch (module docstring)."""

    name = "brp"
    section = "brp"
    neuron_models = ("lif",)
    launch_keys = ("eta", "eta_hidden")  # every launch's eta_now
    propagation = "same_step"  # the released map: a layer sees the spikes of its own step

    def __init__(self, eta: float = 1e-4, eta_hidden: float = 1e-4, hidden_scale: float = 1.0,
                 batch_size: int = 50, surrogate_width=0.5 * mV, signal: str = "label",
                 optimizer: str = "sgd"):
        values = dict(eta=eta, eta_hidden=eta_hidden, hidden_scale=hidden_scale,
                      batch_size=batch_size, surrogate_width=surrogate_width)
        for key, value in values.items():
            BRP_PARAMS[key].check(key, value, "brp")
        for key, value, choices in (("signal", signal, SIGNALS),
                                    ("optimizer", optimizer, OPTIMIZERS)):
            if value not in choices:
                raise ParameterError(f"[brp] {key} = {value!r}: one of {', '.join(choices)}")
        self.eta, self.eta_hidden, self.hidden_scale = eta, eta_hidden, hidden_scale
        self.batch_size, self.surrogate_width = int(batch_size), surrogate_width
        self.signal, self.optimizer = signal, optimizer

    def check(self, config) -> None:
        if config.chunk % self.batch_size:
            raise ParameterError(f"[brp] batch_size = {self.batch_size} must divide the "
                                 f"[training] chunk ({config.chunk}): batches are counted from "
                                 "each launch's first sample")
        for layer in ("hidden", "output"):
            if getattr(config, f"transmission_{layer}")["model"] != "voltage_transmission":
                raise ParameterError(
                    f"BRP's eligibility is exact for membrane jumps: the projection into the "
                    f"{layer} layer must be a voltage_transmission")
        for layer in range(1, len(config.sizes)):
            p = config.neurons(layer).namespace
            if p["t_ref"] > 0 or p["V_reset"] != p["V_L"]:
                raise ParameterError(
                    f"BRP needs layer {layer}'s neurons to reset to rest (V_reset = V_L) "
                    f"without refractoriness (t_ref = 0): the released map V(t) = decay "
                    f"V(t-1) (1 - s(t-1)) + input, which the eligibility follows; got "
                    f"V_reset = {p['V_reset']}, V_L = {p['V_L']}, t_ref = {p['t_ref']}")

    def phases(self, n_hidden_layers: int) -> tuple:
        return SAMPLE_END_PHASES

    def layer_state(self, role: str, config) -> str:
        state = self.COUNT
        if role != "input":
            state += "g : 1   # the layer's signal at the sample's end\n"
        if role == "hidden":
            state += "fb : 1   # the feedback's sum B^T (label or error)\n"
        if role == "output":
            state += "carried : 1   # what the feedback carries to the hidden layers\n"
        return state

    def projection_state(self, index: int, summed: bool, config) -> str:
        state = ("trace : 1   # e_ij, the presynaptic trace cleared by postsynaptic spikes\n"
                 "G : 1   # the sample's surrogate-gated trace\n"
                 "dw : 1   # the batch's summed gradient\neta_now : 1 (shared)")
        if self.optimizer == "adam":
            state += ("\nadam_m : 1\nadam_v : 1\nadam_start : 1 (shared)\n"
                      "adam_batches : 1 (shared)")
        return state

    def projection_on_pre(self, index: int, config) -> str:
        return "trace += 1"

    def namespace(self, config) -> dict:
        values = {"brp_steps": config.steps_per_sample, "brp_classes": config.sizes[-1],
                  "brp_batch": self.batch_size, "brp_signal_scale": self.hidden_scale,
                  "brp_width": self.surrogate_width,
                  **{f"adam_{key}": value for key, value in ADAM.items()}}
        for layer in range(1, len(config.sizes)):
            p = config.neurons(layer).namespace
            values[f"brp_threshold_{layer}"] = p["V_th"]
            values[f"brp_decay_{layer}"] = float(np.exp(-config.dt / p["tau_m"]))
        return values

    def build_step(self, step, layers: list, projections: list, config) -> list:
        for index, projection in enumerate(projections):
            projection.run_regularly(accumulation_code(index + 1), dt=config.dt,
                                     when="before_resets", name=f"brp_accumulate_{index}")
        feedback = self.feedback_synapses(
            step, layers[-1], {f"brp_feedback_{layer}": layers[layer]
                               for layer in range(1, len(layers) - 1)}, FEEDBACK_SUM)
        sample_end_step(step, layers, projections, feedback, self.signal, self.optimizer)
        return feedback

    def learning_rate(self, scale: float = 1.0) -> float:
        return self.eta * scale

    def rates(self, learning_rate: float, n_projections: int) -> list:
        """Every projection's learning rate at a launch of ``learning_rate`` (the output's:
        ``eta`` times the trainer's decay, which scales ``eta_hidden`` alike)."""
        return [learning_rate * self.eta_hidden / self.eta] * (n_projections - 1) + [
            learning_rate]

    def launch_values(self, net, n_samples: int, seed: int, learning_rate: float) -> tuple:
        """Every projection's ``eta_now``; the feedback ``B_l`` (drawn from the run's seed,
        not the launch's); every batch's summed gradient starts at 0."""
        c = net.config
        values = {p.eta_now: rate for p, rate in
                  zip(net.projections, self.rates(learning_rate, len(net.projections)))}
        values.update({p.dw: 0.0 for p in net.projections})
        drawn = feedback_matrices(c.sizes, c.seed)
        for layer, B in enumerate(drawn, start=1):
            values[net.network[f"brp_feedback_{layer}"].B] = B.ravel()
        if self.optimizer == "adam":
            batches = -(-n_samples // self.batch_size)
            values.update({p.adam_batches: batches for p in net.projections})
        return values, {"feedback": drawn}

    def initial_weights(self, sizes: list, rng: np.random.Generator) -> list:
        """Uniform in ``+-1/sqrt(fan_in)`` (reading 6)."""
        return [rng.uniform(-1 / np.sqrt(n_pre), 1 / np.sqrt(n_pre), (n_pre, n_post))
                for n_pre, n_post in zip(sizes[:-1], sizes[1:])]

    def initial_state(self, sizes: list) -> dict:
        """Adam's moments of every projection and its step count, all 0 (SGD: none)."""
        if self.optimizer != "adam":
            return {}
        state = {"adam_steps": np.zeros(1)}
        for k, (n_pre, n_post) in enumerate(zip(sizes[:-1], sizes[1:])):
            state[f"adam_m_{k}"] = state[f"adam_v_{k}"] = np.zeros(n_pre * n_post)
        return state

    def state_args(self, net, state: dict) -> dict:
        if self.optimizer != "adam":
            return {}
        values = {}
        for k, p in enumerate(net.projections):
            values[p.adam_m] = np.asarray(state[f"adam_m_{k}"], dtype=float)
            values[p.adam_v] = np.asarray(state[f"adam_v_{k}"], dtype=float)
            values[p.adam_start] = float(state["adam_steps"][0])
        return values

    def read_state(self, net, state: dict) -> dict:
        if self.optimizer != "adam":
            return {}
        first = net.projections[0]
        steps = float(state["adam_steps"][0]) + float(np.asarray(first.adam_batches[:]))
        new = {"adam_steps": np.array([steps])}
        for k, p in enumerate(net.projections):
            new[f"adam_m_{k}"] = np.asarray(p.adam_m[:]).copy()
            new[f"adam_v_{k}"] = np.asarray(p.adam_v[:]).copy()
        return new

    def describe(self) -> dict:
        return {"rule": self.name, "eta": self.eta, "eta_hidden": self.eta_hidden,
                "hidden_scale": self.hidden_scale, "batch_size": self.batch_size,
                "surrogate_width": str(self.surrogate_width), "signal": self.signal,
                "optimizer": self.optimizer}
