"""One switch for the code-generation target, and a report of which targets work here.

Targets:

* ``numpy``  -- Brian2 runtime mode, numpy code (no compiler; slowest);
* ``cython`` -- runtime mode, Cython-compiled code objects (first compile ~1 min);
* ``cpp``    -- ``cpp_standalone``: the whole simulation compiled to one C++ program;
* ``cuda``   -- brian2cuda's ``cuda_standalone``: the same, compiled with nvcc for a GPU.

:func:`use_target` selects one.  When ``cuda`` is asked for on a machine where
it cannot run, it falls back to ``cpp`` with a warning, unless
``compile_only=True`` (generate and compile the CUDA project without running
it, e.g. to check a model on a machine without a GPU).  The preferences that
brian2cuda needs with a pip-installed cuRAND and a CUDA 13 toolchain (C++17,
cuRAND include/library paths, GPU detection off when compiling only) are set
here, not by the user.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import brian2
from brian2 import prefs, set_device

__all__ = ["TARGETS", "use_target", "reset_target", "doctor", "TargetStatus",
           "configure_cuda", "cuda_toolkit", "gpu_names", "canonical_target", "network_clock"]

TARGETS = ("numpy", "cython", "cpp", "cuda")
_ALIASES = {"runtime": "numpy", "cpp_standalone": "cpp", "cuda_standalone": "cuda"}

#: C++ flags added to Brian2's (``-O3 -ffast-math -march=native``) for ``cpp`` projects.
#: ``-funroll-loops``: the 784-500-10 training workload ran at 151 against 144 samples/s (four
#: alternating builds each, identical spikes and weights); ``-flto``, ``-O2`` and
#: profile-guided optimisation did not help (docs/speed.md).
CPP_EXTRA_COMPILE_ARGS = ("-funroll-loops",)


def network_clock(dt, name: str) -> brian2.Clock:
    """The clock every group and synapse of a training network steps on, at the model file's
    ``dt``: a clock of its own, or under brian2cuda Brian2's default clock, its ``dt`` set.
    brian2cuda 1.0b1's synaptic pathway template reads the default clock's C++ object
    (``defaultclock.timestep``, templates/synapses.cu) whatever clock the pathway runs on, so
    a network whose objects all run on another clock fails nvcc with "identifier
    defaultclock is undefined"."""
    if type(brian2.get_device()).__name__ == "CUDAStandaloneDevice":
        brian2.defaultclock.dt = dt
        return brian2.defaultclock
    return brian2.Clock(dt=dt, name=name)

#: Compute capability used when compiling CUDA code without a GPU to ask (H100).
DEFAULT_COMPUTE_CAPABILITY = 9.0
BRIAN2CUDA_VERSION = "1.0b1"


class TargetError(ValueError):
    """An unknown target name, or a target that cannot work on this machine."""


def canonical_target(name: str) -> str:
    """Map ``cpp_standalone``/``cuda_standalone``/``runtime`` aliases to a target name."""
    key = _ALIASES.get(name, name)
    if key not in TARGETS:
        raise TargetError(f"unknown target {name!r}; expected one of {', '.join(TARGETS)} "
                          f"(or {', '.join(_ALIASES)})")
    return key


def reset_target() -> None:
    """Forget all objects and return to runtime mode (between standalone builds)."""
    from brian2.devices import reinit_and_delete
    reinit_and_delete()
    set_device("runtime")
    prefs.codegen.target = "numpy"
    prefs.devices.cpp_standalone.openmp_threads = 0


def use_target(name: str, directory: str | os.PathLike | None = None, build_on_run: bool = True,
               compile_only: bool = False, with_output: bool = False) -> str:
    """Select the code-generation target; returns the target actually used.

    Parameters
    ----------
    name : str
        One of :data:`TARGETS` (or an alias such as ``cpp_standalone``).
    directory : path, optional
        Project directory for standalone targets (default: a temporary one).
    build_on_run : bool
        Standalone only: build and run at the first ``run()`` call.
    compile_only : bool
        ``cuda`` only: configure for generating and compiling without a GPU.
    """
    target = canonical_target(name)
    reset_target()
    if target in ("numpy", "cython"):
        if target == "cython":
            problem = _cython_problem()
            if problem:
                raise TargetError(f"target 'cython' cannot work here: {problem}")
        prefs.codegen.target = target
        return target
    options = dict(directory=str(directory) if directory is not None else None,
                   build_on_run=build_on_run)
    if build_on_run:
        options["with_output"] = with_output
    if target == "cuda":
        status = _cuda_status()
        if status.usable or (compile_only and status.compiles):
            configure_cuda(run_on_gpu=not compile_only)
            set_device("cuda_standalone", **options)
            return "cuda"
        warnings.warn(f"CUDA target unavailable ({status.reason}); falling back to cpp_standalone",
                      RuntimeWarning, stacklevel=2)
    set_device("cpp_standalone", **options)
    prefs.codegen.cpp.extra_compile_args_gcc = (list(prefs.codegen.cpp.extra_compile_args_gcc)
                                                + list(CPP_EXTRA_COMPILE_ARGS))
    return "cpp"


