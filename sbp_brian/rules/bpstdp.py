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
3. **Teacher** (``teacher`` option): ``"regular"`` (default, the paper): one desired spike at
   the end of every window, the times shared by all outputs, so the windows partition the
   sample.  ``"random"`` (n3ml's and wilkieolin's BP-STDP codes): in every time step a
   desired spike with probability ``dt/epsilon`` (``beta dt``, the same mean rate), the times
   shared by all outputs; at each one the update looks back over the last ``epsilon/dt``
   steps of the sample (a sliding window; consecutive windows may overlap, and a step without
   a desired spike teaches nothing).
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
from brian2 import TimedArray, ms

from ..parameters import Param, ParameterError
from ..sections import register_section
from ..steps import summed_lines
from .base import LayeredRule, register_rule

__all__ = ["BPSTDP", "BPSTDP_PARAMS", "PROPAGATIONS", "TEACHERS", "WINDOW_PHASES",
           "output_error", "hidden_error", "window_update", "teacher_times", "simulate_sample",
           "window_step"]

PROPAGATIONS = ("same_step", "next_step")
#: When the teacher asks for a spike (module docstring, reading 3)
TEACHERS = ("regular", "random")

BPSTDP_PARAMS = {
    "mu": Param(1, 0.0005, low=0, doc="learning rate mu (Eqs. 17 and 20)"),
    "window": Param(ms, 4 * ms, low=0, strict_low=True,
                    doc="STDP window epsilon = the teacher's period 1/beta (Eqs. 15-17)"),
    "w_init_sd": Param(1, 1.0, low=0, doc="initial weights Gaussian N(0, w_init_sd^2), every "
                                          "layer (the paper's section 3: N(0, 1))"),
}
register_section("bpstdp", BPSTDP_PARAMS, {"propagation": PROPAGATIONS, "teacher": TEACHERS}, {
    "propagation": ("same_step", "same_step: a spike reaches the next layer in its own time "
                                 "step (Fig. 3); next_step: Brian2's default schedule, one "
                                 "step of lag per layer"),
    "teacher": ("regular", "regular: a desired spike at the end of every window (the paper); "
                           "random: one with probability dt/window in every step, looking back "
                           "over a sliding window (third-party codes)")})


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


def teacher_times(teacher: str, n_steps: int, steps_per_window: int,
                  rng: np.random.Generator | None = None) -> np.ndarray:
    """The steps of a sample after which the teacher asks for a spike (boolean, ``n_steps``):
    the last step of every window ("regular"), or each step with probability
    ``1/steps_per_window`` ("random", drawn from ``rng``)."""
    if teacher == "regular":
        return (np.arange(n_steps) + 1) % steps_per_window == 0
    if teacher == "random":
        return rng.random(n_steps) < 1.0 / steps_per_window
    raise ValueError(f"teacher must be one of {TEACHERS}, got {teacher!r}")


def simulate_sample(weights: list, input_spikes: np.ndarray, thresholds: list,
                    is_target: np.ndarray, mu: float, steps_per_window: int,
                    propagation: str = "same_step",
                    desired: np.ndarray | None = None) -> tuple[list, list]:
    """One sample of the discrete-time network, learning inside it (the numpy reference).

    ``input_spikes`` is a boolean (steps, n_input) raster, ``thresholds[l]`` the threshold of
    layer ``l + 1`` in units of the weights (``theta / v_w``), ``mu = 0`` for no learning.
    ``desired``: the steps after which the teacher asks for a spike (:func:`teacher_times`;
    default the regular teacher's); each update counts the spikes of the last
    ``steps_per_window`` steps of the sample.  Every membrane starts at rest (0).  Returns the
    new weights and, per layer from the inputs to the outputs, the spike counts over the sample.
    """
    if propagation not in PROPAGATIONS:
        raise ValueError(f"propagation must be one of {PROPAGATIONS}, got {propagation!r}")
    weights = [np.array(w, dtype=float) for w in weights]
    v = [np.zeros(w.shape[1]) for w in weights]
    n_steps = len(input_spikes)
    if n_steps % steps_per_window:
        raise ValueError(f"a sample of {n_steps} steps is not a whole number of windows of "
                         f"{steps_per_window} steps")
    if desired is None:
        desired = teacher_times("regular", n_steps, steps_per_window)
    sizes = [w.shape[0] for w in weights] + [weights[-1].shape[1]]
    history = [np.zeros((n_steps, n)) for n in sizes]  # every layer's spikes, step by step
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
            history[layer][step] = fired
        if desired[step] and mu:
            first = max(0, step + 1 - steps_per_window)  # the window lies in the sample
            window = [h[first:step + 1].sum(axis=0) for h in history]
            weights = window_update(weights, window, is_target, mu)
    return weights, [h.sum(axis=0) for h in history]


