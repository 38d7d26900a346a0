"""The SBP paper's released algorithm as a network kind: a batched, discrete-time rate network.

The authors' released SNN code (``thomasaimondy/SBP``, ``SBP_SNN_STDP/``, ``snntrain.m``) is
what produced the paper's MNIST numbers (6.25 -> 4.86 % test error without -> with SBP).  It
is an equilibrium-propagation network of continuous states, not the spiking network the paper
describes: spikes are never propagated, and its "STDP" is a contrastive outer product.  It is
reproduced here in vectorised numpy, because it is a discrete-time rate algorithm on batches
(``B x N`` states): Brian2 would add nothing but overhead.  The spiking model of the paper is
:mod:`sbp_brian.network`; docs/released.md sets the two side by side.

Per batch of ``B`` samples (:meth:`ReleasedRunner.run_state`):

1. **Feed-forward phase** (``snnff.m``, :func:`feedforward`): ``T/dt`` Euler steps.  In every
   step each layer, from the first hidden one up (a layer sees the one below in the same
   step), takes the input current ``I = sigma1(x_below w + b)`` (through the code's per-unit
   STP with ``stp = true``), then ``g += dt/tau_syn (-g + g_L + I)``,
   ``V += dt/tau_m (-(V - V_L) - (g/g_L)(V - V_E))`` with the new ``g``, ``V = V_reset`` where
   ``V > V_th``, the blend ``z = lambda V + (1 - lambda) h`` with ``lambda`` the fraction of the
   window elapsed (the code's reading of the paper's Eq. 9) and ``h`` the layer's relaxed
   state of the previous batch (the "particles"), ``V = z`` and ``x = sigma1(z)``.
2. **Free phase**: :func:`sbp_brian.rules.sbp_released.relax` from those states; the result is
   the batch's output (argmax: the prediction, the first of tied outputs as MATLAB's ``max``)
   and the next batch's particles.
3. **Learning** (training only): the nudged phase and the contrastive update with the SBP
   gains (:class:`sbp_brian.rules.sbp_released.ReleasedSBP`).

Where the code differs from the paper it is followed, and the options of ``[released]`` give
the other readings where they matter (``state``, ``order``, ``stp``, ``update``;
docs/released.md lists every difference).  Two deviations of ours, both documented: the test
presentations do not carry their state into the next training batch (the trainer evaluates
with learning off and keeps the training state), and Dale's law with the E/I split
(``set_EI``, off in every released script) is not implemented.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .batched import BatchedKind
from .model_files import ModelFile, ModelFileError
from .parameters import ParameterError
from .rules.sbp_released import RELEASED_PARAMS, ReleasedSBP, relax, sigma1

__all__ = ["ReleasedConfig", "ReleasedRunner", "feedforward", "glorot_weights"]

#: What a released-algorithm model file may hold: section -> keys (None: all)
RELEASED_KEYS = {"simulation": None, "sizes": {"input", "hidden", "output"}, "training":
                 {"epochs", "chunk", "lr_decay"}, "released": None, "rule": None}


def glorot_weights(sizes: list, rng: np.random.Generator) -> list:
    """``U(-r, r)``, ``r = sqrt(6/(N_pre + N_post))`` per projection (``snnsetup.m:41``)."""
    return [rng.uniform(-1, 1, (a, b)) * np.sqrt(6 / (a + b)) for a, b in zip(sizes[:-1], sizes[1:])]


@dataclass
class ReleasedConfig(BatchedKind):
    """Everything that defines a released-algorithm run, from a model file plus options."""

    kind_name = "the released algorithm"
    section = "released"

    sizes: list
    dt: Any
    sample_duration: Any
    #: the [released] section's values (neuron constants, phases, rates, SBP gains, STP)
    params: dict
    update: str = "sbp"
    stp: bool = False
    state: str = "carried"
    order: str = "fixed"
    #: the control: the projections below the output (and their biases) do not learn
    frozen_hidden: bool = False
    epochs: int = 100
    chunk: int = 1000
    lr_decay: float = 0.0
    seed: int = 0
    rule: ReleasedSBP = field(init=False, repr=False)

    #: options of ``sbp-brian train`` that do not apply to this network
    REFUSED_OPTIONS = ("stdp_scale", "copies")

    def __post_init__(self):
        p = self.params
        alpha = list(p["alpha"])
        if len(alpha) != len(self.sizes) - 1:
            raise ParameterError(f"[released] alpha has {len(alpha)} rates; the network "
                                 f"{'-'.join(map(str, self.sizes))} has {len(self.sizes) - 1} "
                                 "projections")
        if self.frozen_hidden:
            alpha = [0.0] * (len(alpha) - 1) + alpha[-1:]
        self.rule = ReleasedSBP(alpha, self.update, p["f"], p["p"], p["lambda_pre"],
                                p["lambda_post"], p["lambda_bp"], p["beta"], p["epsilon"],
                                p["free_iterations"], p["nudged_iterations"])
        steps = float(self.sample_duration / self.dt)
        if abs(steps - round(steps)) > 1e-9 or round(steps) < 1:
            raise ParameterError(f"the window {self.sample_duration} must be a whole number "
                                 f"of steps {self.dt}")
        if self.chunk % self.batch_size:
            raise ParameterError(f"[training] chunk = {self.chunk} must be a multiple of "
                                 f"[released] batch_size = {self.batch_size}")

    @classmethod
    def from_model(cls, model: ModelFile, n_input: int, n_output: int, options: dict):
        """Build from a model file and ``sbp-brian train``'s options: ``--no-sbp`` (the
        code's baseline, update "symmetric"), ``--sbp-mode paper`` (its SBP),
        ``--freeze-hidden``, ``--p``, ``--f``, ``--batch-size``, ``--epochs``, ``--seed``."""
        _refuse_unread_keys(model)
        cls.refuse_options(model, options, cls.REFUSED_OPTIONS, "the released algorithm (its "
                           "one SBP is the code's, chosen with --sbp-mode paper or the model "
                           "file)")
        cls.check_data_sizes(model, n_input, n_output)
        sizes, sim = model["sizes"], model["simulation"]
        hidden = sizes["hidden"] if isinstance(sizes["hidden"], list) else [sizes["hidden"]]
        params = {**{k: spec.default for k, spec in RELEASED_PARAMS.items()},
                  **model.sections.get("released", {})}
        for key in ("p", "f", "batch_size"):
            if options.get(key) is not None:
                params[key] = RELEASED_PARAMS[key].check(key, options[key], "released")
        chosen = dict(model.options.get("released", {}))
        if options.get("no_sbp"):
            chosen["update"] = "symmetric"
        elif options.get("sbp_mode") == "paper":
            chosen["update"] = "sbp"
        training = model.sections.get("training", {})
        values = {k: training[k] for k in ("epochs", "chunk", "lr_decay") if k in training}
        values.update({k: options[k] for k in ("epochs", "seed", "chunk")
                       if options.get(k) is not None})
        return cls(sizes=[n_input, *hidden, n_output], dt=sim["dt"],
                   sample_duration=sim["sample_duration"], params=params,
                   frozen_hidden=bool(options.get("freeze_hidden")),
                   **{"seed": sim["seed"], **chosen, **values})

    # -- what the trainer asks of a network kind (sbp_brian.train.Trainer; BatchedKind) -----
    @property
    def n_hidden(self) -> int:
        return int(sum(self.sizes[1:-1]))

    @property
    def steps(self) -> int:
        """Euler steps of the feed-forward phase, ``T/dt``."""
        return int(round(float(self.sample_duration / self.dt)))

    @property
    def shuffle(self) -> bool:
        """Whether the trainer presents the training set in a new order every epoch."""
        return self.order == "shuffled"

    def initial_state(self, rng: np.random.Generator) -> dict:
        """Glorot weights ``w_0`` .. ``w_L``, zero biases ``b_1`` .. ``b_L`` (of layer 1 up),
        and the state that carries over between batches (zero potentials ``V_l``,
        conductances ``g_l`` and particles ``h_l``, the STP state), ``(B, N_l)`` each."""
        state = {f"w_{k}": w for k, w in enumerate(glorot_weights(self.sizes, rng))}
        for layer, n in enumerate(self.sizes[1:], start=1):
            state[f"b_{layer}"] = np.zeros(n)
            state.update({f"{name}_{layer}": np.full((self.batch_size, n), value) for name, value
                          in self.carried_state_start().items()})
        return state

    def carried_state_start(self) -> dict:
        """Each carried variable's start value (``snntrain.m:30-45``)."""
        start = {"V": 0.0, "g": 0.0, "h": 0.0}
        if self.stp:
            start.update(stp_u=0.1, stp_x=1.0, stp_i=0.1)
        return start


