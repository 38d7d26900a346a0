"""Training and evaluation loop: compiled fast path and runtime reference, with checkpoints.

Two execution paths of one network definition (:class:`sbp_brian.network.SBPNetwork`):

* **fast path** (``device="cpp"``, the default): the network, the boundary step and the
  input switching are compiled once into a ``cpp_standalone`` project (kept for later runs
  of the same configuration, :mod:`sbp_brian.project_cache`) that simulates a chunk of
  ``config.chunk`` samples; every chunk relaunches the same binary with new inputs,
  targets, weights and learning rates through ``device.run(run_args=...)`` and a fresh
  random seed (``SBP_BRIAN_SEED``), then reads the weights back; ``device="cuda"``
  (brian2cuda) and OpenMP threads use the same project with summed-variable reductions;
* **runtime reference** (``device="numpy"`` or ``"cython"``): one ``run(T)`` per sample and
  the boundary step in numpy (:mod:`sbp_brian.rules`) between runs -- slow, readable, and the
  oracle the fast path is tested against.

Between chunks the loop logs, checkpoints (weights, epoch, position, seeds, config; written
atomically) and can be resumed (``resume=True``), reaching the same weights as an
uninterrupted run with the same seed.  Prediction = the output neuron with the most spikes in
the sample, with the teacher off; ties at the top go to the higher mean membrane potential
(:func:`predict`; the metrics log also gives the count-only accuracy, ties wrong).
"""
from __future__ import annotations

import contextlib
import functools
import gc
import json
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from brian2 import device, mV, prefs
from brian2.core.namespace import DEFAULT_UNITS
from brian2 import seed as brian_seed

from . import project_cache
from .datasets import NPZ_READ_ERRORS, Dataset
from .equations import dale_clip
from .network import (SBPNetwork, TrainingConfig, hidden_signs, input_norms,
                      input_signs)
from .rules import rule_of
from .targets import canonical_target, reset_target, use_target

__all__ = ["Trainer", "TrainingError", "ChunkResult", "predict", "accuracy", "read_metrics",
           "CHECKPOINT", "METRICS", "interrupts_stop_at_once", "compile_project", "launch"]

CHECKPOINT = "checkpoint.npz"
#: The checkpoint's layout: 1 (no ``format`` entry) the SBP network's arrays ``w_in``,
#: ``w_out``, ``w_norm`` (and later ``sign_in``); 2 the network kind's synaptic state by name,
#: whatever the network (:meth:`Trainer.save_checkpoint`)
CHECKPOINT_FORMAT = 2
METRICS = "metrics.jsonl"
_SEED_CODE = """
{
    const char* _sbp_seed = getenv("SBP_BRIAN_SEED");
    if (_sbp_seed != NULL) {
        unsigned long _value = strtoul(_sbp_seed, NULL, 10);
        for (size_t _i = 0; _i < brian::_random_generators.size(); _i++)
            brian::_random_generators[_i].seed(_value + _i);
    }
}
"""
#: brian2cuda: the same per-chunk seed for cuRAND (host and device API streams)
_CUDA_SEED_CODE = """
{
    const char* _sbp_seed = getenv("SBP_BRIAN_SEED");
    if (_sbp_seed != NULL)
        brian::random_number_buffer.set_seed(strtoull(_sbp_seed, NULL, 10));
}
"""


def compile_project(network, duration, target: str, build_dir, description: dict | None,
                    profile: bool = False) -> tuple[bool, float]:
    """Build a network's standalone project in ``build_dir``, compiled once and launched
    per chunk (:func:`launch`): its run of ``duration`` is recorded (``build_on_run``
    off), with the code that seeds its random generators at every launch, and compiled,
    seeded from and stored into the project cache under ``description`` (None: no cache;
    :func:`sbp_brian.project_cache.build`).  Returns whether the cache had the project and
    the seconds the build took."""
    device.insert_code("main", _CUDA_SEED_CODE if target == "cuda" else _SEED_CODE)
    network.run(duration, namespace={}, profile=profile)
    return project_cache.build(description, target, build_dir)


def launch(run_args: dict, seed: int) -> None:
    """Run the compiled project once with ``run_args``, its random numbers drawn from
    ``seed`` (the same seed, the same spikes)."""
    os.environ["SBP_BRIAN_SEED"] = str(seed)
    try:
        device.run(with_output=False, run_args=run_args)
    finally:
        del os.environ["SBP_BRIAN_SEED"]


