"""What the network kinds that are plain batched numpy share: the SBP paper's released
algorithm (:mod:`sbp_brian.released`), its RBM (:mod:`sbp_brian.rbm`) and its spiking MLP
(:mod:`sbp_brian.mlp`).  Each is a dataclass configuration with ``sizes`` (the inputs first,
the outputs last) and ``params`` (its model-file section, ``batch_size`` among them), whose
runner presents samples in batches; :class:`BatchedKind` gives the rest of what the trainer
asks of a network kind.

Their runs use ``threads`` BLAS threads (``--threads``, default 1), not whatever the
environment gives: the order in which a multi-threaded BLAS sums a matrix product depends on
the thread count, and the RBM without SBP, for one, can end a short run anywhere between 68 and
92 % on MNIST from that difference alone (docs/results.md, the sleep and wake iterations).
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np
from threadpoolctl import threadpool_limits

from .model_files import ModelFile, ModelFileError
from .parameters import ParameterError, describe_fields

__all__ = ["BatchedKind", "BlasThreads"]


class BatchedKind:
    """The trainer's questions that every batched numpy network kind answers alike."""

    #: how messages name the network, e.g. "the RBM"
    kind_name: ClassVar[str]
    #: its model-file section, e.g. "rbm"
    section: ClassVar[str]
    #: the class of its runner (``runner(config)``)
    runner_class: ClassVar[type]

    @property
    def n_input(self) -> int:
        return int(self.sizes[0])

    @property
    def n_output(self) -> int:
        return int(self.sizes[-1])

    @property
    def batch_size(self) -> int:
        return int(self.params["batch_size"])

    @staticmethod
    def refuse_options(model: ModelFile, options: dict, refused, what: str) -> None:
        """Refuse, by their flags, the options of ``sbp-brian train`` that this network does
        not read (``refused``, and an SBP mode other than "paper"); ``what`` names the
        network and says how its SBP is chosen."""
        given = [k for k in refused if options.get(k) not in (None, False)]
        if options.get("sbp_mode") not in (None, "paper"):
            given.append("sbp_mode")
        if given:
            flags = ", ".join("--" + k.replace("_", "-") for k in given)
            raise ParameterError(f"{flags}: not options of model {model.name}, {what}")

    @staticmethod
    def check_data_sizes(model: ModelFile, n_input: int, n_output: int) -> None:
        """The model file's input and output sizes must be the data set's."""
        sizes = model["sizes"]
        for key, data in (("input", n_input), ("output", n_output)):
            if sizes[key] != data:
                raise ModelFileError(f"{model.path}: [sizes] {key} = {sizes[key]}, but the data "
                                     f"set has {data}; use a model file for this data set")

    def check_copies(self, copies) -> None:
        if copies != 1:
            raise ParameterError(f"network copies are a feature of the spiking SBP network; "
                                 f"{self.kind_name} is batched already ([{self.section}] "
                                 "batch_size)")

    def make_runner(self, device_name: str, build_dir=None, threads: int = 1, copies: int = 1,
                    record_hidden: bool = False):
        """Its runner, using ``threads`` BLAS threads (numpy: ``device_name`` and
        ``build_dir`` change nothing)."""
        self.check_copies(copies)
        return BlasThreads(self.runner_class(self), threads)

    def state_summary(self, state: dict) -> dict:
        """Mean and SD of every weight (``w_``) and bias (``b_``) array, for the metrics log."""
        return {f"{key}_{stat}": float(fn(state[key])) for key in sorted(state)
                if key.startswith(("w_", "b_"))
                for stat, fn in (("mean", np.mean), ("std", np.std))}

    def describe(self) -> dict:
        """JSON-friendly summary: the fields, the rule's description, the layer sizes."""
        described = describe_fields(self)
        described["rule"] = self.rule.describe()
        described.update(n_input=self.n_input, n_hidden=self.n_hidden, n_output=self.n_output)
        return described


class BlasThreads:
    """A batched runner whose :meth:`run_state` uses ``threads`` BLAS threads, so that a
    seeded run gives the same numbers whatever the environment's thread settings."""

    def __init__(self, runner, threads: int):
        self.runner, self.threads = runner, threads

    def run_state(self, *args, **kwargs):
        with threadpool_limits(limits=self.threads, user_api="blas"):
            return self.runner.run_state(*args, **kwargs)
