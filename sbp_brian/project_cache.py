"""A cache of compiled ``cpp_standalone`` projects: a configuration compiled once on this machine is
not compiled again by a later run, a resumed run, or another worker of a comparison.

Why it is safe: Brian2's ``cpp_standalone`` device writes a project's source files only when their
content changed, and the project's makefile rebuilds exactly the objects whose sources or
headers are newer than them (``make.deps``) or all of them when the makefile (compiler flags)
changed.  A project folder seeded with an earlier build's sources, objects and binary
therefore compiles only what differs from that build (``main.cpp``, whose text Brian2
writes differently in every process, is kept when it is the same program: :func:`same_main`).
A cache entry that does not match (another package version, a changed template) costs compile
time, never correctness; the key only decides which earlier build is the likely match.
(Seeding a new configuration from another one's build does not pay: another SBP mode or
option changes the declarations in ``objects.h``, which every code object includes, so all of
them were compiled again.)

Only ``cpp_standalone`` projects are cached: brian2cuda's makefile tracks neither headers nor
its own flags, so a seeded CUDA project could link objects compiled against an older header.

Builds of one key are serialised by a lock file (``.locks/KEY``, ``flock``): workers of a
sweep that start the same configuration at once compile it once, the others wait and then
restore the entry, instead of all compiling it side by side on the same cores.

An entry holds what a build produces except ``static_arrays/`` and ``results/`` (the
data, rewritten by every build and run).  Entries are written to a temporary folder and
renamed into place, so a reader never sees half an entry; the least recently used entries
beyond :data:`MAX_ENTRIES` are removed.

Where: ``$SBP_BRIAN_CACHE_DIR`` if set (an empty value or ``off`` switches the cache
off), else ``$XDG_CACHE_HOME/sbp_brian/projects`` (``~/.cache/sbp_brian/projects``).  The key
includes this CPU's model and flags because projects may be compiled with ``-march=native``
(a home folder shared by different cluster nodes gets one entry per kind of CPU), and the
compiler, whose upgrade make would not notice.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["cache_root", "project_key", "schedule_digest", "build", "restore", "store",
           "same_main", "summary", "MAX_ENTRIES"]

#: Entries kept (a few MB each for a CPU project); the least recently used go first.
MAX_ENTRIES = 32
#: What a build writes that is data, not compiled code: never cached.
_DATA_FOLDERS = ("static_arrays", "results")


def cache_root() -> Path | None:
    """The cache folder, or ``None`` when switched off (``SBP_BRIAN_CACHE_DIR`` empty/off)."""
    chosen = os.environ.get("SBP_BRIAN_CACHE_DIR")
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "off") else Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sbp_brian" / "projects"


def summary() -> str:
    """One line for ``sbp-brian doctor``: where the cache is, what it holds."""
    root = cache_root()
    if root is None:
        return "off (SBP_BRIAN_CACHE_DIR)"
    entries = [entry for entry in root.iterdir() if not entry.name.startswith(".")] \
        if root.is_dir() else []
    size = sum(path.stat().st_size for entry in entries for path in entry.rglob("*")
               if path.is_file() and not path.is_symlink())
    return f"{root}: {len(entries)} compiled project(s), {size / 2**20:.1f} MB"


def _cpu_identity() -> str:
    """This CPU's model name and feature flags (Linux), else the platform's processor."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    wanted = ("model name", "flags", "Features", "CPU part")
    return "\n".join(sorted({line for line in lines if line.split(":")[0].strip() in wanted}))


def _compiler_identity() -> list:
    """The C++ compiler make will call (``$CXX``, else g++): its path and modification time,
    so that an upgraded compiler starts new entries (make itself would not notice it)."""
    found = shutil.which(os.environ.get("CXX") or "g++")
    if found is None:
        return []
    found = os.path.realpath(found)
    return [found, os.stat(found).st_mtime]