@contextlib.contextmanager
def interrupts_stop_at_once():
    """Within this block, Ctrl-C (SIGINT) raises :class:`KeyboardInterrupt` at once.

    Brian2 turns a first Ctrl-C during a ``run`` into a request to stop that run early
    (preference ``core.stop_on_keyboard_interrupt``), and the run then returns normally: a
    runtime-mode trainer would apply its plasticity step to a truncated sample and carry on,
    and the next checkpoint would hold it.  Raising instead leaves the last checkpoint as it
    was.  A process started with SIGINT ignored (a background job of a shell script) keeps
    ignoring it; Brian2's handler would call the ignored handler and fail with a TypeError.
    Outside the main thread signal handlers cannot be set, and nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    import brian2
    started_with = getattr(getattr(brian2, "_int_handler", None), "previous_handler", None)
    handler = signal.SIG_IGN if started_with is signal.SIG_IGN else signal.default_int_handler
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class TrainingError(RuntimeError):
    """Training cannot start or continue (existing run, incompatible checkpoint, ...)."""


def predict(counts: np.ndarray, potentials: np.ndarray | None = None) -> np.ndarray:
    """Prediction per sample: the output neuron with the most spikes.

    Ties at the top count (all outputs silent included) go to the tied output with the
    higher mean membrane potential over the sample (``potentials``, e.g. mV, same shape as
    ``counts``; the readout of the numpy prototype in docs/science.md): of two outputs that
    fired equally, the one that was closer to firing more.  Without ``potentials`` a tie is
    undecided: -1, which no label equals (the count-only readout).
    """
    counts = np.asarray(counts)
    top = counts.max(axis=1, initial=0)
    at_top = counts == top[:, None]
    if potentials is not None:
        return np.where(at_top, np.asarray(potentials, dtype=float), -np.inf).argmax(axis=1)
    tied = at_top.sum(axis=1) > 1
    return np.where((top > 0) & ~tied, counts.argmax(axis=1), -1)


def accuracy(counts: np.ndarray, labels: np.ndarray,
             potentials: np.ndarray | None = None) -> float:
    """Fraction of samples whose :func:`predict` equals the label."""
    if not len(labels):
        return float("nan")
    return float(np.mean(predict(counts, potentials) == np.asarray(labels)))


def cosine_scores(outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Cosine similarity of each sample's outputs (spike counts or rates) and its target code,
    the SBP paper's NETtalk accuracy ("the cosine similarity distance of identified phonemes
    and real phonemes"; its code's error is ``1 - cos``).  An all-zero output scores 0, wrong:
    the code's cosine is NaN there and made one of its epochs NaN (the spec's ambiguity 8)."""
    outputs, targets = np.asarray(outputs, dtype=float), np.asarray(targets, dtype=float)
    norms = np.linalg.norm(outputs, axis=1) * np.linalg.norm(targets, axis=1)
    dots = np.einsum("ij,ij->i", outputs, targets)
    return np.divide(dots, norms, out=np.zeros(len(outputs)), where=norms > 0)