#: The phases of the generated window step, in order; ``{layer}`` stands for each hidden
#: layer from the top down (the error of a layer needs the one above it).  The regular
#: teacher counts spikes into ``cnt`` and clears it after each window; the random teacher's
#: step runs every time step, counts the last window's steps from a spike history
#: (``window_counts``) and shifts that history on (``shift_window``) instead.
WINDOW_PHASES = ("window_counts", "output_error", "sum_error_{layer}", "hidden_error_{layer}",
                 "update_weights", "clear_window", "shift_window")


def window_phases(n_hidden_layers: int, teacher: str = "regular") -> tuple[str, ...]:
    """The window step's phases for a network with ``n_hidden_layers`` hidden layers."""
    per_layer = [name.format(layer=layer) for layer in range(n_hidden_layers, 0, -1)
                 for name in WINDOW_PHASES[2:4]]
    if teacher == "regular":
        return (WINDOW_PHASES[1], *per_layer, WINDOW_PHASES[4], WINDOW_PHASES[5])
    return (WINDOW_PHASES[0], WINDOW_PHASES[1], *per_layer, WINDOW_PHASES[4], WINDOW_PHASES[6])


def history_variables(steps_per_window: int) -> list[str]:
    """The random teacher's spike history of a neuron: ``spiked_1`` (the last step) ..
    ``spiked_K`` (K = ``steps_per_window`` steps ago)."""
    return [f"spiked_{k}" for k in range(1, steps_per_window + 1)]


def window_step(step, layers: list, projections: list, teacher: str = "regular",
                steps_per_window: int = 1) -> list:
    """Build the window update as generated code (the module docstring's equations).

    ``step`` places code by phase (:class:`~sbp_brian.rules.BoundaryStep`, with the phases of
    :func:`window_phases`); ``layers`` are the NeuronGroups from the inputs to the outputs,
    each with a window count ``cnt`` and, above the inputs, an error ``err`` (xi; hidden
    layers also ``err_sum``); the output layer has ``target``; ``projections[l]`` connects
    ``layers[l]`` to ``layers[l + 1]`` and has ``w`` and the shared learning rate ``mu_now``.
    The random teacher's step runs every time step: every layer also has the spike history
    of :func:`history_variables` (a spike sets ``spiked_1 = 1``), and the namespace the
    function ``desired(t)``, 1 where the teacher asked for a spike in the previous step.
    Returns the objects to add to the network (none: all code runs on existing groups).
    """
    history = history_variables(steps_per_window)
    output_error = "target*int(cnt == 0) - (1 - target)*int(cnt > 0)"
    if teacher == "random":
        for layer, group in enumerate(layers):
            step.run(group, "cnt = " + " + ".join(history), "window_counts",
                     f"bpstdp_counts_{layer}")
        output_error = f"({output_error})*desired(t)"  # no desired spike: no error, no change
    step.run(layers[-1], "err = " + output_error, "output_error", "bpstdp_output_error")
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
        if teacher == "regular":
            step.run(group, "cnt = 0", "clear_window", f"bpstdp_clear_{layer}")
        else:
            shift = [f"{newer} = {older}" for newer, older in zip(history[:0:-1],
                                                                  history[-2::-1])]
            step.run(group, "\n".join([*shift, f"{history[0]} = 0"]), "shift_window",
                     f"bpstdp_shift_{layer}")
    return []


