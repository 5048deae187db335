#!/usr/bin/env bash
# run.sh RECIPE [extra flags...]: trains one zoo recipe to its end (or resumes it: convnet's
# resume is exact), train_dir outside the checkout in $ZOO_RUNS (default /work/zoo_runs), log
# appended to $ZOO_RUNS/RECIPE$ZOO_TAG.log (ZOO_TAG, e.g. _seed1: runs of one recipe apart).
# Precision: auto (bfloat16 on avx512_bf16/AMX CPUs).
# The data: the shared CIFAR-10 (or MNIST for *_mnist recipes) in ../shared/data. The code:
# the checkout this script is in (a clone at a fixed commit, so that work in progress elsewhere
# cannot change a run that resumes).
set -u
tree=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
recipe=$1; shift
runs=${ZOO_RUNS:-/work/zoo_runs}
data=${ZOO_DATA:-/work/shared/data}
case $recipe in *mnist*) data_dir=$data/mnist ;; *) data_dir=$data/cifar10 ;; esac
mkdir -p "$runs"
name=$recipe${ZOO_TAG:-}
log=$runs/$name.log
{ echo "== launch $(date -u +%FT%TZ) on $(hostname): $(grep -o 'avx512_bf16\|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')";
  echo "== git $(git -C "$tree" rev-parse --short HEAD) in $tree"; } >> "$log"
start=$(date +%s.%N)
cd "$tree" && PYTHONPATH=$tree python -m convnet.train --recipe="$recipe" --precision=auto --data_dir="$data_dir" --nodownload \
  --train_dir="$runs/$name" --eval_at_end "$@" >> "$log" 2>&1
rc=$?
echo "== exit $rc at $(date -u +%FT%TZ); wall from launch to exit $(echo "$(date +%s.%N) - $start" | bc) s" >> "$log"
exit $rc
