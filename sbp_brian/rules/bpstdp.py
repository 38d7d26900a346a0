"""BP-STDP (Tavanaei & Maida, "BP-STDP: Approximating backpropagation using spike timing
dependent plasticity", Neurocomputing 330, 39-47, 2019).

Non-leaky integrate-and-fire layers (Eq. 3: ``U(t) = U(t - dt) + sum_h w_h s_h(t)``; a spike
and ``U = U_rest = 0`` once ``U >= theta``; :func:`sbp_brian.equations.integrate_and_fire`),
input spike trains at up to ``beta`` = 250 Hz, and a teacher that asks the target output to fire
once in every window of ``epsilon`` = 4 ms (``1/beta``).  Learning runs *inside* the sample:
at the end of every window ``(t - epsilon, t]``, with ``c_x`` the spike count of neuron ``x`` in
the window::

    xi_k = +1  if k is the target and c_k = 0            (output error, Eqs. 15-16)
           -1  if k is not the target and c_k > 0
            0  otherwise
    xi_h = (sum_k w_hk xi_k) [c_h > 0]                     (hidden error, Eq. 20; with
                                                           several hidden layers the same
                                                           recursion, layer by layer down)
    dw_jh = mu xi_h c_j                                    (every layer, Eqs. 17 and 20)

The order of the update (Fig. 3): every error is computed from the *old* weights, then every
weight changes at once; the window's counts are then cleared.  Weights are unbounded.

Readings of what the paper leaves open (the spec's recommendations are the defaults):

1. **Window edges**: ``(t - epsilon, t]``, the ``epsilon/dt`` steps since the previous window
   end, so that windows partition the sample (the paper's ``[t - epsilon, t]`` would count a
   spike at a window's end in two windows).
2. **Propagation** (``propagation`` option): ``"same_step"`` (default, Fig. 3): a spike
   reaches the next layer in the step it is emitted, so layer ``l + 1`` may fire in the same
   step as layer ``l``; ``"next_step"``: Brian2's default schedule (every threshold, then every
   pathway, then every reset), one step of lag per layer, and input arriving at a neuron in the
   step it fires is lost to its reset.
3. **Teacher**: regular, one desired spike per window (the paper); the random teacher of
   third-party codes is not offered.
4. **Sample length**: the sample must be a whole number of windows (refused otherwise), so
   every window lies in one sample; the bundled model files use 48 ms where the paper gives
   50 ms (the 2 ms after the last desired spike would carry no teaching).

The pure functions below are the numpy reference (one window's update; one sample of the
discrete-time network, :func:`simulate_sample`); :func:`window_step` builds the same update as
Brian2 generated code at a period of ``epsilon`` (``run_regularly``, summed variables), which
the layered network (:mod:`sbp_brian.layered`) runs with no Python in between.  Tests run both
on identical input spikes.
"""
from __future__ import annotations

import numpy as np
from brian2 import ms

from ..parameters import Param
from ..sections import register_section
from .base import Rule, register_rule

__all__ = ["BPSTDP", "BPSTDP_PARAMS", "PROPAGATIONS", "WINDOW_PHASES", "output_error",
           "hidden_error", "window_update", "simulate_sample", "window_step"]

PROPAGATIONS = ("same_step", "next_step")

BPSTDP_PARAMS = {
    "mu": Param(1, 0.0005, low=0, doc="learning rate mu (Eqs. 17 and 20)"),
    "window": Param(ms, 4 * ms, low=0, strict_low=True,
                    doc="STDP window epsilon = the teacher's period 1/beta (Eqs. 15-17)"),
    "w_init_sd": Param(1, 1.0, low=0, doc="initial weights Gaussian N(0, w_init_sd^2), every "
                                          "layer (the paper's section 3: N(0, 1))"),
}
register_section("bpstdp", BPSTDP_PARAMS, {"propagation": PROPAGATIONS}, {
    "propagation": ("same_step", "same_step: a spike reaches the next layer in its own time "
                                 "step (Fig. 3); next_step: Brian2's default schedule, one "
                                 "step of lag per layer")})