def project_key(description: dict, target: str) -> str:
    """The key of a ``target`` project described by ``description`` (what decides its
    generated code), built on this machine's CPU with this Brian2 and package version."""
    import brian2

    from . import __version__
    material = {"project": description, "target": target, "brian2": brian2.__version__,
                "sbp_brian": __version__, "machine": platform.machine(), "cpu": _cpu_identity(),
                "compiler": _compiler_identity()}
    try:
        import brian2cuda
        material["brian2cuda"] = brian2cuda.__version__
    except ImportError:
        pass
    text = json.dumps(material, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def schedule_digest(input_schedule) -> list | None:
    """A key-friendly digest of fixed input spikes (``(indices, times)``; None: none)."""
    if input_schedule is None:
        return None
    return [hashlib.sha256(np.asarray(part, dtype=float).tobytes()).hexdigest()
            for part in input_schedule]


def build(description: dict | None, target: str, build_dir) -> tuple[bool, float]:
    """Compile the standalone project of the network just run (``device.build``) in
    ``build_dir``, seeded from the cache entry of ``description`` and stored there after
    (``description`` None, or a target other than cpp: no cache).  Returns whether the cache
    had an entry and the seconds the build took."""
    from brian2 import device

    start = time.perf_counter()
    key = project_key(description, target) if description is not None and target == "cpp" \
        else None
    with _build_lock(key):
        hit = key is not None and restore(key, build_dir)
        if hit:
            _build_keeping_main(Path(build_dir))
        else:
            device.build(directory=str(build_dir), compile=True, run=False, with_output=False)
        if key is not None:
            store(key, build_dir)
    return hit, time.perf_counter() - start


#: A line of ``main.cpp`` that sets a clock's start (``_array_<clock>_timestep[0] = 0;`` or
#: ``..._t[0] = 0.0;``): Brian2 writes one pair per clock, in the order of a set of clocks,
#: which changes from process to process.
_CLOCK_START = re.compile(r"^\s*_array_\w*clock_(timestep|t)\[0\] = [^;]*;\s*$")
#: A line that sets a clock's step (``_array_<clock>_dt[0] = 0.0001;``): written again for
#: every earlier build in the same process, so repeated there.
_CLOCK_STEP = re.compile(r"^\s*_array_\w*clock_dt\[0\] = [^;]*;\s*$")


def _main_lines(text: str) -> list[str]:
    """The lines of a ``main.cpp``, a clock's step set again right after it was set to the
    same value counted once (the same assignment twice: the same program)."""
    lines: list[str] = []
    for line in text.splitlines():
        if not (lines and line == lines[-1] and _CLOCK_STEP.match(line)):
            lines.append(line)
    return lines


def same_main(new: str, old: str) -> bool:
    """Whether two ``main.cpp`` texts are the same program written by Brian2 in two processes:
    equal but for the order in which they set their clocks' starts (independent assignments)
    and for clock steps set again to the same value (:func:`_main_lines`)."""
    a, b = _main_lines(new), _main_lines(old)
    return (len(a) == len(b) and sorted(a) == sorted(b)
            and all(x == y or (_CLOCK_START.match(x) and _CLOCK_START.match(y))
                    for x, y in zip(a, b)))


def _build_keeping_main(build_dir: Path) -> None:
    """``device.build`` into a project seeded from the cache, keeping the cached ``main.cpp``
    (and its modification time) when the new one is the same program (:func:`same_main`).
    Brian2 writes a source file only when its text changed, but the text of ``main.cpp``
    changes from process to process, and make then compiled it and regenerated the
    dependencies of every source again: about 3 s for each training started from a cached
    project (the digits model here)."""
    from brian2 import device
    from brian2.codegen.cpp_prefs import get_compiler_and_args

    main = build_dir / "main.cpp"
    cached = main.read_text() if main.exists() else None
    times = main.stat() if main.exists() else None
    device.build(directory=str(build_dir), compile=False, run=False, with_output=False)
    if cached is not None and same_main(main.read_text(), cached):
        main.write_text(cached)
        os.utime(main, ns=(times.st_atime_ns, times.st_mtime_ns))
    compiler, _ = get_compiler_and_args()
    device.compile_source(str(build_dir), compiler, debug=False, clean=False)


@contextlib.contextmanager
def _build_lock(key: str | None):
    """Hold the lock of ``key``'s builds (module docstring); no lock without a key or where
    the cache folder cannot be written."""
    root = cache_root()
    if key is None or root is None:
        yield
        return
    try:
        (root / ".locks").mkdir(parents=True, exist_ok=True)
        handle = open(root / ".locks" / key, "w")
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
        yield


def _copy_project(source: Path, destination: Path) -> None:
    """Copy a project's code, objects and binary (modification times kept), not its data."""
    def data_folders(folder, names):  # called by copytree for every folder it copies
        return [name for name in names if name in _DATA_FOLDERS] if folder == str(source) else []
    shutil.copytree(source, destination, symlinks=True, ignore=data_folders, dirs_exist_ok=True)


def restore(key: str, build_dir) -> bool:
    """Seed ``build_dir`` with the cached build ``key``; ``True`` when there was one.  Only
    an empty or new ``build_dir`` is seeded (a folder that holds a build already is left to
    make).  A failed copy (e.g. of an entry being replaced meanwhile) leaves it empty again:
    half a copy could pair a source with an object file of another build."""
    root = cache_root()
    entry = None if root is None else root / key
    build_dir = Path(build_dir)
    if entry is None or not entry.is_dir() or (build_dir.exists() and any(build_dir.iterdir())):
        return False
    try:
        _copy_project(entry, build_dir)
    except OSError:
        for child in build_dir.iterdir() if build_dir.is_dir() else ():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        return False
    with contextlib.suppress(OSError):
        os.utime(entry)  # the least recently used entries are pruned first
    return True


def store(key: str, build_dir) -> None:
    """Put the compiled project in ``build_dir`` into the cache as ``key`` (replacing an
    older entry); best effort: a cache that cannot be written is skipped silently."""
    root = cache_root()
    if root is None:
        return
    try:
        root.mkdir(parents=True, exist_ok=True)
        fresh = Path(tempfile.mkdtemp(prefix=".new-", dir=root))
    except OSError:
        return
    try:
        _copy_project(Path(build_dir), fresh)
        entry = root / key
        if entry.exists():  # moved aside first: a directory cannot be renamed over another
            old = Path(tempfile.mkdtemp(prefix=".old-", dir=root))
            os.replace(entry, old / "entry")
            shutil.rmtree(old, ignore_errors=True)
        os.rename(fresh, entry)
        _prune(root)
    except OSError:  # e.g. another process stored the same key meanwhile: keep theirs
        pass
    finally:
        shutil.rmtree(fresh, ignore_errors=True)


def _prune(root: Path) -> None:
    """Remove the least recently used entries beyond :data:`MAX_ENTRIES`, and the temporary
    folders of stores that were killed half-way (older than an hour)."""
    entries = []
    for entry in root.iterdir():
        try:
            used = entry.stat().st_mtime
        except FileNotFoundError:  # removed by another process meanwhile
            continue
        if not entry.name.startswith("."):
            entries.append((used, entry))
        elif entry.name != ".locks" and time.time() - used > 3600:
            shutil.rmtree(entry, ignore_errors=True)  # not another process's entry in the making
    for _, entry in sorted(entries, reverse=True)[MAX_ENTRIES:]:
        shutil.rmtree(entry, ignore_errors=True)
