"""The SBP training network (Zhang et al. 2021 as the paper describes it), in Brian2.

Layers (sizes, parameters and provenance from a model file)::

    input i  (Bernoulli spikes, Eq. 2, with Tsodyks-Markram STP state, Eq. 4)
      -> hidden j (conductance LIF, Eq. 5; half excitatory, half inhibitory)
      -> output k (conductance LIF; teaching spike trains during training, Eqs. 10-11)

Plasticity over each sample of duration T, accumulated without being applied:

* input -> hidden: pair STDP (Eq. 12), LTP part ``dw_ltp`` and LTD part ``dw_ltd`` ("paper"
  mode weighs them apart), or only their sum ``dw_stdp`` (the other modes);
* hidden -> output: the error-driven teaching rule ``STDP(pre, teacher) - STDP(pre, actual)``
  (the spiking analogue of Eqs. 10-11; docs/science.md):
  a presynaptic spike changes ``dw`` by ``-A- (a_teach - a_post)``, an actual output spike by
  ``-A+ a_pre`` and a teacher spike by ``+A+ a_pre``, so learning stops when the output's
  spike train matches the teacher's.

At each sample boundary (t = kT) the nonlocal step runs as generated code
(``run_regularly(dt=T, when='start')`` in a fixed order), so a compiled project simulates a
chunk of samples with no Python in between:

1. per hidden neuron ``S+_j = sum_k max(dw_jk, 0)``, ``S-_j = sum_k min(dw_jk, 0)`` and
   ``Sw_j = sum_k w_jk dw_jk`` (``+=`` from the output synapses);
2. totals over hidden neurons (reduced into a one-neuron group, read by every hidden neuron
   through a linked variable) for ``n(x) = x / sum(x)``;
3. for the spread modes, the inputs' activity threshold that selects the fraction p of most
   active input synapses (ties at the threshold included);
4. the input-weight update (the configuration's ``rule``: SBP in its mode, "paper",
   "spread" or "weighted", local STDP only, or none for the frozen control; see
   :mod:`sbp_brian.rules`): each input synapse keeps the sign it was
   initialised with for the whole run (:func:`initial_input_signs`: by synapse, or by input
   neuron under Dale's law with ``[training] input_signs = "neuron"``), ``|w| <= w_in_max``;
   skipped when the hidden layer is frozen;
5. the output-weight update under Dale's law, ``|w| <= w_out_max``;
6. reset of membrane potentials, conductances, refractoriness, traces, STP state, spike
   counts, and loading of the next sample's input rates and teacher target;
7. with homeostasis, the next sample's homeostatic target ``v_ff`` (below).

Homeostatic membrane adjustment (SBP Eqs. 6-9; a model file's ``[neurons.hidden.homeostasis]``,
off in the bundled models): the hidden membrane follows
:func:`~sbp_brian.equations.with_homeostasis`,

    dV_j/dt = lambda LIF(V_j) + (1 - lambda) (v_ff_j + V_Tr - V_j)/tau_homeo,

Eq. 8's relaxation toward the minimum of the energy of Eq. 6 blended with the conductance LIF
(Eq. 5) by Eq. 9.  Potentials in Eqs. 6-8 are read from rest (the released code's V_L = 0), so
the target is ``v_ff_j + V_Tr = V_L + V_Tr + sum_i W_ij V_i``.  The paper gives no membrane
potential ``V_i`` for Bernoulli input sources; here ``V_i = V_in x_i``, with ``x_i`` the pixel
intensity that sets input i's rate and ``V_in`` a model parameter (the potential that stands
for a fully active input; our reading, not the paper's).  Input weights change only at
boundaries, so ``v_ff`` is computed once per sample, after the weight update (a reduction over
the input synapses, step 7).  Eq. 9's ``lambda`` has two readings:

* ``time_base = "sample"`` (default, as the authors' released code does):
  ``lambda = s/T``, the fraction of the current sample that has elapsed -- Eq. 8 holds the
  membrane near its target early in each sample, the LIF takes over toward its end;
* ``time_base = "epochs"`` (the paper's printed ``t_e/T_e``): a shared ``homeo_mix`` set per run
  by the training loop, ``e/E`` while epoch ``e`` (from 0) of ``E`` trains and ``(e + 1)/E`` in
  its evaluation, so the first epoch trains with no LIF dynamics at all; such a run cannot be
  extended to more epochs.

``tau_homeo = dt/e`` gives Eq. 8's discrete step with rate ``e`` to first order (the membrane is
integrated with rk2).  The dense numpy implementation (:mod:`sbp_brian.dense`) has no
homeostasis.

Readout: the output neurons' spike counts per sample, and their mean depolarisation over the
sample, ``v_mean = (1/T) int (v - V_L) dt`` (an extra state variable integrated with the
membrane, recorded at each boundary before the reset), which breaks ties between equal counts
(:func:`sbp_brian.train.predict`).

Mini-batch SBP (``batch_size = B > 1``, an option; the paper's rule is per sample, B = 1):
every boundary computes its changes as above but adds them to ``dw_batch`` with the weights
frozen; every B-th boundary (counted from the run's start, so B divides the chunk) applies
the sum, clipped once, and synaptic scaling (step 4b) runs only there.  This is the rule that
B copies of the network simulated in parallel compute (below; the authors' released code
trains in batches of 50), with summed rather than averaged changes so that the per-sample
learning rates keep their meaning (their mean is ``eta/B``).

Network copies (``copies = C > 1``, compiled path only; for GPUs, which one 784-500-10 network
cannot fill): C copies of every layer are simulated side by side in the same groups (copy
``c`` is neurons ``c n .. (c + 1) n - 1`` of each layer, synapses only within a copy, copy
``c``'s synapses the ``c``-th block of each synapse array), each on its own sample, so that a
time step advances C samples.  Every copy computes its boundary step on its own (its own
totals, thresholds and gains) into its own ``dw_batch``; the copies share one weight per
synapse, held identical in every copy: at each boundary the changes are summed over the copies
into a group with one element per weight (``dw_total``, a reduction by synapses from that
group onto the synapses, summed variables on a GPU), and at a mini-batch's end every copy
applies ``w = clip(w + dw_total)``, which each copy reads through a linked variable.  This is
exactly mini-batch SBP with ``batch_size`` a multiple of C (C samples per boundary, ``batch_size
/ C`` boundaries per batch): the same rule as one network that simulates the batch's samples
one after another, tested on identical input spikes.

Reductions (sums over synapses into neurons) come in two variants, ``reductions=``:

* ``"accumulate"`` (default on one CPU thread): ``+=`` from synaptic ``run_regularly``
  code, work only at the boundary -- the fastest on one thread, but these loops race under
  OpenMP threads and on a GPU (brian2cuda writes a plain read-modify-write);
* ``"summed"`` (OpenMP, brian2cuda): Brian2 ``(summed)`` variables, which are computed
  with atomics on the GPU and per target under OpenMP.  Brian2 schedules a summed-variable
  updater every time step on its target's clock; the sums are needed only at sample
  boundaries, so their updaters are moved onto the boundary step's clock (``dt = T``,
  ``when="start"``, in the step's order), which keeps the cost the same as ``"accumulate"``.
  This rebinds the updaters' private ``_clock`` attribute (Brian 2.10; checked by the
  tests, which compare the two variants on identical spikes).

Exactness notes: the Bernoulli input process (a spike in a step with probability
``rate*dt``, Eq. 2) is drawn as geometric gaps between spikes
(:data:`sbp_brian.encoding.GEOMETRIC_STEPS`), the same process with one random number per
spike.  STP state ``u, x`` lives in the input group
(one copy per presynaptic neuron), which is exact because the STP parameters are the same
for all synapses of an input and the state depends only on its spike train; the transmitted
efficacy ``eff = (u + U (1 - u)) x`` is computed from the state before the spike's own update,
once per spike before synaptic propagation.  STDP traces live in the neurons (exact for pair
STDP).  Pairs of spikes in the same time step are not counted (a spike cannot cause another
in the same step).

The input synapses' LTP is accumulated at *presynaptic* spikes, so that a hidden spike touches
none of its 784 input synapses (the largest cost of the fast path otherwise).  With ``s`` the
time since the sample started, the pair-STDP LTP of synapse ``ij`` over a sample is

    A+ sum_{s_i < s_j} exp(-(s_j - s_i)/tau+)
      = P_i E_j(end) - sum_{s_i} exp(s_i/tau+) E_j(s_i),

with ``P_i = sum_{s_i} exp(s_i/tau+)`` (input variable ``ltp_p``) and ``E_j(s) = A+ sum_{s_j
<= s} exp(-s_j/tau+)`` (hidden variable ``ltp_e``).  Each input spike subtracts its term from
``ltp_partial`` (``E_j`` counts a hidden spike before the synaptic propagation of its step,
so that a pair in one step is not counted); the synaptic subexpression
``dw_ltp = ltp_partial + ltp_p_pre*ltp_e_post`` is the sum above, the same as the trace form
``dw_ltp += apre_pre`` on postsynaptic spikes up to rounding.  The cancellation involves
terms up to ``exp(T/tau+)``, hence :data:`MAX_T_OVER_TAU_PLUS`.  (The modes that use only
LTP + LTD accumulate both into one variable, ``stdp_partial``, with ``dw_stdp`` its sum.)

Synaptic scaling (step 4b) multiplies all of a hidden neuron's excitatory input weights by one
factor and all its inhibitory ones by another.  The compiled path keeps the factors as the
neuron's conductance gains (``gain_E g_E``, ``gain_I g_I`` in its membrane equation,
:func:`~sbp_brian.equations.conductance_lif`) instead of rescaling the 392000 weights of the
784-500-10 network at every boundary, and the next update pass, which visits every synapse
anyway, multiplies them into the weights.  This is exact up to rounding: the conductances
restart from 0 at every boundary, so within a sample ``gain_E g_E`` is the conductance the
scaled weights would give.  :meth:`SBPNetwork.input_weights` gives the weights in effect.

These inline forms of STP, transmission and pair STDP are pinned to their factories in
:mod:`sbp_brian.equations` (``tm_stp``, ``conductance_transmission``, ``pair_stdp``) by a test
on the same spike trains (conductances and STDP changes equal; same-step pairs apart).

The runtime reference (:class:`sbp_brian.train._RuntimeRunner`) builds the same network with
``boundary="python"``: the boundary step is then done by the rule's numpy reference
between ``run(T)`` calls.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from brian2 import (Hz, Network, NeuronGroup, SpikeMonitor, StateMonitor, Synapses,
                    TimedArray, linked_var, mV, nS, second)

from .encoding import spike_process
from .equations import (HOMEOSTASIS_PARAMS, HOMEOSTASIS_TIME_BASES, conductance_lif,
                        with_homeostasis)
from .model_files import ModelFile, ModelFileError
from .parameters import ParameterError, describe_fields, validate_params
from .rules import RULES, rule_of
from .sections import INPUT_SIGN_CHOICES, TEACHER_MODES
from .steps import GeneratedStep, connect_within_copies, sample_counts, summed_lines
from .targets import network_clock

__all__ = ["TrainingConfig", "SBPNetwork", "TEACHER_MODES", "INPUT_SIGN_CHOICES",
           "initial_weights", "hidden_signs", "input_signs", "initial_input_signs",
           "check_copies", "connect_within_copies"]

REDUCTIONS = ("accumulate", "summed")

#: The phases of the sample-boundary step, in the order they run (module docstring, steps
#: 1-7): each Brian2 object of the step runs in one phase (``order=phase(name)``, all at
#: ``when="start"`` on the step's clock).  Objects of one phase touch disjoint variables
#: (tested), so their order within a phase does not matter.
BOUNDARY_PHASES = (
    "sum_output_changes",     # 1: per-hidden-neuron sums of the output change
    "sum_hidden_totals",      # 2: their totals over the hidden layer
    "gains",                  # 2: SBP gains (paper) and signals (spread modes)
    "count_input_levels",     # 3: spread modes: inputs at or above each activity level
    "pick_level",             # 3: the level that selects the fraction p of inputs
    "coactive",               # 3: the inputs at or above it
    "sum_input_activity",     # 3: their total activity
    "shares",                 # 3: each input's share of it
    "update_input_weights",   # 4: the input-weight update
    "update_output_weights",  # 5: the output-weight update
    "reset",                  # 6: resets, the next sample's input and target; copies' sums
    "apply_shared_changes",   # network copies: the summed changes applied to every copy
    "sum_after_update",       # copies' totals cleared; synaptic scaling's sums (summed)
    "scale_input_weights",    # 4b: synaptic scaling factors
    "sum_homeostatic_drive",  # 7: the homeostatic drive of the next sample
    "homeostatic_target",     # 7: its target (Eq. 8)
)


def phase(name: str) -> int:
    """The ``order`` of a boundary-step object in phase ``name``."""
    return BOUNDARY_PHASES.index(name)


#: Time since the start of the current sample (samples start at multiples of T).
SAMPLE_TIME = "((timestep(t, sim_dt) % sample_steps)*sim_dt)"

#: 1 at the boundary that ends a mini-batch (every ``batch_size`` samples from the run's start;
#: with network copies a boundary ends ``copies`` samples at once)
BATCH_END = "int(timestep(t, sim_dt) % (sample_steps*boundaries_per_batch) == 0)"

#: The LTP accumulation of the input synapses (module docstring) cancels terms as large as
#: exp(T/tau+) in double precision; longer samples are refused (relative error < 1e-6 here).
MAX_T_OVER_TAU_PLUS = 20


@dataclass
class TrainingConfig:
    """Everything that defines a training network, read from a model file plus options."""

    n_input: int
    n_hidden: int
    n_output: int
    n_inhibitory: int
    dt: Any
    sample_duration: Any
    max_rate: Any
    teacher_rate: Any
    teacher_mode: str
    hidden: dict
    output: dict
    #: Tsodyks-Markram STP of the input synapses (``U``, ``tau_f``, ``tau_d``); ``None``: no
    #: STP (a model file without ``[synapses.input_hidden.stp]``), every spike's efficacy 1
    stp: dict | None
    g_in: Any
    g_out: Any
    stdp_in: dict
    stdp_out: dict
    #: the rule of the input synapses (:mod:`sbp_brian.rules`), as its description:
    #: ``{"rule": "sbp", "mode": ..., "p": ..., "f": ...}``, ``{"rule": "local_stdp"}`` (without
    #: SBP) or ``{"rule": "frozen"}`` (the control); completed with the rule's defaults
    rule: dict = field(default_factory=lambda: {"rule": "sbp"})
    eta_in: float = 1.0
    eta_out: float = 1.0
    w_in_init: float = 0.5
    w_in_spread: float = 0.5
    w_out_init: float = 0.5
    w_in_max: float = 2.0
    w_out_max: float = 2.0
    epochs: int = 10
    chunk: int = 250
    lr_decay: float = 0.0
    batch_size: int = 1
    normalise_input: bool = False
    #: "synapse" (each input synapse's sign from its initial weight) or "neuron" (Dale's law
    #: for inputs: a fraction ``input_inhibitory_fraction`` of input neurons is inhibitory)
    input_signs: str = "synapse"
    input_inhibitory_fraction: float = 0.5
    #: homeostatic membrane adjustment of the hidden layer (SBP Eqs. 6-9): ``tau_homeo``,
    #: ``V_Tr``, ``V_in`` and ``time_base`` ("sample" or "epochs"); None = off
    homeostasis: dict | None = None
    seed: int = 0
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_model(cls, model: ModelFile, n_input: int, n_output: int, **overrides):
        """Build from a model file; ``n_input``/``n_output`` come from the dataset.

        A ``[neurons.hidden.homeostasis]`` section switches on homeostatic membrane
        adjustment (SBP Eqs. 6-9, :mod:`sbp_brian.network`); its ``time_base`` option is
        "sample" unless the file says "epochs".
        """
        if set(model.homeostasis) - {"hidden"}:
            populations = ", ".join(f"[neurons.{p}.homeostasis]" for p in model.homeostasis
                                    if p != "hidden")
            raise ModelFileError(
                f"{model.path}: {populations}: the paper adjusts the hidden layer's membranes "
                "only (Eqs. 6-9); the training network supports [neurons.hidden.homeostasis]")
        rule = model.options.get("rule", {}).get("name", "sbp")
        if RULES[rule].network != "sbp":
            raise ModelFileError(f"{model.path}: [rule] name = \"{rule}\" trains a "
                                 f"{RULES[rule].network} network, not the SBP network")
        _refuse_what_the_network_does_not_do(model)
        if rule != "sbp" and "sbp" in model.sections:
            raise ModelFileError(f"{model.path}: [sbp] is read by [rule] name = \"sbp\" "
                                 f"only; remove it for the rule \"{rule}\"")
        sizes, sim, training = model["sizes"], model["simulation"], model.sections.get(
            "training", {})
        if isinstance(sizes["hidden"], list):
            raise ModelFileError(f"{model.path}: [sizes] hidden = {sizes['hidden']}: the SBP "
                                 "network has one hidden layer; give one number")
        teacher = model.sections.get("teacher", {"rate": 200 * Hz})
        hidden_stdp = model.synapses["input_hidden"]["stdp"].params
        output_stdp = model.synapses["hidden_output"]["stdp"].params
        values = dict(
            n_input=n_input, n_hidden=sizes["hidden"], n_output=n_output,
            n_inhibitory=int(round(sizes["inhibitory_fraction"] * sizes["hidden"])),
            dt=sim["dt"], sample_duration=sim["sample_duration"],
            max_rate=model["input"]["max_rate"], teacher_rate=teacher["rate"],
            teacher_mode=model.options.get("teacher", {}).get("mode", "regular"),
            hidden=dict(model.neurons["hidden"].params), output=dict(model.neurons["output"].params),
            stp=(dict(model.synapses["input_hidden"]["stp"].params)
                 if "stp" in model.synapses["input_hidden"] else None),
            g_in=model.synapses["input_hidden"]["transmission"].params["g_w"],
            g_out=model.synapses["hidden_output"]["transmission"].params["g_w"],
            stdp_in={k: hidden_stdp[k] for k in ("A_plus", "A_minus", "tau_plus", "tau_minus")},
            stdp_out={k: output_stdp[k] for k in ("A_plus", "A_minus", "tau_plus", "tau_minus")},
            rule=RULES[rule].from_model(model).describe(), seed=sim["seed"],
            **{k: training[k] for k in ("epochs", "eta_in", "eta_out", "w_in_init", "w_in_spread",
                                        "w_out_init", "w_in_max", "w_out_max", "chunk",
                                        "lr_decay", "batch_size") if k in training})
        training_options = model.options.get("training", {})
        values["normalise_input"] = training_options.get("normalise_input", False)
        values["input_signs"] = training_options.get("input_signs", "synapse")
        if "input_inhibitory_fraction" in training:
            if "training.input_inhibitory_fraction" in model.sources \
                    and values["input_signs"] != "neuron":
                raise ModelFileError(f"{model.path}: [training] input_inhibitory_fraction is "
                                     "used with input_signs = \"neuron\" only; set that or "
                                     "remove the key")
            values["input_inhibitory_fraction"] = training["input_inhibitory_fraction"]
        if "hidden" in model.homeostasis:
            homeo = model.homeostasis["hidden"]
            values["homeostasis"] = {**homeo.params,
                                     "time_base": homeo.options.get("time_base", "sample")}
        # the input weights are set for the model's own input count; other datasets get them
        # scaled by the fan-in ratio so that the hidden layer's drive stays comparable
        fan_in = sizes["input"] / n_input
        if fan_in != 1:
            for key in ("w_in_init", "w_in_spread", "w_in_max"):
                values[key] = values.get(key, getattr(cls, key)) * fan_in
        values.update(overrides)
        batch, chunk = values.get("batch_size", 1), values.get("chunk", cls.chunk)
        if "chunk" not in overrides and _whole_at_least(batch) and chunk % batch:
            # mini-batches restart at every chunk: round the model's chunk up to whole batches
            values["chunk"] = -(-chunk // batch) * batch
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        self.rule = rule_of(self).describe()  # checked, and completed with the defaults
        if self.input_signs not in INPUT_SIGN_CHOICES:
            raise ValueError(f"unknown input_signs {self.input_signs!r}; expected one of "
                             f"{INPUT_SIGN_CHOICES}")
        if not 0 <= self.input_inhibitory_fraction <= 1:
            raise ParameterError("input_inhibitory_fraction must be in [0, 1], got "
                                 f"{self.input_inhibitory_fraction!r}")
        if self.teacher_mode not in TEACHER_MODES:
            raise ValueError(f"unknown teacher mode {self.teacher_mode!r}")
        ratio = float(self.sample_duration / self.stdp_in["tau_plus"])
        if ratio > MAX_T_OVER_TAU_PLUS:
            raise ParameterError(
                f"sample duration {self.sample_duration} is {ratio:.0f} x the input STDP tau_plus "
                f"({self.stdp_in['tau_plus']}); at most {MAX_T_OVER_TAU_PLUS} x is supported (the "
                "LTP accumulation loses precision beyond, see sbp_brian.network)")
        for name in ("epochs", "chunk"):
            if not _whole_at_least(getattr(self, name)):
                raise ParameterError(f"{name} must be a whole number >= 1, got "
                                     f"{getattr(self, name)!r}")
        if not _whole_at_least(self.seed, low=0):  # numpy's generators take no negative seed
            raise ParameterError(f"seed must be a whole number >= 0, got {self.seed!r}")
        if not _whole_at_least(self.batch_size):
            raise ParameterError(f"batch_size must be a whole number >= 1, got "
                                 f"{self.batch_size!r}")
        if self.chunk % self.batch_size:
            raise ParameterError(f"batch_size {self.batch_size} must be >= 1 and divide the chunk "
                             f"({self.chunk} samples): mini-batches restart at every chunk")
        if self.homeostasis is not None:  # checked, and completed with the defaults
            homeo = dict(self.homeostasis)
            time_base = homeo.pop("time_base", "sample")
            if time_base not in HOMEOSTASIS_TIME_BASES:
                raise ParameterError(f"homeostasis time_base must be one of "
                                     f"{HOMEOSTASIS_TIME_BASES}, got {time_base!r}")
            self.homeostasis = {**validate_params(HOMEOSTASIS_PARAMS, homeo, "homeostasis"),
                                "time_base": time_base}
            if not self.max_rate > 0 * Hz:  # V_i = V_in x_i reads x_i as rate/max_rate
                raise ParameterError("homeostasis needs an input max_rate > 0")

    @property
    def steps_per_sample(self) -> int:
        return int(round(float(self.sample_duration / self.dt)))

    @property
    def n_weights(self) -> int:
        return self.n_input * self.n_hidden + self.n_hidden * self.n_output

    # -- what the trainer asks of a network kind (sbp_brian.train.Trainer) -------------------
    def initial_state(self, rng: np.random.Generator) -> dict:
        """The synaptic state a run starts from: the weights ``w_in``, ``w_out``
        (:func:`initial_weights`), the input synapses' fixed signs ``sign_in``
        (:func:`initial_input_signs`) and synaptic scaling's targets ``w_norm``
        (:func:`input_norms`)."""
        w_in, w_out = initial_weights(self, rng)
        return {"w_in": w_in, "w_out": w_out, "sign_in": initial_input_signs(self, w_in),
                "w_norm": input_norms(self, w_in)}

    def upgrade_checkpoint(self, meta: dict, state: dict) -> None:
        """Complete a checkpoint written by an earlier version, in place: options added since
        take the value those runs had, and runs from before the signs were kept took each
        input synapse's sign from its weight at every chunk, as this does once."""
        config = meta.get("config", {})
        for key, value in (("batch_size", 1), ("homeostasis", None), ("input_signs", "synapse"),
                           ("input_inhibitory_fraction", 0.5)):
            config.setdefault(key, value)
        if "sbp_mode" in config:  # before the rule was a description of its own
            mode, p, f = config.pop("sbp_mode"), config.pop("p"), config.pop("f")
            config["rule"] = ({"rule": "frozen"} if config.pop("freeze_hidden", False) else
                              {"rule": "local_stdp"} if mode is None else
                              {"rule": "sbp", "mode": mode, "p": p, "f": f})
        if "w_in" in state and "sign_in" not in state:
            state["sign_in"] = input_signs(state["w_in"])

    def check_copies(self, copies) -> None:
        """Network copies must divide the batch size (:func:`check_copies`)."""
        check_copies(self, copies)

    def make_runner(self, device_name: str, build_dir=None, threads: int = 1, copies: int = 1,
                    record_hidden: bool = False):
        """The compiled fast path ("cpp", "cuda") in ``build_dir``, or the runtime reference."""
        from .train import _CompiledRunner, _RuntimeRunner
        if device_name in ("cpp", "cuda"):
            return _CompiledRunner(self, build_dir, target=device_name, threads=threads,
                                   copies=copies, record_hidden=record_hidden)
        return _RuntimeRunner(self, device_name)

    @staticmethod
    def state_summary(state: dict) -> dict:
        """Weight statistics for the metrics log."""
        return {"w_in_mean": float(np.mean(state["w_in"])),
                "w_in_std": float(np.std(state["w_in"])),
                "w_out_mean_abs": float(np.mean(np.abs(state["w_out"]))),
                "w_out_std": float(np.std(state["w_out"]))}

    def describe(self) -> dict:
        """JSON-friendly summary (units as strings; the rule as its description)."""
        return {**describe_fields(self), "rule": dict(self.rule)}


