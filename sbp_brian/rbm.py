"""The SBP paper's RBM as a network kind: three layers of rate units, trained batch by batch.

The energy, the relaxation and both readings of the learning (the released code's and the
paper's wake phases I/II) are :mod:`sbp_brian.rules.sbp_rbm`; this module holds the network
around them: its configuration from a model file (``[rbm]``, :class:`RBMConfig`) and the runner
the trainer drives (:class:`RBMRunner`).  Everything is numpy, vectorised over a batch: the
units have no membranes and no spikes, so Brian2 adds nothing here.

Per batch of ``B`` training samples (the code's ``train_model.py``): the sleep phase from the
samples' persistent particles (the states their last sleep phase ended in; zero at first), the
particles written back, the output read (argmax, ties to the first), then the wake phase and
the update with beta's sign drawn at random.  The training set is presented in its stored
order every epoch, as released (the particles belong to the samples' positions).  Evaluation
relaxes each sample from zero for ``test_iterations`` sweeps, or (``[rbm] evaluation =
"particles"``, the code's) from its own particle for ``Ns`` sweeps, and reads the output the
same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .batched import BatchedKind
from .model_files import ModelFile, ModelFileError
from .parameters import ParameterError
from .released import glorot_weights
from .rules.sbp_rbm import RBM_PARAMS, RBMRule

__all__ = ["RBMConfig", "RBMRunner"]

#: What an RBM model file may hold: section -> keys (None: all)
RBM_KEYS = {"simulation": {"seed"}, "sizes": {"input", "hidden", "output"},
            "training": {"epochs", "chunk", "lr_decay"}, "rbm": None, "rule": None}


@dataclass
class RBMConfig(BatchedKind):
    """Everything that defines an RBM run, from a model file plus options."""

    kind_name = "the RBM"
    section = "rbm"

    sizes: list
    #: the [rbm] section's values
    params: dict
    reading: str = "released"
    with_sbp: bool = True
    #: the control: W_0 and the hidden bias do not learn (and no SBP)
    frozen_hidden: bool = False
    #: training samples, one persistent particle each
    n_train: int = 1
    #: "zero" or "particles" (:mod:`sbp_brian.rules.sbp_rbm`)
    evaluation: str = "zero"
    #: evaluated samples, one particle each with evaluation "particles"
    n_eval: int = 1
    epochs: int = 100
    chunk: int = 1000
    lr_decay: float = 0.0
    seed: int = 0
    rule: RBMRule = field(init=False, repr=False)

    #: options of ``sbp-brian train`` that do not apply to this network
    REFUSED_OPTIONS = ("stdp_scale", "copies")
    #: the training set is presented in its stored order (the particles are per position)
    shuffle = False

    def __post_init__(self):
        if len(self.sizes) != 3:
            raise ParameterError(f"the RBM has one hidden layer (the paper's three-layer RBM); "
                                 f"got {'-'.join(map(str, self.sizes))}")
        p = self.params
        alpha = [0.0, p["alpha"][1]] if self.frozen_hidden else list(p["alpha"])
        self.rule = RBMRule(alpha, self.reading, self.with_sbp and not self.frozen_hidden,
                            p["epsilon"], p["beta"], p["sleep_iterations"],
                            p["wake_iterations"], p["theta"], p["eta_sbp"], p["f"], p["p"],
                            p["wake_ii_every"])
        if self.chunk % self.batch_size:
            raise ParameterError(f"[training] chunk = {self.chunk} must be a multiple of "
                                 f"[rbm] batch_size = {self.batch_size}")

    @classmethod
    def from_model(cls, model: ModelFile, n_input: int, n_output: int, options: dict,
                   n_train: int = 1, n_eval: int = 1):
        """Build from a model file and ``sbp-brian train``'s options: ``--no-sbp`` (update
        "plain"), ``--sbp-mode paper`` (update "sbp"), ``--freeze-hidden``, ``--batch-size``,
        ``--p`` and ``--f`` (reading "paper"), ``--epochs``, ``--seed``."""
        model.refuse_unread(RBM_KEYS, "the RBM")
        if model.neurons or model.synapses or model.homeostasis:
            raise ModelFileError(f"{model.path}: the RBM's units and updates are set in [rbm]; "
                                 "remove the [neurons] and [synapses] sections")
        section = model.sections.get("rbm", {})
        if "alpha" not in section:
            raise ModelFileError(f"{model.path}: [rbm] needs alpha, the learning rates of W_0 "
                                 "and W_1")
        chosen = dict(model.options.get("rbm", {}))
        reading = chosen.get("reading", "released")
        refused = cls.REFUSED_OPTIONS + (("p", "f") if reading == "released" else ())
        cls.refuse_options(model, options, refused, f"the RBM with reading {reading!r} (its SBP "
                           "is chosen with --sbp-mode paper or --no-sbp)")  # the code has no p, f
        cls.check_data_sizes(model, n_input, n_output)
        sizes = model["sizes"]
        params = {**{k: spec.default for k, spec in RBM_PARAMS.items()}, **section}
        for key in ("p", "f", "batch_size"):
            if options.get(key) is not None:
                params[key] = RBM_PARAMS[key].check(key, options[key], "rbm")
        with_sbp = chosen.get("update", "sbp") == "sbp"
        if options.get("no_sbp"):
            with_sbp = False
        elif options.get("sbp_mode") == "paper":
            with_sbp = True
        training = model.sections.get("training", {})
        values = {k: training[k] for k in ("epochs", "chunk", "lr_decay") if k in training}
        values.update({k: options[k] for k in ("epochs", "seed", "chunk")
                       if options.get(k) is not None})
        hidden = sizes["hidden"]
        if isinstance(hidden, list):
            if len(hidden) != 1:
                raise ModelFileError(f"{model.path}: [sizes] hidden = {hidden}: the RBM has one "
                                     "hidden layer")
            hidden = hidden[0]
        return cls(sizes=[n_input, hidden, n_output], params=params, reading=reading,
                   with_sbp=with_sbp, frozen_hidden=bool(options.get("freeze_hidden")),
                   n_train=max(1, int(n_train)), n_eval=max(1, int(n_eval)),
                   evaluation=chosen.get("evaluation", "zero"),
                   **{"seed": model["simulation"]["seed"], **values})

    # -- what the trainer asks of a network kind (sbp_brian.train.Trainer; BatchedKind) -----
    @property
    def n_hidden(self) -> int:
        return int(self.sizes[1])

    @property
    def evaluation_carries_state(self) -> bool:
        """Whether evaluation changes the run's state (the trainer keeps it): the evaluated
        samples' particles."""
        return self.evaluation == "particles"

    @property
    def operations_per_sample(self) -> int:
        """The SBP paper's O(n) of the RBM in its cost (Eq. 1): ``m n + n k + k n + n m``,
        both directions of both projections (its figure code)."""
        return 2 * (self.n_input * self.n_hidden + self.n_hidden * self.n_output)

    def initial_state(self, rng: np.random.Generator) -> dict:
        """Glorot weights ``w_0``, ``w_1``, zero biases ``b_1``, ``b_2``; the particles
        ``h``, ``o`` of every training sample at zero (float32: states in [0, 1]), the
        position of the next sample in the training set and the batches trained; with
        evaluation "particles" the same for the evaluated samples (``eval_``)."""
        w_0, w_1 = glorot_weights(self.sizes, rng)
        state = {"w_0": w_0, "w_1": w_1, "b_1": np.zeros(self.n_hidden),
                 "b_2": np.zeros(self.n_output),
                 "particles_h": np.zeros((self.n_train, self.n_hidden), np.float32),
                 "particles_o": np.zeros((self.n_train, self.n_output), np.float32),
                 "position": np.array(0), "batches": np.array(0)}
        if self.evaluation == "particles":
            state.update(eval_particles_h=np.zeros((self.n_eval, self.n_hidden), np.float32),
                         eval_particles_o=np.zeros((self.n_eval, self.n_output), np.float32),
                         eval_position=np.array(0))
        return state

    def describe(self) -> dict:
        return {**super().describe(), "operations_per_sample": self.operations_per_sample}