def nearest_codes(outputs: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The class whose code is the nearest (by cosine) to each sample's outputs; -1 for an
    all-zero output.  NETtalk's "nearest phoneme" readout, a stricter measure than the
    cosine itself (:func:`cosine_scores`)."""
    outputs, codes = np.asarray(outputs, dtype=float), np.asarray(codes, dtype=float)
    unit = codes / np.maximum(np.linalg.norm(codes, axis=1, keepdims=True), 1e-300)
    nearest = (outputs @ unit.T).argmax(axis=1)
    return np.where(np.abs(outputs).sum(axis=1) > 0, nearest, -1)


def read_metrics(run) -> list[dict]:
    """The records of the metrics log in run folder ``run``, one per epoch.  A line that is
    not JSON (e.g. cut short) raises :class:`TrainingError` naming it."""
    path = Path(run) / METRICS
    if not path.exists():
        raise FileNotFoundError(f"{path}: no metrics log (is {run} a run folder?)")
    records = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError as err:
            raise TrainingError(f"{path}, line {number}: not a JSON record ({err}); mend or "
                                "remove that line") from None
    return records


def chunk_seed(seed: int, epoch: int, chunk: int, phase: int) -> int:
    """Deterministic seed of one chunk (phase 0 training, 1 evaluation, 2 probe fits)."""
    return int(np.random.SeedSequence([seed, epoch, chunk, phase]).generate_state(1)[0])


@dataclass
class ChunkResult:
    """The network's responses to a run of samples."""
    counts: np.ndarray        # (n, n_output) output spikes per sample
    hidden_spikes: float      # total hidden spikes in the run
    hidden_counts: np.ndarray | None = None  # (n, n_hidden) when the runner records them
    potentials: np.ndarray | None = None     # (n, n_output) mean depolarisation (mV)

    def predictions(self) -> np.ndarray:
        return predict(self.counts, self.potentials)

    def scores(self, labels, codes: np.ndarray | None = None) -> np.ndarray:
        """Each sample's score: 1 where :func:`predict` gives its label, else 0; with target
        ``codes`` (one row per class), the outputs' cosine to the label's code."""
        if codes is None:
            return (self.predictions() == np.asarray(labels)).astype(float)
        return cosine_scores(self.counts, np.asarray(codes)[np.asarray(labels, dtype=int)])

    def accuracy(self, labels, codes: np.ndarray | None = None) -> float:
        """The mean of :meth:`scores`."""
        return float(np.mean(self.scores(labels, codes))) if len(labels) else float("nan")

    def accuracy_counts_only(self, labels) -> float:
        """Accuracy of the count-only readout (ties and silence wrong)."""
        return accuracy(self.counts, labels)

    def undecided_by_counts(self) -> float:
        """Fraction of samples that spike counts alone do not decide (tie or silence)."""
        return float(np.mean(predict(self.counts) < 0)) if len(self.counts) else float("nan")

    @classmethod
    def concatenate(cls, results: list, n_output: int) -> "ChunkResult":
        def joined(name):
            parts = [getattr(r, name) for r in results]
            return None if any(p is None for p in parts) else np.concatenate(parts)
        if not results:
            return cls(np.zeros((0, n_output), dtype=int), 0.0, None, np.zeros((0, n_output)))
        return cls(joined("counts"), float(sum(r.hidden_spikes for r in results)),
                   joined("hidden_counts"), joined("potentials"))


def boundary_changes(config: TrainingConfig, dw_ltp, dw_ltd, w_out, dw_out, pre_activity,
                     eta_in: float, eta_out: float) -> tuple:
    """The weight changes of one sample-boundary step (:mod:`sbp_brian.network`, steps 1-5)
    in numpy, learning rates included: the rule's input change (its
    :meth:`~sbp_brian.rules.Rule.reference_change`; ``None`` when the input weights do not
    change) and the output change.  Flat arrays in synapse order."""
    c = config
    n_in, n_h, n_out = c.n_input, c.n_hidden, c.n_output
    dw_out = np.asarray(dw_out).reshape(n_h, n_out)
    change = rule_of(c).reference_change(
        c, np.asarray(dw_ltp).reshape(n_in, n_h), np.asarray(dw_ltd).reshape(n_in, n_h),
        np.asarray(w_out).reshape(n_h, n_out), dw_out, np.asarray(pre_activity))
    if change is not None:
        change = (eta_in * change).ravel()
    return change, (eta_out * dw_out).ravel()


def apply_changes(config: TrainingConfig, w_in, sign_in, w_out, change_in, change_out,
                  w_norm) -> tuple:
    """New ``(w_in, w_out)`` from changes (:func:`boundary_changes`, or their sum over a
    mini-batch): input weights under per-synapse Dale's law, optional synaptic scaling to
    ``w_norm`` (see :func:`input_norms`), output weights under Dale's law."""
    c = config
    n_in, n_h = c.n_input, c.n_hidden
    w_in = np.asarray(w_in)
    if change_in is not None:
        sign = np.asarray(sign_in).reshape(n_in, n_h)
        w_in = dale_clip(w_in.reshape(n_in, n_h), np.reshape(change_in, (n_in, n_h)), sign,
                         c.w_in_max)
        if c.normalise_input:
            excitatory = sign > 0
            sums = [np.where(excitatory, w_in, 0).sum(axis=0),
                    np.where(~excitatory, -w_in, 0).sum(axis=0)]
            scale = [w_norm[k] / np.where(sums[k] == 0, 1, sums[k]) for k in (0, 1)]
            w_in = w_in * np.where(excitatory, scale[0][None, :], scale[1][None, :])
        w_in = w_in.ravel()
    signs = hidden_signs(c)[:, None]
    w_out = np.asarray(w_out).reshape(c.n_hidden, c.n_output)
    change_out = np.reshape(change_out, w_out.shape)
    return w_in, dale_clip(w_out, change_out, signs, c.w_out_max).ravel()


def boundary_weights(config: TrainingConfig, w_in, sign_in, dw_ltp, dw_ltd, w_out, dw_out,
                     pre_activity, eta_in: float, eta_out: float, w_norm) -> tuple:
    """One per-sample boundary step: :func:`apply_changes` of :func:`boundary_changes`."""
    changes = boundary_changes(config, dw_ltp, dw_ltd, w_out, dw_out, pre_activity, eta_in,
                               eta_out)
    return apply_changes(config, w_in, sign_in, w_out, *changes, w_norm)


class _StateRunner:
    """What the trainer calls: :meth:`run_state` with the synaptic state as a dict (the SBP
    network's ``w_in``, ``w_out``, ``sign_in``, ``w_norm``; :meth:`TrainingConfig.initial_state
    <sbp_brian.network.TrainingConfig.initial_state>`)."""

    def run_state(self, x, y_onehot, state: dict, learn: bool, seed: int,
                  rate_scale: float = 1.0, homeo_mix: float = 1.0) -> tuple:
        w_in, w_out, result = self.run(x, y_onehot, state["w_in"], state["w_out"], learn=learn,
                                       seed=seed, rate_scale=rate_scale, w_norm=state["w_norm"],
                                       homeo_mix=homeo_mix, sign_in=state["sign_in"])
        return {**state, "w_in": w_in, "w_out": w_out}, result


class _CompiledRunner(_StateRunner):
    """The fast path: a standalone project compiled once and relaunched per chunk.

    ``target``: "cpp" (cpp_standalone) or "cuda" (brian2cuda's cuda_standalone;
    ``compile_only`` builds it without a GPU).  ``threads > 1`` uses OpenMP.  Both OpenMP and
    CUDA need the boundary step's reductions as summed variables (``reductions="summed"``,
    chosen automatically); one CPU thread uses the faster ``"accumulate"``.  ``copies > 1``
    simulates that many network copies side by side, each on its own sample (mini-batch SBP
    with a batch size that is a multiple of ``copies``; :mod:`sbp_brian.network`).
    ``cache``: seed the project with an earlier build of the same configuration on this
    machine, so that only what differs is compiled (cpp only; :mod:`sbp_brian.project_cache`;
    ``cache_hit`` says whether there was one); the benchmark switches it off to time
    compilation.
    """

    def __init__(self, config: TrainingConfig, build_dir: Path, input_schedule=None,
                 target: str = "cpp", threads: int = 1, reductions: str | None = None,
                 compile_only: bool = False, profile: bool = False,
                 record_hidden: bool = False, copies: int = 1, cache: bool = True):
        self.config = config
        self.copies = copies
        if reductions is None:
            reductions = "summed" if threads > 1 or target == "cuda" else "accumulate"
        if reductions == "accumulate" and (threads > 1 or target == "cuda"):
            raise TrainingError("the 'accumulate' reductions race under OpenMP and on a GPU; "
                                "use reductions='summed'")
        self.target = use_target(target, directory=build_dir, build_on_run=False,
                                 compile_only=compile_only)
        if self.target == "cpp":
            prefs.devices.cpp_standalone.openmp_threads = threads if threads > 1 else 0
        self.threads, self.reductions = threads, reductions
        # Brian2 names objects uniquely among the living: an earlier network's objects, dead
        # but not yet collected, would rename this one's code objects ("..._1"), so that its
        # project would not match its cached build
        gc.collect()
        # the rule's run values (SBP's p and f) are set by every launch (run_args), not
        # written into the project: one build serves them all, main.cpp included
        self.net = SBPNetwork(config, config.chunk, boundary="generated",
                              input_schedule=input_schedule, reductions=reductions,
                              record_hidden=record_hidden, copies=copies, run_values=False)
        self.net.input_hidden.w = 0.0
        self.net.input_hidden.sign_in = 1.0
        self.net.hidden_output.w = 0.0
        # the seed, the epoch count and the rule's run values (SBP's p and f) are not in the
        # generated code (run_args, loop)
        described = {k: v for k, v in config.describe().items() if k not in ("seed", "epochs")}
        described["rule"] = {k: v for k, v in described["rule"].items()
                             if k not in self.net.rule.launch_keys}
        self.cache_hit, self.compile_seconds = compile_project(
            self.net.network, self.net.duration(), self.target, build_dir, {
                "config": described, "threads": threads,
                "reductions": reductions, "compile_only": compile_only, "profile": profile,
                "record_hidden": record_hidden, "copies": copies,
                "input_schedule": project_cache.schedule_digest(input_schedule)}
            if cache else None, profile=profile)

    def run(self, x, y_onehot, w_in, w_out, learn: bool, seed: int, rate_scale: float = 1.0,
            w_norm=None, homeo_mix: float = 1.0, sign_in=None) -> tuple:
        c, copies = self.config, self.copies
        sign_in = input_signs(w_in) if sign_in is None else np.asarray(sign_in)
        n = len(x)
        stim = np.zeros((c.chunk + copies, c.n_input))
        stim[:n] = x
        labels = np.zeros((c.chunk + copies, c.n_output))
        if learn:
            labels[:n] = y_onehot
        # one row per sample period (and one after the last): the copies' samples side by side
        stim = stim.reshape(-1, copies * c.n_input)
        labels = labels.reshape(-1, copies * c.n_output)
        w_norm = input_norms(c, w_in) if w_norm is None else w_norm
        net = self.net
        homeo = {net.hidden.homeo_mix: homeo_mix} if _epoch_mix(c) else {}
        launch({**homeo, **net.rule.run_values(),
                net.stim: stim, net.labels: labels,
                net.input_hidden.w: np.tile(w_in, copies),
                net.input_hidden.sign_in: np.tile(sign_in, copies),
                net.hidden_output.w: np.tile(w_out, copies),
                net.input_hidden.eta_in: c.eta_in * rate_scale if learn else 0.0,
                net.hidden_output.eta_out: c.eta_out * rate_scale if learn else 0.0,
                net.hidden.wnorm_e: np.tile(w_norm[0], copies),
                net.hidden.wnorm_i: np.tile(w_norm[1], copies)}, seed)
        counts = net.sample_counts(n)
        hidden = float(np.sum(net.hidden.total[:]))
        hidden_counts = net.sample_counts(n, "hidden") if net.hidden_spikes is not None else None
        # every copy holds the same weights: copy 0's are the network's
        return (net.input_weights(),
                np.array(net.hidden_output.w[:c.n_hidden * c.n_output], copy=True),
                ChunkResult(counts, hidden, hidden_counts, net.sample_potentials(n)))


class _RuntimeRunner(_StateRunner):
    """The runtime reference: one ``run(T)`` per sample, the boundary step in numpy."""

    def __init__(self, config: TrainingConfig, target: str, input_schedule=None,
                 n_samples: int = 1):
        self.config = config
        self.target = use_target(target)
        self.net = SBPNetwork(config, n_samples, boundary="python", input_schedule=input_schedule)
        # the state every sample starts from, evaluated once in each group's namespace (a
        # string assigned per sample would compile a code object each time)
        self.sample_start = {
            name: {variable: eval(value, {**DEFAULT_UNITS, **getattr(self.net, name).namespace})
                   for variable, value in values.items()}
            for name, values in self.net.sample_start().items()}
        self.pending = None   # summed changes of the current mini-batch
        self.applied = None   # the changes applied at the last batch end

    def run(self, x, y_onehot, w_in, w_out, learn: bool, seed: int, rate_scale: float = 1.0,
            w_norm=None, homeo_mix: float = 1.0, sign_in=None) -> tuple:
        c, net = self.config, self.net
        brian_seed(seed)
        if _epoch_mix(c):
            net.hidden.homeo_mix = homeo_mix
        self.rate_scale = rate_scale
        self.w_norm = input_norms(c, w_in) if w_norm is None else w_norm
        net.input_hidden.w = w_in
        net.input_hidden.sign_in = input_signs(w_in) if sign_in is None else sign_in
        net.hidden_output.w = w_out
        counts = np.zeros((len(x), c.n_output), dtype=int)
        potentials = np.zeros((len(x), c.n_output))
        hidden_counts = np.zeros((len(x), c.n_hidden), dtype=int)
        hidden_before = float(np.sum(net.hidden.total[:]))
        self.pending = None
        for k in range(len(x)):
            self.boundary(learn, x[k], y_onehot[k] if learn else np.zeros(c.n_output),
                          batch_end=k % c.batch_size == 0)
            net.network.run(c.sample_duration, namespace={})
            counts[k] = np.asarray(net.output.count[:])
            potentials[k] = np.asarray(net.output.v_mean[:] / mV)
            hidden_counts[k] = np.asarray(net.hidden.count[:])
        # the chunk's end ends a mini-batch (as in the compiled path, whose chunks are padded
        # to a multiple of the batch with silent samples that change nothing)
        self.boundary(learn, np.zeros(c.n_input), np.zeros(c.n_output), batch_end=True)
        hidden = float(np.sum(net.hidden.total[:])) - hidden_before
        return (np.array(net.input_hidden.w[:], copy=True),
                np.array(net.hidden_output.w[:], copy=True),
                ChunkResult(counts, hidden, hidden_counts, potentials))

    def boundary(self, learn: bool, x_next, y_next, batch_end: bool = True) -> None:
        """The sample-boundary step of :mod:`sbp_brian.network` (steps 1-6), in numpy.  With
        mini-batch SBP the changes are summed in ``self.pending`` and applied at the batch's
        end."""
        c, net = self.config, self.net
        eta_in = c.eta_in * self.rate_scale if learn else 0.0
        eta_out = c.eta_out * self.rate_scale if learn else 0.0
        ih, ho = net.input_hidden, net.hidden_output
        dw_ltp, dw_ltd = net.stdp_changes()
        change_in, change_out = boundary_changes(
            c, dw_ltp, dw_ltd, np.asarray(ho.w[:]), np.asarray(ho.dw[:]),
            np.asarray(net.inputs.count[:]), eta_in, eta_out)
        if self.pending is not None:
            change_out = self.pending[1] + change_out
            if change_in is not None:
                change_in = self.pending[0] + change_in
        self.pending = (change_in, change_out)
        if batch_end:
            ih.w, ho.w = apply_changes(c, np.asarray(ih.w[:]), np.asarray(ih.sign_in[:]),
                                       np.asarray(ho.w[:]), change_in, change_out, self.w_norm)
            self.pending, self.applied = None, (change_in, change_out)
        for name in net.stdp_accumulators:
            setattr(ih, name, 0)
        ho.dw = 0
        for name, values in self.sample_start.items():
            group = getattr(net, name)
            for variable, value in values.items():
                setattr(group, variable, value)
        net.inputs.rate = np.asarray(x_next) * c.max_rate
        net.output.target = np.asarray(y_next)
        if c.homeostasis is not None:  # Eq. 8's target, V_L + V_in sum_i W_ij x_i
            w_in = np.asarray(ih.w[:]).reshape(c.n_input, c.n_hidden)
            net.hidden.v_ff = c.hidden["V_L"] + c.homeostasis["V_in"] * (np.asarray(x_next) @ w_in)


def _epoch_mix(config) -> bool:
    """Whether Eq. 9's mixing weight is the epochs reading, set per run (``homeo_mix``)."""
    homeostasis = getattr(config, "homeostasis", None)  # a layered network has none
    return homeostasis is not None and homeostasis["time_base"] == "epochs"


def homeo_mix(config: TrainingConfig, epoch: int, trained: bool) -> float:
    """Eq. 9's ``lambda = t_e/T_e`` (the "epochs" reading; 1 otherwise): ``epoch/T_e``
    while epoch ``epoch`` (from 0) trains, ``(epoch + 1)/T_e`` once it has ``trained`` (its
    evaluation)."""
    if not _epoch_mix(config):
        return 1.0
    return min(1.0, (epoch + trained) / config.epochs)


#: Advisory lock file of a run folder while it trains.
LOCK = ".training.lock"
#: Temporary folders (compiled projects; the benchmark's images) are named
#: ``sbp_brian_build_<host>_<pid>_<random>``.
BUILD_PREFIX = "sbp_brian_build_"
_BUILD_NAME = re.compile(rf"{BUILD_PREFIX}(?P<host>[^_]+)_(?P<pid>\d+)_")


def _host() -> str:
    return socket.gethostname().replace("_", "-") or "host"


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process: it exists
        return True
    return True


def remove_abandoned_builds(folder=None) -> list:
    """Remove the temporary folders of training and benchmark processes on this host that no
    longer exist (a killed run cannot remove its own; with a large dataset's inputs one holds
    about a gigabyte); returns the folders removed.  Folders of other hosts (a shared
    temporary directory) and of living processes are left alone."""
    folder = Path(folder or tempfile.gettempdir())
    removed = []
    for build in folder.glob(BUILD_PREFIX + "*"):
        name = _BUILD_NAME.match(build.name)
        if (name and build.is_dir() and name["host"] == _host()
                and int(name["pid"]) != os.getpid() and not _process_exists(int(name["pid"]))):
            shutil.rmtree(build, ignore_errors=True)
            removed.append(build)
    return removed


def new_build_folder() -> Path:
    """A temporary project folder of this process, after removing abandoned ones."""
    remove_abandoned_builds()
    return Path(tempfile.mkdtemp(prefix=f"{BUILD_PREFIX}{_host()}_{os.getpid()}_"))


def _lock_folder(folder: Path):
    """Hold an exclusive lock on ``folder`` (released when the returned handle closes), so that
    two processes never interleave checkpoints and metrics in one run folder."""
    import fcntl
    handle = open(Path(folder) / LOCK, "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise TrainingError(f"{folder} is being trained by another process; wait for it to "
                            "finish or choose another --out") from None
    return handle


def _without_epochs(meta: dict) -> dict:
    return {**meta, "config": {k: v for k, v in meta.get("config", {}).items()
                               if k != "epochs"}}


class Trainer:
    """Train and evaluate one configuration on one dataset, writing into ``out_dir``.

    Parameters
    ----------
    config : TrainingConfig or LayeredConfig
        The network kind: it gives the synaptic state a run starts from
        (``initial_state(rng)``, a dict of arrays, e.g. the SBP network's ``w_in``, ``w_out``,
        ``sign_in``, ``w_norm`` or a layered network's ``w_0`` .. ``w_L``), the runner that
        presents chunks of samples (``make_runner``), and the weight statistics of the
        metrics log (``state_summary``).  The trainer knows no rule or layer by name.
    data : Dataset
        ``x_test``/``y_test`` are what each epoch evaluates (a validation split while tuning).
    out_dir : path
        Receives ``metrics.jsonl``, ``checkpoint.npz`` and ``config.json``.
    device : {"cpp", "cuda", "numpy", "cython"}
        "cpp" and "cuda" are the compiled fast path ("cuda" falls back to cpp_standalone, with
        a warning, where no GPU is usable); "numpy"/"cython" the runtime reference.
    threads : int
        OpenMP threads of the cpp fast path (> 1 switches to the summed-variable reductions).
    copies : int
        Network copies of the fast path, each simulating its own sample (for GPUs): mini-batch
        SBP, so ``config.batch_size`` must be a multiple (:mod:`sbp_brian.network`).  The rule
        is the batch size's; the copies change only which random input spikes are drawn.
    resume : bool
        Continue from ``out_dir/checkpoint.npz``; without it an existing checkpoint is an
        error (never overwritten).  The configuration must be the checkpoint's, except that
        ``epochs`` may be larger: a finished run is then trained further, exactly as if it
        had been started with that many epochs.
    """

    def __init__(self, config, data: Dataset, out_dir, device: str = "cpp",
                 resume: bool = False, progress: bool = True, build_dir=None, runner=None,
                 threads: int = 1, record_hidden: bool = False, copies: int = 1):
        self.config, self.data = config, data
        self.out_dir = Path(out_dir)
        self.device = canonical_target(device)
        if threads < 1 or (threads > 1 and self.device != "cpp"):
            raise TrainingError(f"--threads {threads}: OpenMP threads need --device cpp and "
                                "a count >= 1")
        config.check_copies(copies)
        if copies > 1 and self.device not in ("cpp", "cuda"):
            raise TrainingError(f"--copies {copies}: network copies need the compiled path "
                                "(--device cpp or cuda)")
        self.threads, self.copies = threads, copies
        self.record_hidden = record_hidden  # per-sample hidden counts (compiled path)
        frames = getattr(config, "frames", 1)  # a network shown each sample's frames in turn
        if data.n_inputs != config.n_input * frames:
            per = f" x {frames} frames" if frames > 1 else ""
            raise TrainingError(f"dataset has {data.n_inputs} inputs, network "
                                f"{config.n_input}{per}")
        self.progress = progress
        #: where each epoch's summary line goes (None: nowhere)
        self.log = functools.partial(print, flush=True) if progress else None
        self.out_dir.mkdir(parents=True, exist_ok=True)
        checkpoint = self.out_dir / CHECKPOINT
        self.state = {"epoch": 0, "chunk": 0, "correct": 0, "seen": 0}
        self.meta = {"config": config.describe(), "dataset": data.name,
                     "device": self.device}
        if checkpoint.exists() and not resume:
            raise TrainingError(f"{checkpoint} exists: pass --resume to continue that run, or "
                                "choose another --out (the checkpoint is left untouched)")
        if resume:
            self._load_checkpoint(checkpoint)
        else:
            #: the synaptic state (weights and the synapses' fixed data), by name
            self.weights = config.initial_state(np.random.default_rng(config.seed))
            (self.out_dir / "config.json").write_text(json.dumps(self.meta, indent=2) + "\n")
        self._build_dir = build_dir
        self._runner = runner  # a compiled project may be shared by runs that differ in seed
        self._owns_runner = runner is None  # built here: released by close()
        self._temporary_build = None  # a project folder of our own, removed by close()

    # -- setup ---------------------------------------------------------------------------
    def runner(self):
        if self._runner is None:
            build = None
            if self.device in ("cpp", "cuda"):
                if self._build_dir:
                    build = Path(self._build_dir)
                else:
                    build = self._temporary_build = new_build_folder()
            self._runner = self.config.make_runner(self.device, build, threads=self.threads,
                                                   copies=self.copies,
                                                   record_hidden=self.record_hidden)
        return self._runner

    def _load_checkpoint(self, path: Path) -> None:
        if not path.exists():
            raise TrainingError(f"--resume: no checkpoint at {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                version = int(data["format"]) if "format" in data.files else 1
                self.state = json.loads(str(data["state"]))
                weights = {key: data[key].copy() for key in data.files
                           if key not in ("meta", "state", "format")}
        except (*NPZ_READ_ERRORS, KeyError, ValueError) as err:
            raise TrainingError(f"{path}: unreadable checkpoint ({err})") from None
        if version > CHECKPOINT_FORMAT:
            raise TrainingError(f"{path} has checkpoint format {version}, newer than this "
                                f"version of sbp-brian reads ({CHECKPOINT_FORMAT}); upgrade")
        if hasattr(self.config, "upgrade_checkpoint"):  # what earlier versions wrote
            self.config.upgrade_checkpoint(meta, weights)
        expected = set(self.config.initial_state(np.random.default_rng(0)))
        if set(weights) != expected:
            raise TrainingError(f"{path} holds {sorted(weights)}, this network needs "
                                f"{sorted(expected)}; resume with the options it was written "
                                "with")
        self.weights = weights
        mine = json.loads(json.dumps(self.meta))
        if _without_epochs(meta) != _without_epochs(mine):
            raise TrainingError(f"{path} was written by a different configuration, dataset or "
                                "device; resume with the same options")
        if meta["config"]["epochs"] != self.config.epochs and _epoch_mix(self.config):
            raise TrainingError(
                f"{path}: homeostasis with time_base 'epochs' mixes by the fraction of all "
                f"epochs (Eq. 9, t_e/T_e), so this run ({meta['config']['epochs']} epochs) cannot "
                "be extended or shortened; resume with the same --epochs")
        self._logged_records()  # a damaged metrics log is named now, not after an epoch
        started = self.state["epoch"] + (self.state["chunk"] > 0)  # epochs trained, partly
        if started > self.config.epochs:
            raise TrainingError(f"{path} has trained {started} epochs: --epochs "
                                f"{self.config.epochs} would shorten it (pass a larger number "
                                "to train further)")
        # A run may be extended (more epochs): nothing in an epoch depends on the total
        # count (shuffles, spikes and learning rates depend on the epoch index), so the
        # extended run is the run that was asked for that many epochs from the start.
        if meta["config"]["epochs"] != self.config.epochs:
            (self.out_dir / "config.json").write_text(json.dumps(self.meta, indent=2) + "\n")

    def save_checkpoint(self) -> Path:
        """Write weights and position atomically (temporary file, then rename)."""
        path = self.out_dir / CHECKPOINT
        handle, tmp = tempfile.mkstemp(dir=self.out_dir, prefix=".checkpoint", suffix=".npz")
        os.close(handle)
        try:
            np.savez(tmp, **self.weights, format=CHECKPOINT_FORMAT,
                     state=json.dumps(self.state), meta=json.dumps(self.meta))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    # -- running -------------------------------------------------------------------------
    def _chunks(self, n: int):
        size = self.config.chunk
        return [(start, min(start + size, n)) for start in range(0, n, size)]

    @property
    def last_evaluated_epoch(self) -> int:
        """Index of the last completed epoch (0 before any): its evaluation's random stream
        gave the metrics log's last test accuracy, so evaluating the checkpoint with it
        reproduces that number."""
        return max(0, self.state["epoch"] - 1)

    def evaluate(self, x=None, y=None, epoch: int = 0) -> tuple[float, ChunkResult]:
        """Accuracy (:func:`predict`) and responses on ``x, y`` (default: the dataset's test
        part)."""
        x = self.data.x_test if x is None else x
        y = self.data.y_test if y is None else y
        result = self.responses(x, epoch=epoch)
        return result.accuracy(y, self.data.codes), result

    def responses(self, x, epoch: int = 0, phase: int = 1,
                  mix_epoch: int | None = None) -> ChunkResult:
        """The network's responses to the samples ``x`` with learning off (hidden counts only
        when the trainer records them), as evaluated after epoch ``epoch`` (from 0).
        ``phase`` selects the random stream (1: evaluation; see :func:`chunk_seed`).  In the
        "epochs" reading of homeostasis, Eq. 9's ``lambda`` is the one after epoch
        ``mix_epoch`` (default ``epoch``; :func:`homeo_mix`).  Ctrl-C raises at once, as in
        :meth:`fit`, rather than truncating a sample's response."""
        runner = self.runner()
        results = []
        mix = homeo_mix(self.config, epoch if mix_epoch is None else mix_epoch, trained=True)
        with interrupts_stop_at_once():
            for index, (a, b) in enumerate(self._chunks(len(x))):
                state, result = runner.run_state(
                    x[a:b], np.zeros((b - a, self.config.n_output)), self.weights, learn=False,
                    seed=chunk_seed(self.config.seed, epoch, index, phase), homeo_mix=mix)
                if getattr(self.config, "evaluation_carries_state", False):
                    # a network kind whose evaluation has state of its own (the RBM's
                    # particles of the evaluated samples, as its code keeps them)
                    self.weights = state
                results.append(result)
        return ChunkResult.concatenate(results, self.config.n_output)

    def fit(self, epochs: int | None = None, stop_after_chunks: int | None = None) -> list:
        """Train for ``epochs`` (default: the config's); returns the epochs' metrics records.

        ``stop_after_chunks`` stops early after that many chunks (to test resuming).  The run
        folder is locked meanwhile: a second process training into it is refused.  Ctrl-C
        stops at once with :class:`KeyboardInterrupt` (:func:`interrupts_stop_at_once`); the
        last checkpoint is kept and ``resume=True`` continues from it.
        """
        lock = _lock_folder(self.out_dir)
        try:
            with interrupts_stop_at_once():
                return self._fit(epochs, stop_after_chunks)
        finally:
            lock.close()

    def _fit(self, epochs: int | None, stop_after_chunks: int | None) -> list:
        from tqdm import tqdm

        c = self.config
        epochs = epochs or c.epochs
        records, chunks_done = [], 0
        n = len(self.data.y_train)
        while self.state["epoch"] < epochs:
            runner = self.runner()
            epoch = self.state["epoch"]
            # a network kind may keep the stored order (the released SBP code's)
            order = (np.random.default_rng([c.seed, epoch]).permutation(n)
                     if getattr(c, "shuffle", True) else np.arange(n))
            chunks = self._chunks(n)
            bar = tqdm(total=n, initial=chunks[self.state["chunk"]][0] if self.state["chunk"] <
                       len(chunks) else n, unit="sample", desc=f"epoch {epoch + 1}/{epochs}",
                       disable=not self.progress, dynamic_ncols=True)
            start = time.perf_counter()
            hidden_spikes = self.state.get("hidden_spikes", 0.0)
            resumed_after = self.state["seen"]  # samples of this epoch trained before a resume
            while self.state["chunk"] < len(chunks):
                a, b = chunks[self.state["chunk"]]
                idx = order[a:b]
                t0 = time.perf_counter()
                weights, result = runner.run_state(
                    self.data.x_train[idx], self.data.teaching(self.data.y_train[idx]),
                    self.weights, learn=True, seed=chunk_seed(c.seed, epoch, self.state["chunk"], 0),
                    rate_scale=1.0 / (1.0 + c.lr_decay * epoch),
                    homeo_mix=homeo_mix(c, epoch, trained=False))
                if not all(np.all(np.isfinite(w)) for w in weights.values()):
                    bar.close()
                    raise TrainingError(
                        f"epoch {epoch + 1}, chunk {self.state['chunk'] + 1}: the simulation "
                        "returned non-finite weights; nothing was saved (the checkpoint holds "
                        "the last good state)")
                self.weights = weights
                self.state["correct"] += float(np.sum(result.scores(self.data.y_train[idx],
                                                                    self.data.codes)))
                self.state["seen"] += b - a
                hidden_spikes += result.hidden_spikes
                self.state["hidden_spikes"] = hidden_spikes
                self.state["chunk"] += 1
                self.save_checkpoint()
                bar.update(b - a)
                bar.set_postfix(samples_per_s=f"{(b - a) / (time.perf_counter() - t0):.0f}",
                                train_acc=f"{self.state['correct'] / self.state['seen']:.3f}")
                chunks_done += 1
                if stop_after_chunks is not None and chunks_done >= stop_after_chunks:
                    bar.close()
                    return records
            bar.close()
            train_seconds = time.perf_counter() - start
            record = self._logged_record(epoch + 1)
            if record is None:
                record = self._evaluated_record(epoch, train_seconds, start, hidden_spikes,
                                                resumed_after)
                with open(self.out_dir / METRICS, "a") as handle:
                    handle.write(json.dumps(record) + "\n")
            records.append(record)
            if self.log is not None:
                self.log(f"epoch {epoch + 1}: train {record['train_accuracy']:.3f}, "
                         f"{record['evaluated_on']} {record['test_accuracy']:.3f}, "
                         f"{record['samples_per_second']} samples/s")
            self.state = {"epoch": epoch + 1, "chunk": 0, "correct": 0, "seen": 0}
            self.save_checkpoint()
        return records

    def _logged_records(self) -> list[dict]:
        """The metrics log's records so far."""
        return read_metrics(self.out_dir) if (self.out_dir / METRICS).exists() else []

    def _logged_record(self, epoch: int) -> dict | None:
        """The metrics log's record of ``epoch`` (from 1) if it is the last one: a process
        stopped between logging an epoch and checkpointing its end, and the resumed run must
        not log it twice (its evaluation would repeat the record, timings aside)."""
        records = self._logged_records()
        return records[-1] if records and records[-1].get("epoch") == epoch else None

    def _evaluated_record(self, epoch: int, train_seconds: float, start: float,
                          hidden_spikes: float, resumed_after: int) -> dict:
        """Evaluate after epoch ``epoch`` (from 0) and make its metrics record."""
        c = self.config
        test_acc, test = self.evaluate(epoch=epoch)
        codes = self.data.codes
        record = {
            "epoch": epoch + 1,
            "train_accuracy": self.state["correct"] / max(1, self.state["seen"]),
            "test_accuracy": test_acc,
            # the count-only readout (ties wrong) and how often counts alone do not decide;
            # with codes the cosine reads counts only, and only a silent output is undecided
            "test_accuracy_counts_only": test.accuracy_counts_only(self.data.y_test)
            if codes is None else test_acc,
            "test_undecided_by_counts": test.undecided_by_counts() if codes is None
            else float(np.mean(~test.counts.any(axis=1))),
            **({} if codes is None else {"test_accuracy_nearest_code": float(np.mean(
                nearest_codes(test.counts, codes) == self.data.y_test))}),
            "evaluated_on": "validation" if "validation" in self.data.name else "test",
            "hidden_spikes_per_neuron_per_sample": hidden_spikes / max(1, self.state["seen"])
            / c.n_hidden,
            **c.state_summary(self.weights),
            "train_seconds": round(train_seconds, 2),
            "samples_per_second": round((self.state["seen"] - resumed_after)
                                        / max(train_seconds, 1e-9), 1),
            "seconds": round(time.perf_counter() - start, 2),
        }
        if resumed_after:  # the times above cover only the part trained after the resume
            record["resumed_after_samples"] = resumed_after
        return record

    def close(self) -> None:
        """Return Brian2 to runtime mode, release the network this trainer built and remove
        its temporary compiled project, if any.

        Releasing matters within one process: Brian2 names objects uniquely among the living,
        so a closed trainer that still held its network would make the next network's clocks
        and code objects ``..._1``, a different project from the one this configuration
        compiled before (the project cache's build would be compiled again, in full).  A
        runner passed in by the caller stays the caller's."""
        reset_target()
        if self._owns_runner:
            self._runner = None
        if self._temporary_build is not None:
            shutil.rmtree(self._temporary_build, ignore_errors=True)
            self._temporary_build = None