#: Choices of a model file that the training network implements in one way only:
#: (where, option, the value it implements, the option's default in its factory).
TRAINING_NETWORK_CHOICES = (
    ("input", "encoding", "bernoulli", "bernoulli"),
    ("input", "bias", False, False),
    ("sbp", "eq15_sign", "+", "+"),
    ("synapses.input_hidden.transmission", "signed", True, False),
    ("synapses.input_hidden.stdp", "mode", "accumulate", "immediate"),
    ("synapses.input_hidden.stdp", "pairing", "all", "all"),
    ("synapses.hidden_output.transmission", "signed", True, False),
    ("synapses.hidden_output.stdp", "mode", "accumulate", "immediate"),
    ("synapses.hidden_output.stdp", "pairing", "all", "all"),
    ("synapses.hidden_output.stdp", "bounds", "dale", "clip"),
)


def _refuse_what_the_network_does_not_do(model: ModelFile) -> None:
    """A model file that asks the training network for something it does not implement
    (Poisson inputs, nearest-neighbour pairing, Eq. 15's printed sign, ...) is refused by
    name rather than trained with the network's own choice."""
    for where, option, implemented, default in TRAINING_NETWORK_CHOICES:
        if where.startswith("synapses."):
            _, projection, role = where.split(".")
            component = model.synapses.get(projection, {}).get(role)
            value = default if component is None else component.options.get(option, default)
        else:
            value = model.options.get(where, {}).get(option, default)
        if value != implemented:
            why = (" (Eq. 15 as printed is a reading of the numpy reference "
                   "sbp_brian.rules.sbp.sbp_input_change only)" if option == "eq15_sign" else "")
            raise ModelFileError(
                f"{model.path}: [{where}] {option} = {_toml(value)}: the training network "
                f"implements {option} = {_toml(implemented)} only{why}; set it so")
    if "input.frames" in model.sources:
        raise ModelFileError(
            f"{model.path}: [input] frames: the training network presents one image per "
            "sample as Bernoulli spikes; frames of events are a layered network's input "
            "([input] encoding = \"events\")")