class RBMRunner:
    """Presents chunks of samples, batch by batch, learning on or off (module docstring).

    The responses it returns: the relaxed outputs as ``counts`` and ``potentials`` alike (the
    prediction is their argmax, ties to the first, as the code's), and the hidden units'
    summed activity in place of hidden spikes."""

    def __init__(self, config: RBMConfig):
        self.config = config

    def run_state(self, x, y_onehot, state: dict, learn: bool, seed: int,
                  rate_scale: float = 1.0, homeo_mix: float = 1.0):
        """Present ``x`` (targets ``y_onehot`` when ``learn``) in batches; returns the new
        state and the responses.  ``seed`` draws beta's signs; ``homeo_mix`` is not used."""
        from .train import ChunkResult
        c, rule = self.config, self.config.rule
        state = {key: np.array(value) for key, value in state.items()}
        w = [state["w_0"].astype(float), state["w_1"].astype(float)]
        b = [state["b_1"].astype(float), state["b_2"].astype(float)]
        rng = np.random.default_rng(seed)
        x = np.asarray(x, dtype=float)
        outputs = np.zeros((len(x), c.n_output))
        hidden = np.zeros((len(x), c.n_hidden))
        for start in range(0, len(x), c.batch_size):
            rows = slice(start, min(start + c.batch_size, len(x)))
            batch = x[rows]
            if learn:
                where = (int(state["position"]) + np.arange(len(batch))) % c.n_train
                h, o = rule.sleep(batch, state["particles_h"][where].astype(float),
                                  state["particles_o"][where].astype(float), w, b)
                state["particles_h"][where], state["particles_o"][where] = h, o
                w, b = rule.step(batch, (h, o), y_onehot[rows], w, b, int(state["batches"]),
                                 rng.choice((-1.0, 1.0)), rate_scale)
                state["position"] = np.array((int(state["position"]) + len(batch)) % c.n_train)
                state["batches"] = np.array(int(state["batches"]) + 1)
            elif c.evaluation == "particles":
                where = (int(state["eval_position"]) + np.arange(len(batch))) % c.n_eval
                h, o = rule.sleep(batch, state["eval_particles_h"][where].astype(float),
                                  state["eval_particles_o"][where].astype(float), w, b)
                state["eval_particles_h"][where], state["eval_particles_o"][where] = h, o
                state["eval_position"] = np.array((int(state["eval_position"]) + len(batch))
                                                  % c.n_eval)
            else:
                zeros = (np.zeros((len(batch), c.n_hidden)), np.zeros((len(batch), c.n_output)))
                h, o = rule.sleep(batch, *zeros, w, b, c.params["test_iterations"])
            outputs[rows], hidden[rows] = o, h
        state.update(w_0=w[0], w_1=w[1], b_1=b[0], b_2=b[1])
        return state, ChunkResult(outputs, float(hidden.sum()), hidden, outputs)


RBMConfig.runner_class = RBMRunner  # the runner is defined below its configuration