# --------------------------------------------------------------------------------------
# CUDA toolchain
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CudaToolkit:
    path: Path
    nvcc: Path
    version: str


def cuda_toolkit() -> CudaToolkit | None:
    """Find the CUDA toolkit: ``$CUDA_PATH``, ``/usr/local/cuda``, ``/opt/cuda``, then nvcc on PATH.

    nvcc on PATH may be a wrapper script, so a directory counts only if it has
    ``bin/nvcc``; the version comes from ``nvcc --version``.
    """
    candidates = [os.environ.get("CUDA_PATH"), "/usr/local/cuda", "/opt/cuda"]
    nvcc_on_path = shutil.which("nvcc")
    if nvcc_on_path:
        candidates.append(str(Path(nvcc_on_path).resolve().parent.parent))
    for candidate in candidates:
        if not candidate:
            continue
        nvcc = Path(candidate) / "bin" / "nvcc"
        if nvcc.is_file():
            try:
                text = subprocess.run([str(nvcc), "--version"], capture_output=True, text=True,
                                      timeout=30).stdout
            except (OSError, subprocess.SubprocessError):
                continue
            match = re.search(r"release (\d+\.\d+)", text)
            if match:
                return CudaToolkit(Path(candidate), nvcc, match.group(1))
    return None


def gpu_names() -> list[str]:
    """Names of the NVIDIA GPUs that ``nvidia-smi -L`` reports (empty when none)."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    try:
        result = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return []
    if result.returncode != 0:
        return []
    return [line.strip() for line in result.stdout.splitlines() if line.startswith("GPU")]


def _curand_paths(toolkit: CudaToolkit) -> tuple[Path, Path] | None:
    """Include and library directory holding cuRAND: the toolkit's own or the nvidia-curand wheel."""
    if (toolkit.path / "include" / "curand.h").is_file():
        for lib in ("lib64", "lib"):
            if list((toolkit.path / lib).glob("libcurand.so*")):
                return toolkit.path / "include", toolkit.path / lib
    spec = importlib.util.find_spec("nvidia")
    if spec is None or not spec.submodule_search_locations:
        return None
    for base in spec.submodule_search_locations:
        for header in sorted(Path(base).glob("*/include/curand.h")):
            libdir = header.parent.parent / "lib"
            if list(libdir.glob("libcurand.so*")):
                return header.parent, libdir
    return None


def _linkable_curand_dir(libdir: Path) -> Path:
    """A directory with ``libcurand.so`` for the linker (wheels ship only ``libcurand.so.10``)."""
    if (libdir / "libcurand.so").exists():
        return libdir
    versioned = sorted(libdir.glob("libcurand.so.*"))
    # one folder of links per library folder: environments (virtual environments made and
    # removed) do not overwrite each other's links, and a removed one leaves only its own
    digest = hashlib.sha1(str(libdir.resolve()).encode()).hexdigest()[:12]
    cache = (Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sbp-brian"
             / "curand" / digest)
    cache.mkdir(parents=True, exist_ok=True)
    # the runtime loader looks for the soname, the linker for libcurand.so
    for name, target in (("libcurand.so", versioned[0]),
                         *((item.name, item) for item in versioned)):
        link = cache / name
        if link.is_symlink() and link.resolve() != target.resolve():
            link.unlink()  # dangling, or to another copy
        if not link.is_symlink():
            link.symlink_to(target)
    return cache