def _toml(value) -> str:
    return str(value).lower() if isinstance(value, bool) else f'"{value}"'


def _whole_at_least(value, low: int = 1) -> bool:
    return isinstance(value, (int, np.integer)) and value >= low


def check_copies(config: TrainingConfig, copies, n_samples: int | None = None) -> None:
    """Network copies simulate mini-batch SBP: ``copies`` must divide the batch size (and the
    samples of a run); one copy is the ordinary network."""
    if not _whole_at_least(copies):
        raise ParameterError(f"copies must be a whole number >= 1, got {copies!r}")
    if config.batch_size % copies:
        raise ParameterError(
            f"{copies} network copies train with mini-batch SBP: the batch size "
            f"({config.batch_size}) must be a multiple of the copies (e.g. --batch-size {copies})")
    if n_samples is not None and n_samples % copies:
        raise ParameterError(f"{copies} network copies need a multiple of {copies} samples per "
                             f"run, got {n_samples}")


def hidden_signs(config: TrainingConfig) -> np.ndarray:
    """Dale's-law sign of each hidden neuron: excitatory first, then inhibitory."""
    return np.where(np.arange(config.n_hidden) < config.n_hidden - config.n_inhibitory, 1, -1)


def initial_weights(config: TrainingConfig, rng: np.random.Generator):
    """Input weights uniform in ``w_in_init +- w_in_spread`` (clipped to ``|w| <= w_in_max``);
    ``|output weights|`` uniform in ``[0, 2 w_out_init]`` with the presynaptic hidden neuron's
    sign.  Flat arrays in synapse order (all-to-all, ordered by presynaptic index).

    The input weights' signs are the synapses' fixed signs (:func:`initial_input_signs`).  With
    ``input_signs = "neuron"`` (Dale's law for inputs) the same draw gives the magnitudes
    ``|w|`` and each input neuron's sign is applied to all its synapses; a random
    ``round(input_inhibitory_fraction n_input)`` of the input neurons are inhibitory."""
    c = config
    w_in = rng.uniform(c.w_in_init - c.w_in_spread, c.w_in_init + c.w_in_spread,
                       c.n_input * c.n_hidden)
    w_in = np.clip(w_in, -c.w_in_max, c.w_in_max)
    w_out = rng.uniform(0, 2 * c.w_out_init, c.n_hidden * c.n_output)
    if c.input_signs == "neuron":
        n_inhibitory = int(round(c.input_inhibitory_fraction * c.n_input))
        neuron_sign = np.where(rng.permutation(c.n_input) < n_inhibitory, -1.0, 1.0)
        w_in = np.abs(w_in) * np.repeat(neuron_sign, c.n_hidden)
    return w_in, w_out * np.repeat(hidden_signs(c), c.n_output)


