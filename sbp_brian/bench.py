"""``sbp-brian bench``: training speed of the SBP workload, every way a user could run it.

The workload (the SBP paper's network size): 784-500-10, Bernoulli inputs from
Fashion-MNIST images (when installed; else seeded random images of the same mean
intensity), TM-STP, STDP accumulation, the "paper" SBP step at every sample boundary,
dt = 0.1 ms, T = 50 ms unless asked otherwise.  Every way trains from the same initial
weights on the same images; each draws its own Bernoulli spikes (the same process -- the
tests show the ways agree on identical spikes).

Ways (each measured in its own subprocess, so that its peak memory is its own):

``compiled``
    our default: cpp_standalone, compiled once, the SBP step in generated code, relaunched
    per chunk with ``run_args`` (:class:`sbp_brian.train._CompiledRunner`);
``naive``, ``naive-numpy``
    what users write first: runtime mode, one ``run(T)`` per sample and the SBP step in
    Python between runs (:class:`sbp_brian.train._RuntimeRunner`); ``naive`` uses Brian2's
    default runtime target (cython where it compiles, as ``codegen.target = 'auto'`` would
    pick; its first-sample compile is reported apart), ``naive-numpy`` the numpy target;
``dense``
    a dense numpy discrete-time implementation of the same model
    (:class:`sbp_brian.dense.DenseNetwork`), one sample at a time;
``openmp``
    the compiled way with OpenMP threads (one per core) and the summed-variable reductions
    that parallel code needs (:mod:`sbp_brian.network`);
``copies``
    the compiled way with ``copies`` network copies side by side (default
    :data:`DEFAULT_COPIES`, the authors' batch size), each on its own sample: mini-batch SBP
    with that batch size (:mod:`sbp_brian.network`), so a different rule from the per-sample
    one the other ways train; it shows what the copies cost or save on this machine;
``cuda``, ``cuda-copies``
    brian2cuda's cuda_standalone with the summed-variable reductions, one network or
    ``copies`` copies, when a GPU is usable (otherwise listed as skipped, with the reason);
``bpstdp``
    another rule on the same images: BP-STDP (:mod:`sbp_brian.rules.bpstdp`) on a 784-500-10
    layered network of integrate-and-fire neurons, compiled as the ``compiled`` way is, with
    the settings of its own model file ``bpstdp_mnist`` (dt = 1 ms, T = 48 ms, the update
    every 4 ms inside the sample, regular input trains, a bias neuron, the output threshold
    0.025 H for H hidden neurons), so its ratio to the ``compiled`` way is what a user of
    each rule's model file waits;
``glsnn``, ``brp``
    the same for GLSNN (:mod:`sbp_brian.rules.glsnn`; ``glsnn_mnist``'s conductance-LIF
    neurons, T = 100 ms of 1 ms, the update at each sample's end, with one hidden layer of
    500) and BRP (:mod:`sbp_brian.rules.brp`; ``brp_mnist``'s LIF neurons, T = 20 ms of 1 ms,
    every synapse's eligibility in every step, Adam per batch of 50).

Compile time is reported apart from run time; samples/s is the median over timed chunks.
Also: the compiled way against the hidden-layer size, to show that the cost follows the
number of synaptic events.  Results: JSON (``--out``) and a plot beside it.
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from brian2 import ms

from .datasets import FASHION_MNIST_DIR, load_dataset
from .model_files import load_model
from .network import TrainingConfig, initial_input_signs, initial_weights
from .train import new_build_folder  # temporary folders a later process removes if this one is killed

__all__ = ["WAYS", "run_way", "benchmark_suite", "plot_results"]

WAYS = ("compiled", "naive", "naive-numpy", "dense", "openmp", "copies", "cuda", "cuda-copies",
        "bpstdp", "glsnn", "brp")
#: samples timed per chunk and chunks, per way (the slow ways get fewer samples)
DEFAULT_SAMPLES = {"compiled": (500, 3), "naive": (5, 2), "naive-numpy": (5, 2),
                   "dense": (20, 2), "openmp": (500, 3), "copies": (500, 3),
                   "cuda": (2000, 3), "cuda-copies": (5000, 3), "bpstdp": (500, 3),
                   "glsnn": (500, 3), "brp": (500, 3)}
#: network copies of the "copies" ways: the batch of 50 of the authors' released code
DEFAULT_COPIES = 50
#: the ways of the layered network's rules -> their model files (one hidden layer of the
#: benchmark's size; BP-STDP's output threshold scaled to it)
LAYERED_WAYS = {"bpstdp": "bpstdp_mnist", "glsnn": "glsnn_mnist", "brp": "brp_mnist"}
COMPILED_WAYS = ("compiled", "openmp", "copies", "cuda", "cuda-copies", *LAYERED_WAYS)


def unavailable(way: str) -> str | None:
    """Why ``way`` cannot run on this machine (None when it can)."""
    if way.startswith("cuda"):
        from .targets import _cuda_status
        status = _cuda_status()
        return None if status.usable else f"no usable GPU: {status.reason}"
    if way == "openmp" and (os.cpu_count() or 1) < 2:
        return "one CPU core"
    return None


def _images(n: int, rng) -> tuple[np.ndarray, np.ndarray, str]:
    if FASHION_MNIST_DIR.is_dir():
        data = load_dataset("fashion-mnist")
        return data.x_train[:n], data.y_train[:n], "fashion-mnist"
    x = np.clip(rng.normal(0.13, 0.3, (n, 784)), 0, 1)
    return x, rng.integers(0, 10, n), "random images (mean intensity ~0.13)"


def synaptic_events_per_sample(config: TrainingConfig, images: np.ndarray,
                               hidden_spikes_per_neuron: float) -> float:
    """Synaptic events of one training sample: the input spikes expected from the images'
    rates (Eq. 2: ``max_rate * x * T`` per input) times the hidden-layer size, plus the hidden
    spikes counted times the output-layer size.  The speed per event shows whether the cost
    follows the events (it does when it stays flat against the hidden-layer size)."""
    c = config
    input_spikes = float(np.mean(np.sum(images, axis=1)) * c.max_rate * c.sample_duration)
    return (input_spikes * c.n_hidden
            + hidden_spikes_per_neuron * c.n_hidden * c.n_output)


def _vm_hwm_mb(pid: int | str = "self") -> float:
    """Peak resident memory (MB) of a process (Linux ``VmHWM``; 0 where unavailable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class _ChildMemory:
    """Polls the peak memory of this process's child processes named ``main`` (the
    compiled simulation; compilers are not counted) while it runs."""

    def __init__(self, interval: float = 0.05):
        import threading
        self.peak, self.interval = 0.0, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        me = str(os.getpid())
        while not self._stop.wait(self.interval):
            for proc in Path("/proc").glob("[0-9]*"):
                try:
                    fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                    name = (proc / "comm").read_text().strip()
                except OSError:
                    continue
                if fields[1] == me and name == "main":
                    self.peak = max(self.peak, _vm_hwm_mb(proc.name))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run_way(way: str, n_hidden: int = 500, duration_ms: float = 50.0, chunk: int | None = None,
            n_chunks: int | None = None, model: str = "sbp_digits", images=None,
            profile: bool = False, log=print, copies: int = DEFAULT_COPIES) -> dict:
    """Time one way in this process; returns a JSON-friendly record.  ``images``: an ``.npz``
    file with ``x``, ``y`` and ``source`` (the suite writes one, so that no child holds the
    whole dataset in memory); by default they are loaded here.  ``profile`` (compiled ways):
    Brian2's per-code-object timers, reported as ``profile`` (they cost a few %; not for
    the layered rules' ways).  ``model``: the SBP ways' model file."""
    from .targets import reset_target
    default_chunk, default_chunks = DEFAULT_SAMPLES[way]
    chunk, n_chunks = chunk or default_chunk, n_chunks or default_chunks
    rng = np.random.default_rng(0)
    if images is None:
        x, y, source = _images(chunk * n_chunks, rng)
    else:
        with np.load(images) as stored:
            x, y, source = stored["x"], stored["y"], str(stored["source"])
    x, y = x[:chunk * n_chunks], y[:chunk * n_chunks]
    copies = copies if way.endswith("copies") else 1
    onehot = np.eye(10)[y]
    start = time.perf_counter()
    project = None  # the compiled project's folder, removed at the end
    if way in COMPILED_WAYS:
        project = new_build_folder()
    if way in LAYERED_WAYS:
        config, runner, train_chunk = _layered_way(way, n_hidden, chunk, project, rng)
    else:
        config, runner, train_chunk = _sbp_way(way, model, n_hidden, duration_ms, chunk, copies,
                                               project, profile, rng)
    compile_seconds = getattr(runner, "compile_seconds", 0.0)
    if way in ("naive", "naive-numpy", "dense"):  # first sample apart: code generation, cython
        train_chunk(x[:1], onehot[:1], n_chunks)
        compile_seconds = time.perf_counter() - start
    setup_seconds = time.perf_counter() - start
    rates, hidden = [], []
    with _ChildMemory() as binary_memory:
        for k in range(n_chunks):
            sl = slice(k * chunk, (k + 1) * chunk)
            t0 = time.perf_counter()
            hidden_spikes = train_chunk(x[sl], onehot[sl], k)
            rates.append(chunk / (time.perf_counter() - t0))
            hidden.append(hidden_spikes / chunk / n_hidden)
            log(f"[bench] {way} 784-{n_hidden}-10, chunk {k + 1}/{n_chunks}: "
                f"{rates[-1]:.1f} samples/s")
    top = []
    if profile and way in COMPILED_WAYS and way not in LAYERED_WAYS:
        info = runner.net.network.profiling_info  # (name, time), longest first
        total = sum(float(t) for _, t in info) or 1.0
        top = [[name, round(float(t), 3), round(100 * float(t) / total, 1)]
               for name, t in info[:12]]
    reset_target()
    if project is not None:
        shutil.rmtree(project, ignore_errors=True)
    events = synaptic_events_per_sample(config, x, float(np.mean(hidden)))
    rate = statistics.median(rates)
    return {
        "way": way, "rule": way if way in LAYERED_WAYS else "sbp (paper)",
        "target": {"compiled": "cpp_standalone (1 thread)",
                   **dict.fromkeys(LAYERED_WAYS, "cpp_standalone (1 thread)"),
                               "openmp": f"cpp_standalone ({os.cpu_count()} OpenMP threads)",
                               "copies": "cpp_standalone (1 thread)",
                               "cuda": "cuda_standalone", "cuda-copies": "cuda_standalone",
                               "dense": "numpy (no Brian2)"}.get(
            way, getattr(runner, "target", None)),
        "network_copies": copies, "batch_size": getattr(config, "batch_size", 1),
        "reductions": getattr(runner, "reductions", None), "n_hidden": n_hidden,
        "time_steps_per_sample": int(round(float(config.sample_duration / config.dt))),
        "sample_duration_ms": round(float(config.sample_duration / ms), 9),
        "requested_duration_ms": duration_ms,
        "dt_ms": float(config.dt / ms), "inputs": source, "samples_per_chunk": chunk,
        "samples_per_second_median": rate, "samples_per_second": rates,
        "setup_seconds": round(setup_seconds, 2),
        "compile_or_first_sample_seconds": round(compile_seconds, 2),
        "hidden_spikes_per_neuron_per_sample": float(np.mean(hidden)),
        "synaptic_events_per_sample": events,
        "ns_per_synaptic_event": 1e9 / (rate * events),
        "profile (code object, seconds, % of all)": top or None,
        "peak_rss_python_mb": round(_vm_hwm_mb(), 1),
        "peak_rss_binary_mb": round(binary_memory.peak, 1)
        if way in ("compiled", "openmp", "copies", *LAYERED_WAYS) else None,
    }


def _sbp_way(way, model, n_hidden, duration_ms, chunk, copies, project, profile, rng):
    """The SBP workload's configuration, the runner of ``way`` and a function that trains one
    chunk of samples from the weights so far and returns its hidden spike count."""
    from .train import _CompiledRunner, _RuntimeRunner
    from .dense import DenseNetwork
    from .targets import _cython_problem
    from .rules.sbp import SBP, sbp_variant
    model = load_model(model)
    config = TrainingConfig.from_model(model, 784, 10, n_hidden=n_hidden,
                                       n_inhibitory=n_hidden // 2,
                                       sample_duration=duration_ms * ms, chunk=chunk,
                                       rule=sbp_variant(SBP.from_model(model).describe(),
                                                        mode="paper"),
                                       batch_size=copies)
    w_in, w_out = initial_weights(config, rng)
    weights = {"w_in": w_in, "w_out": w_out, "sign_in": initial_input_signs(config, w_in)}
    if way in COMPILED_WAYS:
        runner = _CompiledRunner(config, project,
                                 target="cuda" if way.startswith("cuda") else "cpp",
                                 threads=os.cpu_count() if way == "openmp" else 1,
                                 profile=profile, copies=copies, cache=False)
    elif way.startswith("naive"):
        target = "numpy" if way == "naive-numpy" or _cython_problem() else "cython"
        runner = _RuntimeRunner(config, target)
    elif way == "dense":
        runner = DenseNetwork(config)
    else:
        raise ValueError(f"unknown way {way!r}")

    def train_chunk(x, y_onehot, seed) -> float:
        weights["w_in"], weights["w_out"], result = runner.run(
            x, y_onehot, weights["w_in"], weights["w_out"], learn=True, seed=seed,
            sign_in=weights["sign_in"])
        return result.hidden_spikes
    return config, runner, train_chunk


def _layered_way(way, n_hidden, chunk, project, rng):
    """A layered rule's workload (its model file of :data:`LAYERED_WAYS` at 784-``n_hidden``-10),
    its compiled runner and a function that trains one chunk and returns its hidden spike
    count."""
    from brian2 import mV
    from .layered import LayeredConfig, LayeredRunner
    model = load_model(LAYERED_WAYS[way])
    overrides = {}
    if way == "bpstdp":
        # theta_o = 0.025 H (BP-STDP Table 1), as the model file sets it for its own H
        overrides["output"] = {**model.neurons["output"].params, "theta": 0.025 * n_hidden * mV}
    config = LayeredConfig.from_model(model, 784, 10, chunk=chunk, **overrides)
    config = dataclasses.replace(config, sizes=[config.sizes[0], n_hidden, config.sizes[-1]],
                                 layer_neurons={})
    config.validate()
    runner = LayeredRunner(config, "cpp", project, cache=False)
    state = config.initial_state(rng)

    def train_chunk(x, y_onehot, seed) -> float:
        nonlocal state
        state, result = runner.run_state(x, y_onehot, state, learn=True, seed=seed)
        return result.hidden_spikes
    return config, runner, train_chunk


def _run_in_subprocess(way: str, n_hidden: int, duration_ms: float, chunk, n_chunks, images,
                       log, profile: bool = False, copies: int = DEFAULT_COPIES) -> dict:
    args = json.dumps([way, n_hidden, duration_ms, chunk, n_chunks, str(images), profile,
                       copies])
    proc = subprocess.run([sys.executable, "-m", "sbp_brian.bench", args], capture_output=True,
                          text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("[bench]"):
            log(line)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"benchmark way {way!r} failed:\n{tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def benchmark_suite(ways=WAYS,
                    sizes=(100, 500, 1000, 2000), durations=(50.0,), chunk=None, n_chunks=None,
                    out="bench/results.json", profile: bool = False, log=print,
                    copies: int = DEFAULT_COPIES) -> dict:
    """Run every way at 784-500-10 for each duration, and the compiled way at every size."""
    unknown = sorted(set(ways) - set(WAYS))
    if unknown:
        raise ValueError(f"unknown benchmark way(s) {unknown}; choose from {list(WAYS)}")
    # checked before anything runs, so that a bad value does not fail after minutes of work
    for name, value in (("chunk", chunk), ("chunks", n_chunks), ("copies", copies),
                        *(("hidden size", size) for size in sizes)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if any(not duration > 0 for duration in durations):
        raise ValueError(f"sample durations must be > 0 ms, got {list(durations)}")
    most = max(c * n for c, n in DEFAULT_SAMPLES.values()) if chunk is None else chunk * (
        n_chunks or 3)
    x, y, source = _images(most, np.random.default_rng(0))
    folder = new_build_folder()  # the images (~100 MB)
    try:
        images = folder / "images.npz"
        np.savez(images, x=x, y=y, source=source)
        del x, y
        runs, skipped, scaling = _run_suite(ways, sizes, durations, chunk, n_chunks, images,
                                            profile, log, copies)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for r in runs:  # ratios to our default path in the same run, at the same sample duration
        # (a layered rule, at its own model file's duration, against the first one asked for)
        duration = durations[0] if r["way"] in LAYERED_WAYS else r["requested_duration_ms"]
        ours = [o for o in runs if o["way"] == "compiled"
                and o["requested_duration_ms"] == duration]
        r["speedup_of_compiled"] = (ours[0]["samples_per_second_median"]
                                    / r["samples_per_second_median"]) if ours else None
    result = {
        "workload": "784-N-10 SBP training (STP, STDP accumulation, paper SBP step per sample); "
                    "the bpstdp, glsnn and brp ways: that rule on 784-500-10 with its model "
                    "file's settings",
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "runs": runs, "hidden_size_scaling": scaling, "skipped": skipped,
    }
    if out:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        plot_results(result, out.with_suffix(".png"))
    return result


def _run_suite(ways, sizes, durations, chunk, n_chunks, images, profile, log, copies):
    """Every way at 784-500-10 per duration, then the compiled way at every size, each in
    its own subprocess on the images in ``images``."""
    runs, skipped = [], {}
    for duration in durations:
        for way in ways:
            if way in LAYERED_WAYS and duration != durations[0]:
                continue  # at its own model file's sample duration: once
            reason = unavailable(way)
            if reason:
                skipped[way] = reason
                log(f"[bench] {way}: skipped ({reason})")
                continue
            runs.append(_run_in_subprocess(way, 500, duration, chunk, n_chunks, images, log,
                                           profile=profile and way != "openmp", copies=copies))
    scaling = []
    if "compiled" in ways:
        for n_hidden in sizes:
            known = [r for r in runs if r["way"] == "compiled" and r["n_hidden"] == n_hidden
                     and r["requested_duration_ms"] == durations[0]]
            scaling.append(known[0] if known else _run_in_subprocess(
                "compiled", n_hidden, durations[0], chunk, n_chunks, images, log))
    return runs, skipped, scaling


def plot_results(result: dict, path) -> None:
    """Bar chart of samples/s per way and the compiled way's rate against hidden size."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    scaling = result["hidden_size_scaling"]
    fig, axes = plt.subplots(1, 2 if scaling else 1, figsize=(11, 4.5) if scaling else (6, 4.5),
                             squeeze=False)
    ax1 = axes[0, 0]
    runs = result["runs"]
    labels = [f"{r['way']}, T = {r['sample_duration_ms']:g} ms"
              + (f", dt = {r['dt_ms']:g} ms" if r.get("rule") in LAYERED_WAYS else "")
              for r in runs]
    rates = [r["samples_per_second_median"] for r in runs]
    ax1.barh(range(len(runs)), rates, color="C0")
    ax1.set_yticks(range(len(runs)), labels)
    ax1.invert_yaxis()
    if runs:  # (every way skipped: an empty panel, with the reasons in the JSON)
        ax1.set_xscale("log")
        # bars start at the power of ten below the slowest way, not at an automatic limit
        # that would make a 1.6x difference look like 20x
        ax1.set_xlim(left=10 ** np.floor(np.log10(min(rates))), right=max(rates) * 3)
        for k, rate in enumerate(rates):
            ax1.text(rate * 1.05, k, f"{rate:.1f}", va="center", fontsize=8)
    else:
        ax1.text(0.5, 0.5, "no way could run here", ha="center", transform=ax1.transAxes)
    ax1.set_xlabel("training samples/s (log scale)")
    ax1.set_title("784-500-10 (SBP: dt = 0.1 ms)")
    if scaling:  # without hidden-size runs (``--sizes`` given no value) the panel is left out
        ax2 = axes[0, 1]
        n = [r["n_hidden"] for r in scaling]
        ax2.plot(n, [r["samples_per_second_median"] for r in scaling], "o-", label="samples/s")
        ax2.set_xlabel("hidden neurons")
        ax2.set_ylabel("training samples/s")
        ax2.set_title(f"compiled, T = {scaling[0]['sample_duration_ms']:g} ms")
        ax2.set_xscale("log")
        ax2.set_yscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":  # one way in a child process: prints its record as the last line
    way, n_hidden, duration_ms, chunk, n_chunks, images, profile, copies = json.loads(sys.argv[1])
    record = run_way(way, n_hidden, duration_ms, chunk, n_chunks, images=images, profile=profile,
                     log=lambda line: print(line, flush=True), copies=copies)
    print(json.dumps(record))