def output_error(is_target: np.ndarray, window_counts: np.ndarray) -> np.ndarray:
    """``xi_k`` (Eqs. 15-16): +1 for a silent target, -1 for a non-target that fired in the
    window, 0 otherwise."""
    is_target = np.asarray(is_target, dtype=float)
    fired = np.asarray(window_counts) > 0
    return is_target * ~fired - (1 - is_target) * fired


def hidden_error(xi_above: np.ndarray, w_above: np.ndarray,
                 window_counts: np.ndarray) -> np.ndarray:
    """``xi_h = (sum_k w_hk xi_k) [c_h > 0]`` (Eq. 20): the error of the layer above through
    the weights ``w_above[h, k]`` to it, gated by the neuron's own spiking in the window."""
    return (np.asarray(w_above) @ np.asarray(xi_above)) * (np.asarray(window_counts) > 0)


def window_update(weights: list, window_counts: list, is_target: np.ndarray,
                  mu: float) -> list:
    """New weights after one window (Fig. 3's order: every error from the old weights, then
    every change).  ``weights[l]`` has shape (n_l, n_{l+1}) from layer ``l`` (0: the inputs)
    to layer ``l + 1``; ``window_counts[l]`` are layer ``l``'s spike counts in the window."""
    errors = [output_error(is_target, window_counts[-1])]
    for layer in range(len(weights) - 1, 0, -1):
        errors.insert(0, hidden_error(errors[0], weights[layer], window_counts[layer]))
    return [w + mu * np.outer(window_counts[layer], errors[layer])
            for layer, w in enumerate(weights)]


def simulate_sample(weights: list, input_spikes: np.ndarray, thresholds: list,
                    is_target: np.ndarray, mu: float, steps_per_window: int,
                    propagation: str = "same_step") -> tuple[list, list]:
    """One sample of the discrete-time network, learning inside it (the numpy reference).

    ``input_spikes`` is a boolean (steps, n_input) raster, ``thresholds[l]`` the threshold of
    layer ``l + 1`` in units of the weights (``theta / v_w``), ``mu = 0`` for no learning.
    Every membrane starts at rest (0).  Returns the new weights and, per layer from the
    inputs to the outputs, the spike counts over the sample.
    """
    if propagation not in PROPAGATIONS:
        raise ValueError(f"propagation must be one of {PROPAGATIONS}, got {propagation!r}")
    weights = [np.array(w, dtype=float) for w in weights]
    v = [np.zeros(w.shape[1]) for w in weights]
    window = [np.zeros(w.shape[0]) for w in weights] + [np.zeros(weights[-1].shape[1])]
    totals = [np.zeros_like(c) for c in window]
    n_steps = len(input_spikes)
    if n_steps % steps_per_window:
        raise ValueError(f"a sample of {n_steps} steps is not a whole number of windows of "
                         f"{steps_per_window} steps")
    for step in range(n_steps):
        spikes = [np.asarray(input_spikes[step], dtype=bool)]
        if propagation == "same_step":  # Fig. 3: each layer integrates, then fires
            for layer, w in enumerate(weights):
                v[layer] += spikes[layer] @ w
                spikes.append(v[layer] >= thresholds[layer])
                v[layer][spikes[-1]] = 0.0
        else:  # Brian2's schedule: thresholds, then propagation, then resets
            spikes += [v[layer] >= thresholds[layer] for layer in range(len(weights))]
            for layer, w in enumerate(weights):
                v[layer] += spikes[layer] @ w
            for layer in range(len(weights)):
                v[layer][spikes[layer + 1]] = 0.0
        for layer, fired in enumerate(spikes):
            window[layer] += fired
            totals[layer] += fired
        if (step + 1) % steps_per_window == 0:
            if mu:
                weights = window_update(weights, window, is_target, mu)
            window = [np.zeros_like(c) for c in window]
    return weights, totals