def initial_input_signs(config: TrainingConfig, w_in: np.ndarray) -> np.ndarray:
    """The fixed sign of each input synapse, from the initial input weights: ``-1`` where the
    weight is negative, or (``input_signs = "neuron"``) where the presynaptic input neuron has a
    negative weight; ``+1`` elsewhere.  A run keeps these signs to its end (and in its
    checkpoint): an inhibitory synapse whose weight reaches 0 stays inhibitory."""
    w = np.asarray(w_in, dtype=float)
    if config.input_signs == "neuron":
        per_neuron = np.where((w.reshape(config.n_input, -1) < 0).any(axis=1), -1.0, 1.0)
        return np.repeat(per_neuron, config.n_hidden)
    return input_signs(w)


def input_norms(config: TrainingConfig, w_in) -> np.ndarray:
    """Per hidden neuron, the sums of excitatory and of |inhibitory| input weights, shape
    (2, n_hidden): the synaptic-scaling targets."""
    w = np.asarray(w_in).reshape(config.n_input, config.n_hidden)
    sign = input_signs(w)
    return np.stack([np.where(sign > 0, w, 0).sum(axis=0), np.where(sign < 0, -w, 0).sum(axis=0)])


def input_signs(w_in: np.ndarray) -> np.ndarray:
    """The sign of each input weight (+1 for w = 0): a synapse's fixed sign when ``w_in`` are
    the initial weights (:func:`initial_input_signs`), and the runners' default when given
    none."""
    return np.where(np.asarray(w_in) < 0, -1.0, 1.0)


