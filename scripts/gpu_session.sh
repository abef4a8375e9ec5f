#!/usr/bin/env bash
# One device call: the GPU tests of the kernels and runtime, then the benchmark, into $OUT.
#   OUT=/some/dir bash scripts/gpu_session.sh [tests|bench|all] [bench args...]
# Each step has its own time limit so that one slow step still leaves the others' results.
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
what=${1:-all}; shift || true
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$OUT/card.txt"
if [[ $what == tests || $what == all ]]; then
  timeout 300 python -m pytest -q -m gpu -p no:cacheprovider \
    tests/test_split_kv.py tests/test_special_values.py tests/test_hostile_inputs.py \
    tests/test_backends.py tests/test_debug.py 2>&1 | tail -25 > "$OUT/gpu_tests.txt"
  echo "exit ${PIPESTATUS[0]}" >> "$OUT/gpu_tests.txt"
fi
if [[ $what == bench || $what == all ]]; then
  timeout 280 python -m explorer bench --out "$OUT/bench" "$@" > "$OUT/bench_log.txt" 2>&1
  echo "exit $?" >> "$OUT/bench_log.txt"
fi
if [[ $what == grid ]]; then
  timeout 500 python -m pytest -q -m gpu -p no:cacheprovider tests/test_gpu_kernels.py \
    2>&1 | tail -25 > "$OUT/gpu_grid.txt"
  echo "exit ${PIPESTATUS[0]}" >> "$OUT/gpu_grid.txt"
fi
tail -n 3 "$OUT"/*.txt