def configure_cuda(run_on_gpu: bool = True, compute_capability: float | None = None) -> None:
    """Set brian2cuda's preferences for this machine's toolchain.

    * CUDA path and runtime version from :func:`cuda_toolkit` (the nvcc on PATH
      may be a wrapper, which brian2cuda's own lookup misreads);
    * GPU detection off when compiling only, with ``compute_capability``
      (``$SBP_BRIAN_CUDA_CC`` or 9.0, an H100);
    * cuRAND headers and library from the ``nvidia-curand`` wheel when the
      toolkit has none;
    * C++17, which Thrust/CUB in CUDA >= 12 require (brian2 and brian2cuda
      default to C++11).
    """
    import brian2cuda  # noqa: F401  (registers the cuda_standalone device and its prefs)

    toolkit = cuda_toolkit()
    if toolkit is None:
        raise TargetError("no CUDA toolkit found (nvcc); install CUDA or set CUDA_PATH")
    backend = prefs.devices.cuda_standalone.cuda_backend
    backend.cuda_path = str(toolkit.path)
    backend.cuda_runtime_version = float(toolkit.version)
    backend.detect_cuda = False
    if run_on_gpu:
        backend.detect_gpus = True
    else:
        backend.detect_gpus = False
        backend.gpu_id = 0
        cc = compute_capability or float(os.environ.get("SBP_BRIAN_CUDA_CC",
                                                        DEFAULT_COMPUTE_CAPABILITY))
        backend.compute_capability = cc
    nvcc_args = [a for a in backend.extra_compile_args_nvcc if not a.startswith("-std=")]
    nvcc_args.append("-std=c++17")
    curand = _curand_paths(toolkit)
    if curand is None:
        raise TargetError("cuRAND not found: `pip install nvidia-curand` (the `cuda` extra does)")
    include_dir, libdir = curand
    if f"-I{include_dir}" not in nvcc_args:
        nvcc_args.insert(0, f"-I{include_dir}")
    backend.extra_compile_args_nvcc = nvcc_args
    link_dir = str(_linkable_curand_dir(libdir))
    for pref in ("library_dirs", "runtime_library_dirs"):
        dirs = list(getattr(prefs.codegen.cpp, pref))
        if link_dir not in dirs:
            setattr(prefs.codegen.cpp, pref, dirs + [link_dir])
    gcc_args = [a for a in prefs.codegen.cpp.extra_compile_args_gcc if not a.startswith("-std=")]
    prefs.codegen.cpp.extra_compile_args_gcc = gcc_args + ["-std=c++17"]


# --------------------------------------------------------------------------------------
# doctor
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TargetStatus:
    """Whether a target works here: ``usable`` (can run), ``compiles``, and why not."""

    target: str
    usable: bool
    reason: str
    compiles: bool = False


def _cxx_problem() -> str:
    cxx = os.environ.get("CXX", "g++")
    if shutil.which(cxx) is None:
        return f"no C++ compiler ({cxx}) on PATH"
    return ""


def _cython_problem() -> str:
    if importlib.util.find_spec("Cython") is None:
        return "Cython is not installed (pip install cython)"
    return _cxx_problem()


def _cuda_status() -> TargetStatus:
    if importlib.util.find_spec("brian2cuda") is None:
        return TargetStatus("cuda", False, "brian2cuda is not installed (pip install .[cuda])")
    from importlib.metadata import version
    b2c = version("brian2cuda")
    if brian2.__version__ != "2.10.1":
        return TargetStatus("cuda", False, f"brian2cuda {b2c} needs brian2 2.10.1, "
                                           f"found {brian2.__version__}")
    toolkit = cuda_toolkit()
    if toolkit is None:
        return TargetStatus("cuda", False, "no nvcc / CUDA toolkit found")
    if _curand_paths(toolkit) is None:
        return TargetStatus("cuda", False, "cuRAND not found (pip install nvidia-curand)")
    cxx = _cxx_problem()
    if cxx:
        return TargetStatus("cuda", False, cxx)
    gpus = gpu_names()
    detail = f"brian2cuda {b2c}, CUDA {toolkit.version} at {toolkit.path}"
    if not gpus:
        return TargetStatus("cuda", False, f"no NVIDIA GPU (nvidia-smi finds none); can generate "
                                           f"and compile only ({detail})", compiles=True)
    return TargetStatus("cuda", True, f"{gpus[0]}; {detail}", compiles=True)


def doctor() -> list[TargetStatus]:
    """Report, for each target, whether it works on this machine and why not."""
    report = [TargetStatus("numpy", True, f"brian2 {brian2.__version__}, "
                                          f"Python {sys.version.split()[0]}")]
    problem = _cython_problem()
    report.append(TargetStatus("cython", not problem, problem or "Cython and a C++ compiler found",
                               compiles=not problem))
    problem = _cxx_problem()
    report.append(TargetStatus("cpp", not problem, problem or
                               f"C++ compiler {os.environ.get('CXX', 'g++')} found",
                               compiles=not problem))
    report.append(_cuda_status())
    return report