#: The weight in effect of an input synapse: the stored weight times its hidden neuron's
#: conductance gain, which holds the last synaptic scaling until the next weight update folds it
#: into the weights (step 4b; always 1 in the runtime path, which scales the weights themselves)
SCALING_GAIN = "(int(sign_in > 0)*gain_E_post + int(sign_in < 0)*gain_I_post)"
INPUT_WEIGHT = f"w*{SCALING_GAIN}"

#: Eq. 8's drive ``W_ij V_i`` of an input synapse, with ``V_i = V_in x_i`` (module docstring)
HOMEOSTATIC_DRIVE = f"V_in*{INPUT_WEIGHT}*rate_pre/max_rate"

#: Synaptic scaling's sums over the input synapses, as ``target: expression``.
SCALING_SUMS = {"wsum_e_post": "w*int(sign_in > 0)", "wsum_i_post": "-w*int(sign_in < 0)"}


def _update_code(clipped: str, change: str, batched: bool) -> str:
    """Weight-update statements of the boundary step.  ``clipped`` is the bounded new weight
    as a function of ``{new}`` (the unbounded one).  Per sample: ``w = clipped(w + change)``.
    Mini-batch SBP: the changes are summed in ``dw_batch`` with ``w`` frozen and applied,
    bounded once, at the batch's last boundary."""
    if not batched:
        return "w = " + clipped.format(new=f"w + {change}")
    return f"dw_batch += {change}\n" + _batch_end_code(clipped, "dw_batch")


def _batch_end_code(clipped: str, total: str) -> str:
    """At a mini-batch's last boundary: ``w = clipped(w + total)``, and a new batch starts."""
    return (f"w += {BATCH_END}*({clipped.format(new=f'w + {total}')} - w)\n"
            f"dw_batch *= 1 - {BATCH_END}")


def _shared_update_code(clipped: str, change: str) -> tuple[str, str]:
    """Network copies: the statements that add a copy's changes to ``dw_batch`` (step 4 or 5),
    and those that apply the sum over copies, ``dw_total``, at the batch's last boundary."""
    return f"dw_batch += {change}", _batch_end_code(clipped, "dw_total")


