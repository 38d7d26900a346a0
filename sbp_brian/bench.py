"""``sbp-brian bench``: training speed of the fast path on the paper-sized network.

The benchmark workload: 784-500-10 (Fashion-MNIST images when installed, else seeded random
images of the same mean intensity), T = 50 ms, dt = 0.1 ms, STP, STDP accumulation and the
SBP step at every sample boundary, compiled with cpp_standalone.  Compile time is measured
apart from the chunk runs; samples/s is the median over the timed chunks.  Results are
written as JSON.
"""
from __future__ import annotations

import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from brian2 import ms

from .datasets import FASHION_MNIST_DIR, load_dataset
from .model_files import load_model
from .network import TrainingConfig, initial_weights
from .targets import reset_target
from .train import _CompiledRunner

__all__ = ["benchmark"]


def _images(n: int, rng) -> tuple[np.ndarray, np.ndarray, str]:
    if FASHION_MNIST_DIR.is_dir():
        data = load_dataset("fashion-mnist")
        return data.x_train[:n], data.y_train[:n], "fashion-mnist"
    x = np.clip(rng.normal(0.13, 0.3, (n, 784)), 0, 1)
    return x, rng.integers(0, 10, n), "random images (mean intensity ~0.13)"


def benchmark(model: str = "sbp_digits", sample_duration=50 * ms, chunk: int = 500,
              n_chunks: int = 3, sbp_mode: str | None = "paper", out=None,
              log=print) -> dict:
    rng = np.random.default_rng(0)
    x, y, source = _images(chunk * n_chunks, rng)
    config = TrainingConfig.from_model(load_model(model), 784, 10, sample_duration=sample_duration,
                                       chunk=chunk, sbp_mode=sbp_mode)
    build = Path(tempfile.mkdtemp(prefix="sbp_brian_bench_"))
    start = time.perf_counter()
    runner = _CompiledRunner(config, build)
    setup_seconds = time.perf_counter() - start
    w_in, w_out = initial_weights(config, rng)
    onehot = np.eye(10)[y]
    rates, hidden = [], []
    for k in range(n_chunks):
        sl = slice(k * chunk, (k + 1) * chunk)
        t0 = time.perf_counter()
        w_in, w_out, result = runner.run(x[sl], onehot[sl], w_in, w_out, learn=True, seed=k)
        rates.append(chunk / (time.perf_counter() - t0))
        hidden.append(result.hidden_spikes / chunk / config.n_hidden)
        log(f"[bench] chunk {k + 1}/{n_chunks}: {rates[-1]:.0f} samples/s")
    reset_target()
    result = {
        "workload": f"784-{config.n_hidden}-10, T = {sample_duration}, dt = {config.dt}, "
                    f"SBP mode {sbp_mode}", "inputs": source,
        "device": "cpp_standalone (one thread)", "chunk": chunk,
        "samples_per_second_median": statistics.median(rates),
        "samples_per_second": rates, "compile_and_setup_seconds": round(setup_seconds, 1),
        "hidden_spikes_per_neuron_per_sample": float(np.mean(hidden)),
        "compile_seconds": round(runner.compile_seconds, 1),
        "machine": f"{platform.processor() or platform.machine()}, "
                   f"{__import__('os').cpu_count()} cores",
    }
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=2) + "\n")
    return result
