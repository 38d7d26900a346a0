"""How a sweep scales with its Dask workers on one machine.

    python bench/sweep_scaling.py SWEEP.toml --workers 1 2 --out FILE.json [--runs DIR]

Runs ``sbp-brian sweep SWEEP.toml`` twice per worker count, each time in a fresh run folder
under ``DIR`` (default: a temporary folder): first with an empty project cache of its own
("cold": the sweep compiles what it needs), then again with that cache filled ("warm": as
every later sweep of the same configuration on the machine).  Times each from the command's
start to its end (cluster start and shutdown, compiles, training, figures) and counts from
its ``results.csv`` the compiled projects built and restored.  ``--out`` writes the walls,
the speed-up against the first worker count's and the points' rows (the artifact of
docs/speed.md's sweep table).  Run it on an otherwise idle machine: a worker per core.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(sweep: Path, workers: int, folder: Path, cache: Path, state: str) -> dict:
    """One ``sbp-brian sweep`` with ``workers`` workers in ``folder`` and the project cache
    ``cache`` (``state``: "cold", empty; "warm", filled by the cold run): wall and table."""
    env = {**os.environ, "SBP_BRIAN_CACHE_DIR": str(cache),
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "sbp_brian.cli", "sweep", str(sweep), "--out",
                           str(folder / "out"), "--workers", str(workers)],
                          env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"the sweep with {workers} workers failed:\n{done.stderr[-2000:]}")
    with open(folder / "out" / "results.csv") as handle:
        rows = list(csv.DictReader(handle))
    projects = [row["compiled_project"] for row in rows]
    return {"workers": workers, "cache": state, "wall_seconds": round(wall, 1),
            "points": len(rows),
            "built": projects.count("built"), "from_cache": projects.count("from cache"),
            "point_seconds": [float(row["wall_seconds"]) for row in rows],
            "rows": rows}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", type=Path)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, help="write the measurements to this JSON file")
    parser.add_argument("--runs", type=Path, help="the sweeps' folders (default: temporary)")
    args = parser.parse_args(argv)
    runs = args.runs or Path(tempfile.mkdtemp(prefix="sweep-scaling-"))
    results = []
    for workers in args.workers:
        folder = runs / f"workers{workers}"
        if folder.exists():
            raise SystemExit(f"{folder} exists; give --runs a new folder")
        for cache in ("cold", "warm"):
            results.append(measure(args.sweep, workers, folder / cache, folder / "cache", cache))
            print(f"{workers} worker(s), {cache} cache: {results[-1]['wall_seconds']:.1f} s, "
                  f"projects built {results[-1]['built']}, restored "
                  f"{results[-1]['from_cache']}", flush=True)
    for record in results:
        first = next(r for r in results if r["cache"] == record["cache"])
        record["speedup"] = round(first["wall_seconds"] / record["wall_seconds"], 2)
    if args.out:
        args.out.write_text(json.dumps({
            "sweep": args.sweep.read_text(), "machine": f"{os.cpu_count()} cores, "
            f"{platform.machine()}", "date": time.strftime("%Y-%m-%d"),
            "measurements": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