class SBPNetwork:
    """The Brian2 objects of the training network.

    Parameters
    ----------
    config : TrainingConfig
    n_samples : int
        Samples per run (a chunk); the run lasts ``n_samples * T + dt``.
    boundary : {"generated", "python"}
        Whether the boundary step is Brian2 code (fast path) or done by the caller.
    input_schedule : (indices, times) or None
        Deterministic input spikes (tests): replaces the Bernoulli draws.
    reductions : {"accumulate", "summed"}
        How the boundary step sums over synapses (module docstring); "summed" is safe
        under OpenMP and on a GPU.
    record_hidden : bool
        Also record hidden spikes (for per-sample hidden counts, :meth:`sample_counts`);
        off in training, where nothing reads them.
    copies : int
        Network copies simulated side by side (module docstring; generated boundary only):
        ``copies`` must divide ``config.batch_size`` and ``n_samples``.  An input schedule
        then indexes the copies' inputs (copy ``c``'s input ``i`` is ``c n_input + i``) over
        ``n_samples/copies`` sample periods.
    run_values : bool
        Set the generated step's run values (:meth:`sbp_brian.rules.Rule.run_values`, SBP's
        p and f); ``False`` where every launch of a compiled project sets them (``run_args``).
    """

    def __init__(self, config: TrainingConfig, n_samples: int, boundary: str = "generated",
                 input_schedule=None, reductions: str = "accumulate",
                 record_hidden: bool = False, copies: int = 1, run_values: bool = True):
        if boundary not in ("generated", "python"):
            raise ValueError(f"boundary must be 'generated' or 'python', got {boundary!r}")
        if reductions not in REDUCTIONS:
            raise ValueError(f"reductions must be one of {REDUCTIONS}, got {reductions!r}")
        check_copies(config, copies, n_samples)
        if copies > 1 and boundary != "generated":
            raise ValueError("network copies need the generated boundary step")
        self.reductions = reductions
        self.config = c = config
        self.n_samples = n_samples
        self.copies = copies
        #: sample periods simulated: each advances ``copies`` samples
        self.n_periods = n_samples // copies
        self.boundary = boundary
        #: the learning rule of the input synapses (:mod:`sbp_brian.rules`)
        self.rule = rule = rule_of(c)
        T, dt = c.sample_duration, c.dt
        #: every group and synapse of the network steps at the model file's dt
        self.clock = clock = network_clock(dt, "network_clock")
        stp = c.stp is not None
        namespace = {
            "max_rate": c.max_rate, **(dict(c.stp) if stp else {}), "g_in": c.g_in,
            "g_out": c.g_out,
            "A_plus_in": c.stdp_in["A_plus"], "A_minus_in": c.stdp_in["A_minus"],
            "tau_plus_in": c.stdp_in["tau_plus"], "tau_minus_in": c.stdp_in["tau_minus"],
            "A_plus_out": c.stdp_out["A_plus"], "A_minus_out": c.stdp_out["A_minus"],
            "tau_plus_out": c.stdp_out["tau_plus"], "tau_minus_out": c.stdp_out["tau_minus"],
            "sample_steps": c.steps_per_sample, "boundaries_per_batch": c.batch_size // copies,
            "sample_duration": T,
            "teacher_rate": c.teacher_rate, "sim_dt": dt,
            "w_in_max": c.w_in_max, "w_out_max": c.w_out_max, **rule.namespace(c),
            "teach_steps": max(1, int(round(float(1 / (c.teacher_rate * dt))))) if c.teacher_rate > 0 else 1,
        }
        self.namespace = namespace
        objects = []

        # ---- inputs: Bernoulli spikes (Eq. 2) with per-neuron STP state (Eq. 4) -------
        input_eqs = """
        rate : Hz                          # Bernoulli rate in this sample (Eq. 2)
        eff : 1                            # efficacy of the latest spike (before its update)
        ltp_p : 1                          # sum over this sample's spikes of exp(s/tau+)
        count : 1                          # spikes in this sample
        next_spike : 1                     # time step of the next spike (Bernoulli draw)
        """
        if stp:
            input_eqs += ("du/dt = -u/tau_f : 1        # STP utilisation (Eq. 4)\n"
                          "dx/dt = (1 - x)/tau_d : 1    # STP resources (Eq. 4)\n")
        generated = boundary == "generated"
        input_eqs += rule.input_state(generated)
        process = spike_process("bernoulli", copies * c.n_input, self.n_periods * T + dt, dt,
                                input_schedule)
        namespace.update(process.namespace)
        self.inputs = NeuronGroup(
            copies * c.n_input, input_eqs, threshold=process.threshold,
            reset=(("eff = (u + U*(1 - u))*x\nu += U*(1 - u)\nx -= u*x\n" if stp else
                    "eff = 1\n") +
                   f"ltp_p += exp({SAMPLE_TIME}/tau_plus_in)\ncount += 1\n" + process.on_spike),
            method="exact", namespace=namespace, clock=clock, name="inputs")
        # TM-STP at a spike (Eq. 4): the transmitted efficacy uses the state before the
        # spike's own update.  The reset runs before synaptic propagation (nothing there reads
        # what it changes), so that each synaptic event of a spike reads one number, eff.
        self.inputs.resetter["spike"].when = "after_thresholds"
        if stp:
            self.inputs.x = 1
        self.inputs.next_spike = np.inf
        self.first_spike = process.at_sample_start
        if boundary == "python" and self.first_spike:  # the numpy boundary sets the rates
            self.inputs.run_regularly(self.first_spike, dt=T, when="start",
                                      name="inputs_first_spike")
        objects.append(self.inputs)

        # ---- hidden: conductance LIF, Dale's law sign ---------------------------------
        h = c.hidden
        # SBP Eq. 5, the same factory as everywhere; the gains hold the synaptic scaling
        # (step 4b) until the next weight update in the compiled path (1 in the runtime one)
        hidden_model = conductance_lif(**h, conductance_gains=True)
        homeo = c.homeostasis
        if homeo is not None:  # Eqs. 6-9 (module docstring)
            mix = (f"{SAMPLE_TIME}/sample_duration" if homeo["time_base"] == "sample"
                   else "homeo_mix")
            hidden_model = with_homeostasis(
                hidden_model, mix=mix, **{k: v for k, v in homeo.items() if k != "time_base"})
            namespace["V_in"] = homeo["V_in"]
        self.hidden_model = hidden_model
        hidden_ns = {**namespace, **hidden_model.namespace}
        hidden_eqs = hidden_model.equations + """
        dapost_in/dt = -apost_in/tau_minus_in : 1   # postsynaptic trace, input synapses
        ltp_e : 1                                   # A+ sum over spikes so far of exp(-s/tau+)
        dapre_out/dt = -apre_out/tau_plus_out : 1   # presynaptic trace, output synapses
        dale_sign : 1 (constant)
        count : 1
        total : 1                                   # spikes over the whole run
        wsum_e : 1                                  # sum of excitatory input weights
        wsum_i : 1                                  # sum of |inhibitory input weights|
        wnorm_e : 1                                 # their values at the start of training
        wnorm_i : 1
        """ + rule.hidden_state(generated)
        if homeo is not None:
            hidden_eqs += "v_in_sum : volt   # sum_i W_ij V_i of Eq. 8, V_i = V_in x_i\n"
        self.hidden = NeuronGroup(
            copies * c.n_hidden, hidden_eqs, threshold="v > V_th",
            reset="v = V_reset\napost_in += A_minus_in\napre_out += 1\ncount += 1\ntotal += 1",
            events={"spiked": "lastspike == t"},
            refractory="t_ref", method=hidden_model.method, namespace=hidden_ns, clock=clock,
            name="hidden")
        # E_j (ltp_e) must count a hidden spike before the synaptic propagation of its time
        # step (module docstring), and the reset runs after it: the event "spiked" (this step's
        # spikes, read after the spike thresholder) updates it right after the thresholds
        self.hidden.thresholder["spiked"].order = self.hidden.order - 1
        self.hidden.run_on_event(
            "spiked", f"ltp_e += A_plus_in*exp(-{SAMPLE_TIME}/tau_plus_in)",
            when="after_thresholds")
        for variable, value in hidden_model.initial.items():  # v = V_L, gains 1 (homeo_mix)
            setattr(self.hidden, variable, value)
        signs = hidden_signs(c)
        self.hidden_signs = signs
        self.hidden.dale_sign = np.tile(signs, copies)
        objects.append(self.hidden)

        # ---- output: conductance LIF with teacher events ------------------------------
        o = c.output
        output_model = conductance_lif(**o)
        self.output_model = output_model
        output_ns = {**namespace, **output_model.namespace}
        output_eqs = output_model.equations + """
        dapost/dt = -apost/tau_minus_out : 1     # trace of actual output spikes
        dateach/dt = -ateach/tau_minus_out : 1   # trace of teacher spikes
        target : 1                               # 1 for the target class while training
        count : 1
        dv_mean/dt = (v - V_L)/sample_duration : volt  # mean depolarisation (readout ties)
        """
        teach = ("rand() < teacher_rate*sim_dt*target" if c.teacher_mode == "poisson" else
                 "target > 0.5 and (timestep(t, sim_dt) % teach_steps) == 0")
        self.output = NeuronGroup(
            copies * c.n_output, output_eqs, threshold="v > V_th",
            reset="v = V_reset\napost += 1\ncount += 1", refractory="t_ref",
            method=output_model.method,
            events={"teach": teach}, namespace=output_ns, clock=clock, name="output")
        self.output.v = o["V_L"]
        self.output.run_on_event("teach", "ateach += 1")
        objects.append(self.output)

        # ---- synapses -----------------------------------------------------------------
        # The pair-STDP change of each input synapse over a sample.  A rule that weighs its
        # LTP and LTD parts apart (SBP "paper", Eq. 13) gets them in two accumulators; the
        # others need only their sum, which one holds (a write fewer per synaptic event)
        ltd_term, ltp_term = "apost_in_post", f"exp({SAMPLE_TIME}/tau_plus_in)*ltp_e_post"
        self.stdp_split = rule.splits_stdp
        if self.stdp_split:
            stdp_model = ("ltp_partial : 1\ndw_ltd : 1\n"
                          "dw_ltp = ltp_partial + ltp_p_pre*ltp_e_post : 1")
            accumulate = f"dw_ltd -= {ltd_term}\nltp_partial -= {ltp_term}"
            self.stdp_accumulators = ("ltp_partial", "dw_ltd")
        else:
            stdp_model = "stdp_partial : 1\ndw_stdp = stdp_partial + ltp_p_pre*ltp_e_post : 1"
            accumulate = f"stdp_partial -= {ltd_term} + {ltp_term}"
            self.stdp_accumulators = ("stdp_partial",)
        input_model = f"w : 1\nsign_in : 1 (constant)\n{stdp_model}\neta_in : 1 (shared)"
        self.batched = batched = c.batch_size > 1
        # the copies' shared weights: the sum of their changes, read from the group holding
        # one element per weight (module docstring)
        shared = ("\ndw_total : 1 (linked)  # sum over the copies of dw_batch\n"
                  "weight_index : integer (constant)  # the synapse's weight, copy-independent"
                  if copies > 1 else "")
        if batched:
            input_model += "\ndw_batch : 1   # summed changes of this mini-batch" + (
                shared if rule.plastic_input else "")
        summed = boundary == "generated" and reductions == "summed"
        if summed and c.normalise_input and rule.plastic_input:
            input_model += "\n" + summed_lines(SCALING_SUMS)
        if summed and homeo is not None:
            input_model += f"\nv_in_sum_post = {HOMEOSTATIC_DRIVE} : volt (summed)"
        transmit = ("gE_post += g_in*w*int(w > 0)*eff_pre\n"
                    "gI_post -= g_in*w*int(w < 0)*eff_pre")
        if not rule.plastic_input:  # nothing to accumulate: skip the STDP bookkeeping
            self.input_hidden = Synapses(self.inputs, self.hidden, model=input_model,
                                         on_pre=transmit, namespace=namespace, clock=clock,
                                         name="input_hidden")
        else:
            # LTD from the postsynaptic trace; LTP accumulated at presynaptic spikes too
            # (module docstring), so hidden spikes touch no input synapse
            self.input_hidden = Synapses(
                self.inputs, self.hidden, model=input_model, on_pre=transmit + "\n" + accumulate,
                namespace=namespace, clock=clock, name="input_hidden")
        connect_within_copies(self.input_hidden, copies)
        self.input_hidden.eta_in = c.eta_in
        output_model = "w : 1\ndw : 1\neta_out : 1 (shared)" + (
            "\ndw_batch : 1" + shared if batched else "")
        if summed and rule.output_sums():
            output_model += "\n" + summed_lines(rule.output_sums())
        self.hidden_output = Synapses(
            self.hidden, self.output, model=output_model,
            on_pre=("gE_post += g_out*w*int(w > 0)\ngI_post -= g_out*w*int(w < 0)\n"
                    "dw += A_minus_out*(apost_post - ateach_post)"),
            on_post={"post": "dw -= A_plus_out*apre_out_pre",
                     "teach": "dw += A_plus_out*apre_out_pre"},
            on_event={"pre": "spike", "post": "spike", "teach": "teach"},
            namespace=namespace, clock=clock, name="hidden_output")
        connect_within_copies(self.hidden_output, copies)
        self.hidden_output.eta_out = c.eta_out
        objects += [self.input_hidden, self.hidden_output]

        self.output_spikes = SpikeMonitor(self.output, name="output_spikes")
        objects.append(self.output_spikes)
        self.output_potential = None
        if boundary == "generated":
            # v_mean at each boundary before the reset: the mean depolarisation of the
            # sample that ends there (the record at t = 0 precedes the first sample)
            self.output_potential = StateMonitor(self.output, "v_mean", record=True, dt=T,
                                                 when="start", order=-1,
                                                 name="output_potential")
            objects.append(self.output_potential)
        self.hidden_spikes = None
        if record_hidden:
            self.hidden_spikes = SpikeMonitor(self.hidden, name="hidden_spikes")
            objects.append(self.hidden_spikes)
        if boundary == "generated":
            objects += self._boundary_step(n_samples)
            for variable, value in (rule.run_values() if run_values else {}).items():
                variable[:] = value
        self.network = Network(*objects)

    # ------------------------------------------------------------------------------------
    def _boundary_step(self, n_samples: int) -> list:
        """Brian2 objects doing the sample-boundary step (module docstring, steps 1-6)."""
        c, ns = self.config, self.namespace
        T = c.sample_duration
        batched, copies = self.batched, self.copies
        zeros_in = np.zeros((self.n_periods + 1, copies * c.n_input))
        zeros_out = np.zeros((self.n_periods + 1, copies * c.n_output))
        self.stim = TimedArray(zeros_in, dt=T, name="stim")
        self.labels = TimedArray(zeros_out, dt=T, name="labels")
        ns["stim"], ns["labels"] = self.stim, self.labels
        for group in (self.inputs, self.hidden, self.output):
            group.namespace.update({"stim": self.stim, "labels": self.labels, "nS": nS,
                                    "second": second, "mV": mV})
        step = dict(dt=T, when="start")
        summed = self.reductions == "summed"
        builder = GeneratedStep(T, BOUNDARY_PHASES, ns, summed=summed, net=self,
                                copies=copies, name="boundary")
        reduce = builder.reduce

        def at_batch_end(value: str, otherwise: str) -> str:
            """``value`` at a mini-batch's last boundary, ``otherwise`` at the others."""
            return f"{BATCH_END}*{value} + (1 - {BATCH_END})*{otherwise}" if batched else value

        def share_weights(synapses, n_pre: int, n_post: int, apply: str, name: str) -> list:
            """Network copies: sum ``dw_batch`` over the copies into a group with one element
            per weight (step 12), read back as ``dw_total``, and run ``apply`` (13)."""
            n_weights = n_pre * n_post
            totals = NeuronGroup(n_weights, "dw_total : 1", namespace=ns, clock=self.clock,
                                 name=name + "_total")
            to_totals = Synapses(totals, synapses, namespace=ns, clock=self.clock,
                                 name=name + "_copies",
                                 model=summed_lines({"dw_total_pre": "dw_batch_post"})
                                 if summed else "")
            to_totals.connect(j=f"k for k in range(i, {copies * n_weights}, {n_weights})")
            synapses.weight_index = f"(i % {n_pre})*{n_post} + j % {n_post}"
            synapses.dw_total = linked_var(totals, "dw_total", index="weight_index")
            reduce(to_totals, {"dw_total_pre": "dw_batch_post"}, "reset", name + "_sum")
            synapses.run_regularly(apply, order=phase("apply_shared_changes"),
                                   name=name + "_apply", **step)
            if not summed:
                totals.run_regularly("dw_total = 0", order=phase("sum_after_update"),
                                     name=name + "_reset", **step)
            return [totals, to_totals]

        # 1-3: the rule's sums over the output synapses and its own phases (SBP: totals over
        #      the hidden layer, gains, the spread modes' coactive inputs)
        rule = self.rule
        if rule.output_sums():
            reduce(self.hidden_output, rule.output_sums(), "sum_output_changes", "output_sums")
        objects = rule.boundary_objects(builder)
        # 4: input-weight update
        change = rule.input_change()
        if change is not None:
            clear = "".join(f"\n{name} = 0" for name in self.stdp_accumulators)
            # (with synaptic scaling, the pass that writes the new weights also sums them per
            # hidden neuron)
            sums = ("".join(f"\n{t} += {e}" for t, e in SCALING_SUMS.items())
                    if c.normalise_input and not summed else "")
            clipped, change = "sign_in*clip(sign_in*({new}), 0, w_in_max)", f"eta_in*({change})"
            # first the last synaptic scaling, kept in the gains, goes into the weights (4b)
            fold = (f"w = w*({at_batch_end(SCALING_GAIN, '1')})\n" if c.normalise_input
                    else "")
            if copies == 1:
                update = fold + _update_code(clipped, change, batched) + clear + sums
            else:
                update, apply = _shared_update_code(clipped, change)
                update += clear
                objects += share_weights(self.input_hidden, c.n_input, c.n_hidden,
                                         fold + apply + sums, "shared_input_weights")
            self.input_hidden.run_regularly(update, order=phase("update_input_weights"),
                                            name="input_update", **step)
        # 4b: synaptic scaling: each hidden neuron keeps the sums of its excitatory and of its
        # inhibitory input weights at their initial values.  The factors are kept as the
        # neuron's conductance gains, not multiplied into the weights (module docstring), until
        # the next update pass folds them in (``fold``, step 4).  With mini-batches only at a
        # batch's end, where the weights changed: frozen means frozen, the gains stay.
        if c.normalise_input and rule.plastic_input:
            if summed:  # after the update pass (with copies: the shared apply) and the resets
                reduce(self.input_hidden, SCALING_SUMS, "sum_after_update", "scaling_sums")
            self.hidden.run_regularly(
                f"gain_E = {at_batch_end('wnorm_e/(wsum_e + int(wsum_e == 0))', 'gain_E')}\n"
                f"gain_I = {at_batch_end('wnorm_i/(wsum_i + int(wsum_i == 0))', 'gain_I')}"
                + ("" if summed else "\nwsum_e = 0\nwsum_i = 0"),
                order=phase("scale_input_weights"), name="scaling_factors", **step)
        # 5: output-weight update under Dale's law
        clipped = "dale_sign_pre*clip(dale_sign_pre*({new}), 0, w_out_max)"
        if copies == 1:
            update = _update_code(clipped, "eta_out*dw", batched)
        else:
            update, apply = _shared_update_code(clipped, "eta_out*dw")
            objects += share_weights(self.hidden_output, c.n_hidden, c.n_output, apply,
                                     "shared_output_weights")
        self.hidden_output.run_regularly(update + "\ndw = 0", order=phase("update_output_weights"),
                                         name="output_update", **step)
        # 6: resets and the next sample's input and target
        start = {name: "\n".join(f"{variable} = {value}" for variable, value in values.items())
                 for name, values in self.sample_start().items()}
        rule_reset = {name: "\n" + code for name, code in rule.reset(summed).items()}
        self.inputs.run_regularly(
            start["inputs"] + "\nrate = stim(t, i)*max_rate\n" + self.first_spike
            + rule_reset.get("inputs", ""), order=phase("reset"), name="inputs_reset", **step)
        self.hidden.run_regularly(start["hidden"] + rule_reset.get("hidden", ""),
                                  order=phase("reset"), name="hidden_reset", **step)
        self.output.run_regularly(start["output"] + "\ntarget = labels(t, i)",
                                  order=phase("reset"), name="output_reset", **step)
        # 7: the homeostatic target of the next sample (Eq. 8), from the new weights and inputs
        if c.homeostasis is not None:
            reduce(self.input_hidden, {"v_in_sum_post": HOMEOSTATIC_DRIVE},
                   "sum_homeostatic_drive", "homeostatic_drive_sum")
            self.hidden.run_regularly("v_ff = V_L + v_in_sum" + (
                "" if summed else "\nv_in_sum = 0*mV"), order=phase("homeostatic_target"),
                name="homeostatic_target",
                **step)
        return objects

    def sample_start(self) -> dict:
        """The state every sample starts from (step 6: rest, no conductances or
        refractoriness, empty traces and counts, fresh STP): per group, each variable's value
        as an expression in the group's namespace.  The generated step writes it as code and
        the runtime reference assigns it, so both reset the same variables to the same
        values."""
        stp = {"u": "0", "x": "1"} if self.config.stp is not None else {}
        return {"inputs": {"count": "0", **stp, "ltp_p": "0"},
                "hidden": {**self.hidden_model.rest, "count": "0", "apost_in": "0",
                           "ltp_e": "0", "apre_out": "0"},
                "output": {**self.output_model.rest, "count": "0", "apost": "0", "ateach": "0",
                           "v_mean": "0*mV"}}

    # ------------------------------------------------------------------------------------
    def duration(self):
        return self.n_periods * self.config.sample_duration + self.config.dt

    def initial_weights(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """See :func:`initial_weights`."""
        return initial_weights(self.config, rng)

    def input_weights(self) -> np.ndarray:
        """The input weights in effect, flat in synapse order (copy 0's with network copies):
        the stored weights times their hidden neurons' conductance gains, which hold the last
        synaptic scaling in the compiled path (step 4b; the gains are 1 in the runtime path)."""
        c = self.config
        n = c.n_input * c.n_hidden
        ih, hidden = self.input_hidden, self.hidden
        post = np.asarray(ih.j[:n])
        gains = np.where(np.asarray(ih.sign_in[:n]) > 0, np.asarray(hidden.gain_E[:])[post],
                         np.asarray(hidden.gain_I[:])[post])
        return np.asarray(ih.w[:n])*gains

    def stdp_changes(self) -> tuple[np.ndarray, np.ndarray]:
        """The input synapses' pair-STDP changes accumulated so far, as (LTP, LTD) flat arrays;
        where only their sum is kept ("paper" mode excepted) it is the LTP part, LTD zero."""
        ih = self.input_hidden
        if self.stdp_split:
            return np.asarray(ih.dw_ltp[:]), np.asarray(ih.dw_ltd[:])
        total = np.asarray(ih.dw_stdp[:])
        return total, np.zeros_like(total)

    def sample_potentials(self, n_samples: int) -> np.ndarray:
        """Mean depolarisation ``v - V_L`` of each output neuron over each sample, in mV,
        shape (n_samples, n_output) (compiled path: recorded at the boundaries)."""
        if self.output_potential is None:
            raise ValueError("boundary='python': read output.v_mean after each sample")
        periods = -(-n_samples // self.copies)
        # (copies * n_output, periods) -> one row per sample: period-major, then copy
        per_period = np.asarray(self.output_potential.v_mean[:, 1:periods + 1] / mV).T
        return per_period.reshape(periods * self.copies, -1)[:n_samples]

    def sample_counts(self, n_samples: int, layer: str = "output") -> np.ndarray:
        """Spike counts per sample, shape (n_samples, layer size), from the layer's spike
        monitor (``layer="hidden"`` needs ``record_hidden``)."""
        monitor = self.output_spikes if layer == "output" else self.hidden_spikes
        if monitor is None:
            raise ValueError("hidden spikes are recorded only with record_hidden=True")
        return sample_counts(monitor, self.config.sample_duration, n_samples, self.copies)
