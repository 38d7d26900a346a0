"""The SBP paper's spiking MLP as a network kind: leaky spiking layers in discrete time,
trained batch by batch through time with a pseudo-gradient and Adam.

The layers, the loss, the gradients and SBP's replacement of them are
:mod:`sbp_brian.rules.sbp_mlp`; this module holds the network around them: its configuration
from a model file (``[mlp]``, :class:`MLPConfig`) and the runner the trainer drives
(:class:`MLPRunner`).  Everything is numpy on batches of ``B x n`` spikes in steps of no stated
duration (the code's ``T = 20``): Brian2 would add nothing here.

Per batch of ``B`` training samples: input spikes for ``T`` steps (``[mlp] input``: Bernoulli
draws, the values themselves, or a sample's frames in turn), the forward pass,
the output (spike counts, argmax, ties to the first), the gradients (SBP's where it applies)
and one Adam step of every weight and bias, at ``learning_rate`` times ``lr_step_factor`` per
``lr_step_epochs`` epochs trained.  A final batch smaller than ``B`` is presented but does not
learn, as the code skips it.  The training set is shuffled every epoch (the code's
``shuffle = True``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .batched import BatchedKind
from .model_files import ModelFile, ModelFileError
from .parameters import ParameterError
from .rules.sbp_mlp import MLP_PARAMS, MLPRule, forward, input_spikes, kaiming_feedback

__all__ = ["MLPConfig", "MLPRunner", "torch_linear_init"]

#: What a spiking-MLP model file may hold: section -> keys (None: all)
MLP_KEYS = {"simulation": {"seed"}, "sizes": {"input", "hidden", "output"},
            "training": {"epochs", "chunk"}, "mlp": None, "rule": None}


def torch_linear_init(sizes: list, rng: np.random.Generator) -> tuple[list, list]:
    """PyTorch's ``nn.Linear`` start: weights and biases ``U(-1/sqrt(n_in), 1/sqrt(n_in))``;
    the weights as ``(n_in, n_out)``."""
    bounds = [1 / np.sqrt(n) for n in sizes[:-1]]
    w = [rng.uniform(-r, r, (a, c)) for r, a, c in zip(bounds, sizes[:-1], sizes[1:])]
    b = [rng.uniform(-r, r, c) for r, c in zip(bounds, sizes[1:])]
    return w, b


@dataclass
class MLPConfig(BatchedKind):
    """Everything that defines a spiking-MLP run, from a model file plus options."""

    kind_name = "the spiking MLP"
    section = "mlp"

    sizes: list
    #: the [mlp] section's values
    params: dict
    #: how a sample drives the input layer (:data:`~sbp_brian.rules.sbp_mlp.MLP_INPUTS`)
    input_form: str = "bernoulli"
    with_sbp: bool = True
    #: the control: the hidden layers do not learn (and no SBP)
    frozen_hidden: bool = False
    #: training samples (the epoch of the learning-rate steps is counted in them)
    n_train: int = 1
    epochs: int = 100
    chunk: int = 1000
    lr_decay: float = 0.0
    seed: int = 0
    rule: MLPRule = field(init=False, repr=False)

    REFUSED_OPTIONS = ("stdp_scale", "copies", "p", "f")

    def __post_init__(self):
        if len(self.sizes) < 3:
            raise ParameterError("the spiking MLP needs a hidden layer")
        self.rule = MLPRule(self.params, self.with_sbp and not self.frozen_hidden,
                            self.frozen_hidden)
        if self.chunk % self.batch_size:
            raise ParameterError(f"[training] chunk = {self.chunk} must be a multiple of "
                                 f"[mlp] batch_size = {self.batch_size}")
        frames, stride = self.params["frames"], self.params["frame_stride"]
        if self.input_form != "frames" and (frames, stride) != (1, 1):
            raise ParameterError(f"[mlp] frames and frame_stride are read with input = "
                                 f"\"frames\", not {self.input_form!r}")
        if (self.params["steps"] - 1) * stride >= frames and self.input_form == "frames":
            raise ParameterError(f"[mlp] {self.params['steps']} steps of frame_stride {stride} "
                                 f"need more than the {frames} frames of a sample")

    @property
    def frames(self) -> int:
        """Frames per sample (the trainer checks the data holds ``n_input x frames``)."""
        return int(self.params["frames"]) if self.input_form == "frames" else 1

    @classmethod
    def from_model(cls, model: ModelFile, n_input: int, n_output: int, options: dict,
                   n_train: int = 1):
        """Build from a model file and ``sbp-brian train``'s options: ``--no-sbp`` (update
        "plain"), ``--sbp-mode paper`` (update "sbp"), ``--freeze-hidden``,
        ``--batch-size``, ``--epochs``, ``--seed``."""
        model.refuse_unread(MLP_KEYS, "the spiking MLP")
        if model.neurons or model.synapses or model.homeostasis:
            raise ModelFileError(f"{model.path}: the spiking MLP's units and updates are set "
                                 "in [mlp]; remove the [neurons] and [synapses] sections")
        cls.refuse_options(model, options, cls.REFUSED_OPTIONS, "the spiking MLP (its SBP is "
                           "chosen with --sbp-mode paper or --no-sbp)")
        params = {**{k: spec.default for k, spec in MLP_PARAMS.items()},
                  **model.sections.get("mlp", {})}
        input_form = model.options.get("mlp", {}).get("input", "bernoulli")
        frames = params["frames"] if input_form == "frames" else 1
        if n_input % frames:
            raise ModelFileError(f"{model.path}: [mlp] frames = {frames}, but the data set's "
                                 f"{n_input} inputs per sample are not whole frames")
        n_input //= frames
        cls.check_data_sizes(model, n_input, n_output)
        sizes = model["sizes"]
        if options.get("batch_size") is not None:
            params["batch_size"] = MLP_PARAMS["batch_size"].check(
                "batch_size", options["batch_size"], "mlp")
        with_sbp = model.options.get("mlp", {}).get("update", "sbp") == "sbp"
        if options.get("no_sbp"):
            with_sbp = False
        elif options.get("sbp_mode") == "paper":
            with_sbp = True
        training = model.sections.get("training", {})
        values = {k: training[k] for k in ("epochs", "chunk") if k in training}
        values.update({k: options[k] for k in ("epochs", "seed", "chunk")
                       if options.get(k) is not None})
        hidden = sizes["hidden"] if isinstance(sizes["hidden"], list) else [sizes["hidden"]]
        return cls(sizes=[n_input, *hidden, n_output], params=params, input_form=input_form,
                   with_sbp=with_sbp,
                   frozen_hidden=bool(options.get("freeze_hidden")),
                   n_train=max(1, int(n_train)),
                   **{"seed": model["simulation"]["seed"], **values})

    # -- what the trainer asks of a network kind (sbp_brian.train.Trainer; BatchedKind) -----
    @property
    def n_hidden(self) -> int:
        return int(sum(self.sizes[1:-1]))

    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1

    def parameter_names(self) -> list:
        return ([f"w_{l}" for l in range(self.n_layers)]
                + [f"b_{l + 1}" for l in range(self.n_layers)])

    def initial_state(self, rng: np.random.Generator) -> dict:
        """PyTorch's ``nn.Linear`` weights ``w_0``.. and biases ``b_1``..
        (:func:`torch_linear_init`), SBP's fixed feedback ``feedback_1``.. of the hidden
        layers (:func:`~sbp_brian.rules.sbp_mlp.kaiming_feedback`), Adam's moments (``m_``,
        ``v_`` per parameter) and step count, and the samples trained."""
        w, b = torch_linear_init(self.sizes, rng)
        state = {**{f"w_{l}": v for l, v in enumerate(w)},
                 **{f"b_{l + 1}": v for l, v in enumerate(b)}}
        state.update({f"feedback_{l + 1}": v for l, v in
                      enumerate(kaiming_feedback(self.sizes, rng))})
        for name in self.parameter_names():
            state[f"m_{name}"] = np.zeros_like(state[name])
            state[f"v_{name}"] = np.zeros_like(state[name])
        state.update(adam_step=np.array(0), samples=np.array(0))
        return state


class MLPRunner:
    """Presents chunks of samples, batch by batch, learning on or off (module docstring).

    The responses it returns: the output spike counts as ``counts`` and ``potentials`` alike
    (the prediction is their argmax, ties to the first) and the hidden spike counts."""

    def __init__(self, config: MLPConfig):
        self.config = config

    def run_state(self, x, y_onehot, state: dict, learn: bool, seed: int,
                  rate_scale: float = 1.0, homeo_mix: float = 1.0):
        """Present ``x`` (targets ``y_onehot`` when ``learn``) in batches; returns the new
        state and the responses.  ``seed`` draws the input spikes; ``homeo_mix`` is not used."""
        from .train import ChunkResult
        c, p = self.config, self.config.params
        state = {key: np.array(value) for key, value in state.items()}
        names = c.parameter_names()
        rng = np.random.default_rng(seed)
        x = np.asarray(x, dtype=float)
        counts = np.zeros((len(x), c.n_output))
        hidden = np.zeros((len(x), c.n_hidden))
        feedback = [state[f"feedback_{l + 1}"] for l in range(c.n_layers - 1)]
        for start in range(0, len(x), c.batch_size):
            rows = slice(start, min(start + c.batch_size, len(x)))
            batch = x[rows]
            spikes = input_spikes(batch, p["steps"], rng, c.input_form, p["frames"],
                                  p["frame_stride"])
            w = [state[f"w_{l}"] for l in range(c.n_layers)]
            b = [state[f"b_{l + 1}"] for l in range(c.n_layers)]
            if learn and len(batch) == c.batch_size:
                _, record, dws, dbs = c.rule.gradients(spikes, y_onehot[rows], w, b, feedback,
                                                       int(state["adam_step"]))
                epoch = int(state["samples"]) // c.n_train
                rate = (p["learning_rate"] * p["lr_step_factor"] ** (epoch // p["lr_step_epochs"])
                        * rate_scale)
                step = int(state["adam_step"]) + 1
                new, moments = c.rule.step([state[n] for n in names],
                                           [(state[f"m_{n}"], state[f"v_{n}"]) for n in names],
                                           dws + dbs, step, rate)
                for name, value, (m, v) in zip(names, new, moments):
                    state[name], state[f"m_{name}"], state[f"v_{name}"] = value, m, v
                state["adam_step"] = np.array(step)
            else:
                record = forward(spikes, w, b, p["decay"], p["threshold"], p["window"],
                                 p["current_offset"])
            if learn:
                state["samples"] = np.array(int(state["samples"]) + len(batch))
            counts[rows] = record["output"] * p["steps"]
            hidden[rows] = np.concatenate([layer["s"].sum(axis=0)
                                           for layer in record["layers"][:-1]], axis=1)
        return state, ChunkResult(counts, float(hidden.sum()), hidden, counts)


MLPConfig.runner_class = MLPRunner  # the runner is defined below its configuration