def _refuse_unread_keys(model: ModelFile) -> None:
    """Every key a model file gives is used or refused by name (no silent settings)."""
    model.refuse_unread(RELEASED_KEYS, "the released algorithm")
    if model.neurons or model.synapses or model.homeostasis:
        raise ModelFileError(f"{model.path}: the released algorithm's units and updates are set "
                             "in [released]; remove the [neurons] and [synapses] sections")
    if "alpha" not in model.sections.get("released", {}):
        raise ModelFileError(f"{model.path}: [released] needs alpha, one learning rate per "
                             "projection")


def feedforward(x_in: np.ndarray, w: list, b: list, carried: list, config: ReleasedConfig):
    """The feed-forward phase (module docstring, step 1) of one batch: the layers' states
    after ``T/dt`` steps, and each hidden layer's threshold crossings per sample and unit.  ``carried``:
    per layer above the input, a dict of its carried arrays (``V``, ``g``, ``h``, STP), changed
    in place."""
    p = config.params
    dt_m = float(config.dt / p["tau_m"])
    dt_s = float(config.dt / p["tau_syn"])
    x = [np.asarray(x_in, dtype=float)] + [None] * (len(w))
    crossings = [np.zeros((len(x[0]), n)) for n in config.sizes[1:-1]]
    first_current = sigma1(x[0] @ w[0] + b[0])  # the clamped input's: the same every step
    steps = config.steps
    for step in range(1, steps + 1):
        mix = step / steps
        for layer in range(1, len(x)):
            s = carried[layer - 1]
            current = first_current if layer == 1 else sigma1(x[layer - 1] @ w[layer - 1] + b[layer - 1])
            if config.stp:
                current = _stp(s, current, p)
            g, V = s["g"], s["V"]  # updated in place: g first, V with the new g
            g += dt_s * (p["g_L"] + current - g)
            V += dt_m * ((p["V_L"] - V) - g / p["g_L"] * (V - p["V_E"]))
            above = V > p["V_th"]
            np.copyto(V, p["V_reset"], where=above)
            if layer < len(x) - 1:
                crossings[layer - 1] += above
            V *= mix
            V += (1 - mix) * s["h"]
            x[layer] = sigma1(V)
    return x, crossings


