#!/usr/bin/env bash
# run.sh RECIPE...: trains each recipe on the shared CIFAR-10 (or resumes it), exports its
# checkpoint as float TFLite and ONNX, and measures both exports against the checkpoint on the
# 10,000 test images (agreement.py). Runs in $EXPORT_RUNS (default /work/export_runs); the
# results go to docs/results/export/RECIPE.json, the logs to $EXPORT_RUNS/RECIPE.log.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
runs=${EXPORT_RUNS:-/work/export_runs}
data=${EXPORT_DATA:-/work/shared/data/cifar10}
mkdir -p "$runs"
for recipe in "$@"; do
  log=$runs/$recipe.log
  echo "== $recipe $(date -u +%FT%TZ) $(grep -o 'avx512_bf16\|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')" >> "$log"
  python -m convnet.train --recipe="$recipe" --data_dir="$data" --nodownload \
    --train_dir="$runs/$recipe" >> "$log" 2>&1
  for format in tflite onnx; do
    rm -rf "$runs/$recipe.export/$format"
    python -m convnet.export --checkpoint_dir="$runs/$recipe" \
      --export_dir="$runs/$recipe.export/$format" --format=$format >> "$log" 2>&1
  done
  python "$here/agreement.py" "$runs/$recipe" "$runs/$recipe.export" "$data" \
    > "$here/$recipe.json" 2>> "$log"
  cat "$here/$recipe.json" >> "$log"
done