#: The phases of the generated window step, in order; ``{layer}`` stands for each hidden
#: layer from the top down (the error of a layer needs the one above it).
WINDOW_PHASES = ("output_error", "sum_error_{layer}", "hidden_error_{layer}", "update_weights",
                 "clear_window")


def window_phases(n_hidden_layers: int) -> tuple[str, ...]:
    """The window step's phases for a network with ``n_hidden_layers`` hidden layers."""
    per_layer = [name.format(layer=layer) for layer in range(n_hidden_layers, 0, -1)
                 for name in WINDOW_PHASES[1:3]]
    return (WINDOW_PHASES[0], *per_layer, *WINDOW_PHASES[3:])


def window_step(step, layers: list, projections: list) -> list:
    """Build the window update as generated code (the module docstring's equations).

    ``step`` places code by phase (:class:`~sbp_brian.rules.BoundaryStep`, with the phases of
    :func:`window_phases`); ``layers`` are the NeuronGroups from the inputs to the outputs,
    each with a window count ``cnt`` and, above the inputs, an error ``err`` (xi; hidden
    layers also ``err_sum``); the output layer has ``target``; ``projections[l]`` connects
    ``layers[l]`` to ``layers[l + 1]`` and has ``w`` and the shared learning rate ``mu_now``.
    Returns the objects to add to the network (none: all code runs on existing groups).
    """
    step.run(layers[-1], "err = target*int(cnt == 0) - (1 - target)*int(cnt > 0)",
             "output_error", "bpstdp_output_error")
    for layer in range(len(layers) - 2, 0, -1):  # hidden layers, from the top down
        step.reduce(projections[layer], {"err_sum_pre": "w*err_post"}, f"sum_error_{layer}",
                    f"bpstdp_sum_error_{layer}")
        step.run(layers[layer], "err = err_sum*int(cnt > 0)" + (
            "" if step.summed else "\nerr_sum = 0"), f"hidden_error_{layer}",
            f"bpstdp_hidden_error_{layer}")
    for layer, projection in enumerate(projections):
        step.run(projection, "w += mu_now*err_post*cnt_pre", "update_weights",
                 f"bpstdp_update_{layer}")
    for layer, group in enumerate(layers):
        step.run(group, "cnt = 0", "clear_window", f"bpstdp_clear_{layer}")
    return []


@register_rule
class BPSTDP(Rule):
    """BP-STDP as a rule of the family: it trains every projection of a layered network of
    integrate-and-fire neurons, inside the sample, every ``window`` (module docstring)."""

    name = "bpstdp"
    network = "layered"

    def __init__(self, mu: float = 0.0005, window=4 * ms, w_init_sd: float = 1.0,
                 propagation: str = "same_step"):
        for key, value in (("mu", mu), ("window", window), ("w_init_sd", w_init_sd)):
            BPSTDP_PARAMS[key].check(key, value, "bpstdp")
        if propagation not in PROPAGATIONS:
            raise ValueError(f"[bpstdp] propagation must be one of {PROPAGATIONS}, got "
                             f"{propagation!r}")
        self.mu, self.window, self.w_init_sd = mu, window, w_init_sd
        self.propagation = propagation

    @property
    def period(self):
        return self.window

    def initial_weights(self, sizes: list, rng: np.random.Generator) -> list:
        """Gaussian ``N(0, w_init_sd^2)`` weights for every projection (the paper, section 3)."""
        return [rng.normal(0.0, self.w_init_sd, (n_pre, n_post))
                for n_pre, n_post in zip(sizes[:-1], sizes[1:])]

    def describe(self) -> dict:
        return {"rule": self.name, "mu": self.mu, "window": str(self.window),
                "w_init_sd": self.w_init_sd, "propagation": self.propagation}
