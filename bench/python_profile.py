"""Where a benchmark way spends its Python time: a summary of a py-spy profile.

Record one way of ``sbp-brian bench`` in this process with py-spy's collapsed-stack output
(``-f raw``; py-spy counts only samples where the thread is busy, so a compiled binary's run
time, spent waiting on the child process, is left out), then summarise it below a function::

    pip install py-spy
    py-spy record -r 100 -f raw -o naive.txt -- python -c \\
        'from sbp_brian.bench import run_way; run_way("naive", chunk=10, n_chunks=2)'
    python bench/python_profile.py naive.txt _RuntimeRunner.run

Each line gives the share of the samples below ``FUNCTION`` that went through the named
frames (the ``depth`` frames under ``FUNCTION``'s last call, or under ``Network.run`` where a
stack passes through it; Brian2's ``device_override`` wrappers are left out).
"""
import argparse
import collections
import sys


def frames_of(stack: str) -> list[str]:
    """Function names of one collapsed stack, outermost first, without Brian2's wrappers."""
    return [frame.split(" (")[0] for frame in stack.split(";")
            if frame.strip() and "device_override" not in frame]


def summarise(lines, function: str, depth: int = 2) -> tuple[int, collections.Counter]:
    """Samples below ``function`` and their counts per frame path (see the module doc)."""
    paths = collections.Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        frames = frames_of(stack)
        if function not in frames:
            continue
        total += int(count)
        anchor = "Network.run" if "Network.run" in frames else function
        last = len(frames) - 1 - frames[::-1].index(anchor)
        below = frames[last + 1:last + 1 + depth]
        paths[";".join([anchor] + below) if below else f"{anchor} (itself)"] += int(count)
    return total, paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", help="py-spy record -f raw output")
    parser.add_argument("function", help="e.g. _RuntimeRunner.run or _CompiledRunner.run")
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--most", type=int, default=15)
    args = parser.parse_args(argv)
    with open(args.profile) as handle:
        total, paths = summarise(handle, args.function, args.depth)
    if not total:
        print(f"no samples below {args.function} in {args.profile}", file=sys.stderr)
        return 1
    print(f"{total} samples below {args.function}")
    for path, count in paths.most_common(args.most):
        print(f"{100 * count / total:5.1f} %  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
