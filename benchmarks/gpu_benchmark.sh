#!/usr/bin/env bash
# Build a zoo preset and run the whole model-parsing benchmark (5 variants x 4 folds) under
# KERAS_BACKEND=jax, e.g. on a GPU host that has JAX but no TensorFlow (TFMA is skipped there).
# Usage: benchmarks/gpu_benchmark.sh OUT [ZOO_PRESET=standard] [TRAIN_PRESET=cpu] [WORKERS=5] [FOLDS=0,1,2,3]
set -euo pipefail
out=${1:?usage: gpu_benchmark.sh OUT [ZOO_PRESET] [TRAIN_PRESET] [WORKERS] [FOLDS]}
zoo=${2:-standard}; preset=${3:-cpu}; workers=${4:-5}; folds=${5:-0,1,2,3}
export KERAS_BACKEND=${KERAS_BACKEND:-jax} XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
t0=$(date +%s)
$py -m reparse_tf.cli zoo build --preset "$zoo" --out "$out/zoo" --workers "$workers"
t1=$(date +%s)
$py -m reparse_tf.cli benchmark --data "$out/zoo" --preset "$preset" --folds "$folds" --out "$out/bench" \
    --no-tfma --workers "$workers"
t2=$(date +%s)
echo "wall time: zoo $zoo $((t1 - t0)) s, benchmark (preset $preset, folds $folds) $((t2 - t1)) s" | tee "$out/wall_time.txt"