def _stp(s: dict, current: np.ndarray, p: dict) -> np.ndarray:
    """The code's short-term plasticity per postsynaptic unit (``snn_lif.m:40-55``): one Euler
    step of unit time, ``A = 1`` as hard-coded there, each variable from the others' new
    values; the current that drives the conductance is ``I``."""
    s["stp_u"] += -s["stp_u"] / p["stp_tau_f"] + p["stp_U"] * current * (1 - s["stp_u"])
    s["stp_x"] += (1 - s["stp_x"]) / p["stp_tau_d"] - s["stp_u"] * s["stp_x"] * current
    s["stp_i"] += -s["stp_i"] / p["stp_tau_s"] + s["stp_u"] * s["stp_x"] * current
    return s["stp_i"]


class ReleasedRunner:
    """Presents chunks of samples, batch by batch, learning on or off (module docstring).

    The responses it returns: the relaxed outputs as ``counts`` and ``potentials`` alike, so
    that the prediction is their argmax with ties to the first (the code's), and the
    count-only readout counts ties, all-zero outputs included, as wrong; the hidden "spikes"
    are the feed-forward phase's threshold crossings (the code never propagates them)."""

    def __init__(self, config: ReleasedConfig):
        self.config = config

    def run_state(self, x, y_onehot, state: dict, learn: bool, seed: int,
                  rate_scale: float = 1.0, homeo_mix: float = 1.0):
        """Present ``x`` (targets ``y_onehot`` when ``learn``) in batches of ``batch_size``;
        returns the new state and the responses.  ``seed`` and ``homeo_mix`` are not used: the
        algorithm draws no random numbers, and its Eq. 9 mix is the window's."""
        from .train import ChunkResult
        c = self.config
        n_layers = len(c.sizes) - 1
        state = {key: np.array(value, dtype=float) for key, value in state.items()}
        w = [state[f"w_{k}"] for k in range(n_layers)]
        b = [state[f"b_{k + 1}"] for k in range(n_layers)]
        outputs = np.zeros((len(x), c.n_output))
        hidden = np.zeros((len(x), c.n_hidden))
        names = list(c.carried_state_start())
        for start in range(0, len(x), c.batch_size):
            batch = slice(start, min(start + c.batch_size, len(x)))
            rows = batch.stop - batch.start
            if c.state == "reset":
                carried = [{name: np.full((rows, c.sizes[l]), value) for name, value in
                            c.carried_state_start().items()} for l in range(1, n_layers + 1)]
            else:
                carried = [{name: state[f"{name}_{l}"][:rows].copy() for name in names}
                           for l in range(1, n_layers + 1)]
            layers, crossings = feedforward(x[batch], w, b, carried, c)
            free = relax(layers, w, b, c.rule.free_iterations, c.rule.epsilon)
            outputs[batch] = free[-1]
            hidden[batch] = np.concatenate(crossings, axis=1)
            if learn:
                w, b = c.rule.step(free, y_onehot[batch], w, b, rate_scale)
            if c.state == "carried":
                for l in range(1, n_layers + 1):
                    carried[l - 1]["h"] = free[l]
                    for name in names:
                        state[f"{name}_{l}"][:rows] = carried[l - 1][name]
        state.update({f"w_{k}": w[k] for k in range(n_layers)})
        state.update({f"b_{k + 1}": b[k] for k in range(n_layers)})
        return state, ChunkResult(outputs, float(hidden.sum()), hidden, outputs)


ReleasedConfig.runner_class = ReleasedRunner  # the runner is defined below its configuration
