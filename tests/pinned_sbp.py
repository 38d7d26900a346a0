"""SBP's behaviour pinned: the weights after a few chunks of digits samples, per variant.

The learning rule is about to move into a rules package (the learning-rule family); this
fixture holds what training does today so that the move can be checked to change nothing.
Each case trains the small ``sbp_digits`` network (64-24-10) for ``CHUNKS`` chunks of
``CHUNK`` samples on fixed input spikes (drawn once in numpy, fed through a
``SpikeGeneratorGroup``), carrying weights and input signs from chunk to chunk as the trainer
does, and records the final weights and spike counts.

Regenerate the fixture only for a change of behaviour that is intended and declared::

    python tests/pinned_sbp.py
"""
from pathlib import Path

import numpy as np
from brian2 import mV, ms

from sbp_brian.model_files import load_model
from sbp_brian.network import TrainingConfig, initial_input_signs, initial_weights
from small_network import digits_schedule

FIXTURE = Path(__file__).parent / "fixtures" / "sbp_pinned_weights.npz"
CHUNK, CHUNKS = 8, 3

#: case name -> TrainingConfig overrides; every SBP variant, the two controls, a mini-batch
#: and the homeostatic membrane
CASES = {
    "without_sbp": dict(rule={"rule": "local_stdp"}),
    "paper": dict(rule={"rule": "sbp", "mode": "paper", "p": 0.3}),
    "spread": dict(rule={"rule": "sbp", "mode": "spread", "p": 0.3}),
    "weighted": dict(rule={"rule": "sbp", "mode": "weighted", "p": 0.3}),
    "control": dict(rule={"rule": "frozen"}),
    "paper_batch4": dict(rule={"rule": "sbp", "mode": "paper", "p": 0.3}, batch_size=4),
    "weighted_homeostasis": dict(rule={"rule": "sbp", "mode": "weighted", "p": 0.3},
                                 homeostasis=dict(tau_homeo=0.2 * ms, V_Tr=0 * mV, V_in=1 * mV,
                                                  time_base="sample")),
}


def config_of(case: str) -> TrainingConfig:
    """The small network of a case; output weights and input learning rate raised so that the
    outputs fire and the input weights move by ~1e-3 in three chunks."""
    return TrainingConfig.from_model(
        load_model("sbp_digits"), 64, 10, n_hidden=24, n_inhibitory=8, chunk=CHUNK,
        w_in_init=1.0, w_in_spread=1.5, w_out_init=3.0, eta_in=5.0, sample_duration=30 * ms,
        **CASES[case])


def inputs(config: TrainingConfig):
    """The first CHUNK digits training images, their one-hot labels and fixed Bernoulli
    input spikes for one chunk (the same spikes in every chunk)."""
    index, times, data = digits_schedule(config, CHUNK)
    return data.x_train[:CHUNK], np.eye(10)[data.y_train[:CHUNK]], (index, times)


def run_case(case: str, compiled_dir: Path | None = None) -> dict:
    """Train one case with the numpy runtime reference, or with the compiled path built in
    ``compiled_dir``.  Returns the final weights and the per-chunk spike counts."""
    from sbp_brian.train import _CompiledRunner, _RuntimeRunner
    config = config_of(case)
    x, y, schedule = inputs(config)
    if compiled_dir is not None:
        compiled = _CompiledRunner(config, compiled_dir, input_schedule=schedule,
                                   record_hidden=True)
        make_runner = lambda: compiled  # noqa: E731
    else:  # a fresh network per chunk: time, and so the spike schedule, restart at 0 as in
        # each launch of the compiled project
        make_runner = lambda: _RuntimeRunner(  # noqa: E731
            config, "numpy", input_schedule=schedule, n_samples=CHUNK)
    w_in, w_out = initial_weights(config, np.random.default_rng(1))
    sign_in = initial_input_signs(config, w_in)
    output_counts, hidden_counts = [], []
    for chunk in range(CHUNKS):
        w_in, w_out, result = make_runner().run(x, y, w_in, w_out, learn=True, seed=chunk,
                                                sign_in=sign_in)
        output_counts.append(result.counts)
        hidden_counts.append(result.hidden_counts)
    return {"w_in": w_in, "w_out": w_out, "output_counts": np.array(output_counts),
            "hidden_counts": np.array(hidden_counts)}


def main() -> None:
    FIXTURE.parent.mkdir(exist_ok=True)
    arrays = {f"{case}/{key}": value for case in CASES
              for key, value in run_case(case).items()}
    np.savez_compressed(FIXTURE, **arrays)
    print(f"wrote {FIXTURE}")


if __name__ == "__main__":
    main()
