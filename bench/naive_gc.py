"""Why the naive Brian2 loop's speed depends on whether its Cython code compiled in the process.

    python bench/naive_gc.py [--cold] [--out FILE.json]

Times the ``naive`` benchmark way (runtime Cython, one ``run()`` per sample, the paper-sized
workload; :func:`sbp_brian.bench.run_way`) twice in fresh processes: as the benchmark runs it,
and with Python's cyclic garbage collector frozen (``gc.freeze()``) after the first sample, which
is where the benchmark's timing starts.  ``--cold`` empties Brian2's Cython cache (its
``get_cython_cache_dir()``, ``~/.cython/brian_extensions`` by default) before each, so that both
compile their code objects in the process, as on a first run.  Each line gives the timed
chunks' samples/s, the first sample's seconds (code generation and compilation) and the
objects the collector tracks at the end; ``--out`` also writes them to a JSON file (the
artifact of docs/speed.md's garbage-collector table, with ``--cold`` and without in one file).

Each ``run()`` allocates enough Python objects to trigger full collections, whose cost grows
with every object alive, so a process that compiled its Cython code simulates more slowly than
one that found it cached; the measured numbers are in docs/speed.md (``bench/naive_gc.json``).
"""
from __future__ import annotations

import argparse
import gc
import json
import shutil
import subprocess
import sys
from pathlib import Path


def measure(freeze: bool) -> dict:
    """One naive-way timing in this process, with the collector frozen after the first
    sample when ``freeze``."""
    from sbp_brian import train
    from sbp_brian.bench import run_way
    if freeze:
        run = train._RuntimeRunner.run
        calls = []

        def run_then_freeze(self, *args, **kwargs):
            out = run(self, *args, **kwargs)
            calls.append(1)
            if len(calls) == 1:  # after the untimed first sample
                gc.collect()
                gc.freeze()
            return out
        train._RuntimeRunner.run = run_then_freeze
    record = run_way("naive", log=lambda line: None)
    return {"gc_frozen": freeze, "inputs": record["inputs"],
            "samples_per_second": record["samples_per_second"],
            "first_sample_seconds": record["compile_or_first_sample_seconds"],
            "tracked_objects_at_end": len(gc.get_objects())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true",
                        help="empty Brian2's Cython cache before each timing")
    parser.add_argument("--out", help="add this run's records to a JSON file (kept by cache "
                                      "state: warm, cold)")
    parser.add_argument("--child", choices=["plain", "frozen"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child == "frozen")))
        return
    from brian2.codegen.runtime.cython_rt.extension_manager import get_cython_cache_dir
    records = []
    for mode in ("plain", "frozen"):
        if args.cold:
            shutil.rmtree(get_cython_cache_dir(), ignore_errors=True)
        out = subprocess.run([sys.executable, __file__, "--child", mode], check=True,
                             capture_output=True, text=True).stdout
        print(out.strip().splitlines()[-1])
        records.append(json.loads(out.strip().splitlines()[-1]))
    if args.out:
        path = Path(args.out)
        data = json.loads(path.read_text()) if path.exists() else {}
        data["cold" if args.cold else "warm"] = records
        path.write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