@register_rule
class BPSTDP(LayeredRule):
    """BP-STDP as a rule of the family: it trains every projection of a layered network of
    integrate-and-fire neurons, inside the sample, every ``window`` (module docstring)."""

    name = "bpstdp"
    section = "bpstdp"
    launch_keys = ("mu", "w_init_sd")  # mu: every launch's mu_now; w_init_sd: Python only

    def __init__(self, mu: float = 0.0005, window=4 * ms, w_init_sd: float = 1.0,
                 propagation: str = "same_step", teacher: str = "regular"):
        for key, value in (("mu", mu), ("window", window), ("w_init_sd", w_init_sd)):
            BPSTDP_PARAMS[key].check(key, value, "bpstdp")
        for key, value, choices in (("propagation", propagation, PROPAGATIONS),
                                    ("teacher", teacher, TEACHERS)):
            if value not in choices:
                raise ValueError(f"[bpstdp] {key} must be one of {choices}, got {value!r}")
        self.mu, self.window, self.w_init_sd = mu, window, w_init_sd
        self.propagation, self.teacher = propagation, teacher

    def steps_per_window(self, dt) -> int:
        return int(round(float(self.window / dt)))

    def check(self, config) -> None:
        window = float(self.window / config.dt)
        if abs(window - round(window)) > 1e-9 or round(window) < 1:
            raise ParameterError(f"the BP-STDP window {self.window} must be a whole "
                                 f"number of time steps ({config.dt})")
        windows = float(config.sample_duration / self.window)
        if abs(windows - round(windows)) > 1e-9:
            raise ParameterError(f"the sample duration {config.sample_duration} must be a "
                                 f"whole number of BP-STDP windows ({self.window}), so that "
                                 "every window lies in one sample")

    def period(self, config):
        # the random teacher may ask for a spike after any step: its step runs every step
        return config.dt if self.teacher == "random" else self.window

    def phases(self, n_hidden_layers: int) -> tuple:
        return window_phases(n_hidden_layers, self.teacher)

    def _history(self, config) -> list:
        return (history_variables(self.steps_per_window(config.dt))
                if self.teacher == "random" else [])

    def layer_state(self, role: str, config) -> str:
        state = "cnt : 1   # spikes in the current window\n"
        if role != "input":
            state += "err : 1   # error xi at the last window end\n"
        if role == "hidden":
            state += "err_sum : 1   # sum_k w_hk xi_k\n"
        return state + "".join(f"{name} : 1\n" for name in self._history(config))

    def on_spike(self, config) -> str:
        # into the window's count, or into the random teacher's spike history
        return "spiked_1 = 1" if self.teacher == "random" else "cnt += 1"

    def projection_state(self, index: int, summed: bool, config) -> str:
        state = "mu_now : 1 (shared)   # the learning rate of this launch"
        if summed and index >= 1:  # the error of the hidden layer below
            state += "\n" + summed_lines({"err_sum_pre": "w*err_post"})
        return state

    def sample_start(self, config) -> str:
        # the history is forgotten: every window lies in one sample
        return "\n".join(f"{name} = 0" for name in self._history(config))

    def tables(self, config, n_samples: int) -> dict:
        if self.teacher != "random":
            return {}
        # the random teacher's desired spikes: 1 at the start of the step after one
        return {"desired": TimedArray(np.zeros(n_samples * config.steps_per_sample + 2),
                                      dt=config.dt, name="desired")}

    def build_step(self, step, layers: list, projections: list, config) -> list:
        return window_step(step, layers, projections, self.teacher,
                           self.steps_per_window(config.dt))

    def learning_rate(self, scale: float = 1.0) -> float:
        return self.mu * scale

    def launch_values(self, net, n_samples: int, seed: int, learning_rate: float) -> tuple:
        """The learning rate ``mu_now`` of every projection and, for the random teacher, its
        desired spikes for the launch, drawn from ``seed`` (``{"desired"}``: boolean,
        (samples, steps per sample))."""
        values = {p.mu_now: learning_rate for p in net.projections}
        if self.teacher != "random":
            return values, {}
        c = net.config
        rng = np.random.default_rng([seed, 7])  # apart from Brian2's own stream
        desired = np.array([teacher_times("random", c.steps_per_sample,
                                          self.steps_per_window(c.dt), rng)
                            for _ in range(n_samples)]).reshape(n_samples, c.steps_per_sample)
        table = np.zeros_like(net.tables["desired"].values)  # the length tables() gave it
        table[1:1 + desired.size] = desired.ravel()  # read in the step after the spike
        values[net.tables["desired"]] = table
        return values, {"desired": desired}

    def initial_weights(self, sizes: list, rng: np.random.Generator) -> list:
        """Gaussian ``N(0, w_init_sd^2)`` weights for every projection (the paper, section 3)."""
        return [rng.normal(0.0, self.w_init_sd, (n_pre, n_post))
                for n_pre, n_post in zip(sizes[:-1], sizes[1:])]

    def describe(self) -> dict:
        described = {"rule": self.name, "mu": self.mu, "window": str(self.window),
                     "w_init_sd": self.w_init_sd, "propagation": self.propagation}
        if self.teacher != "regular":  # (as before the option: earlier runs still resume)
            described["teacher"] = self.teacher
        return described
