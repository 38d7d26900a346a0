#!/usr/bin/env bash
# The GPU measurements of docs/speed.md, prepared to fit one call of a short device lease.
#
#   here, with pip:        bash bench/gpu_check.sh fetch
#       downloads the brian2 2.10.1 and brian2cuda 1.0b1 wheels (2.6 MB) into .whl/ (ignored by
#       git); the GPU machine has Python 3.12 with numpy, sympy, jinja2, scikit-learn, tqdm,
#       pytest and nvcc, but no network and no Brian2.
#   on the GPU machine:    bash bench/gpu_check.sh run [STEP...]
#       (the device tool: command "bash bench/gpu_check.sh run", carry [".whl"], timeout_s 600)
#       installs the wheels into /tmp/site, writes doctor.txt into $OUT (./gpu_check without
#       it), then runs the STEPs (default all three, at most ~9.5 minutes together):
#         bench       bench.log, bench_cuda.json/.png: `sbp-brian bench`, brian2cuda, one
#                     network and COPIES network copies (default 50), 3 chunks each;
#         bench-more  bench_copies_more.json: MORE_COPIES copies (default 500), 2 chunks of
#                     MORE_CHUNK samples (default 25000: the copies' per-launch setup is large);
#         tests       tests.log: the GPU equivalence tests (one network and two copies against
#                     the numpy reference on identical input spikes).
#       Each step has its own time limit, so that one that hangs leaves the others' results.
#
# The bench images are seeded random images of Fashion-MNIST's mean intensity where the dataset
# is not installed (the GPU machine); the rate depends on the spikes drawn, not on the pictures.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

case "${1:-}" in
fetch)
    exec "$PYTHON" -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl brian2==2.10.1 brian2cuda==1.0b1
    ;;
run)
    out=${OUT:-gpu_check}
    mkdir -p "$out"
    ls .whl/brian2-2.10.1-*.whl .whl/brian2cuda-1.0b1-*.whl >/dev/null || {
        echo "no wheels in .whl/: run 'bash bench/gpu_check.sh fetch' first and carry .whl" >&2
        exit 2
    }
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 2
    export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
    { nvidia-smi -L; nproc; "$PYTHON" -m sbp_brian.cli doctor; } 2>&1 | tee "$out/doctor.txt"
    shift
    steps=("$@")
    [ ${#steps[@]} -gt 0 ] || steps=(bench bench-more tests)
    for step in "${steps[@]}"; do
        case "$step" in
        bench)
            timeout 210 "$PYTHON" -m sbp_brian.cli bench --ways cuda cuda-copies --sizes \
                --copies "${COPIES:-50}" --out "$out/bench_cuda.json" 2>&1 | tee "$out/bench.log"
            ;;
        bench-more)
            timeout 210 "$PYTHON" -m sbp_brian.cli bench --ways cuda-copies --sizes \
                --copies "${MORE_COPIES:-500}" --chunk "${MORE_CHUNK:-25000}" --chunks 2 \
                --out "$out/bench_copies_more.json" 2>&1 | tee -a "$out/bench.log"
            rm -f "$out/bench_copies_more.png"  # the files that come back are few
            ;;
        tests)
            timeout 150 "$PYTHON" -m pytest -q -p no:cacheprovider -o addopts="" -m cuda \
                tests/test_training.py -k gpu_fast_path 2>&1 | tee "$out/tests.log"
            ;;
        *)
            echo "unknown step $step (bench, bench-more, tests)" >&2
            ;;
        esac
    done
    ;;
*)
    echo "usage: bash bench/gpu_check.sh fetch | run [bench] [bench-more] [tests]" >&2
    exit 2
    ;;
esac
