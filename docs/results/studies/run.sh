#!/usr/bin/env bash
# run.sh STUDY: one of the two studies of convnet.compare, output in docs/results/studies/STUDY
# (tables, results.json, PNG curves), runs in $STUDY_RUNS/STUDY (default /work/study_runs),
# log in $STUDY_RUNS/STUDY.log. The code: the checkout this script is in.
#   six_models: baseline, lenet5, alexnet, vgg16, resnet18, inception on the shared CIFAR-10,
#               15 minutes of training each (--time_budget=15m)
#   mnist:      lenet5_mnist, alexnet_mnist, resnet20_mnist on MNIST, 5 epochs each
set -u
study=$1
tree=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
runs=${STUDY_RUNS:-/work/study_runs}
data=${STUDY_DATA:-/work/shared/data}
case $study in
  six_models) args=(--time_budget=15m --data_dir=$data/cifar10) ;;
  mnist) args=(--models=lenet5_mnist,alexnet_mnist,resnet20_mnist --epoch_budget=5
               --data_dir=$data/mnist) ;;
  *) echo "unknown study $study: six_models or mnist" >&2; exit 2 ;;
esac
mkdir -p "$runs"
log=$runs/$study.log
{ echo "== launch $(date -u +%FT%TZ): $(grep -o 'avx512_bf16\|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')";
  echo "== git $(git -C "$tree" rev-parse --short HEAD) in $tree"; } >> "$log"
cd "$tree" && PYTHONPATH=$tree python -m convnet.compare "${args[@]}" --nodownload \
  --precision=auto --output_dir="$runs/$study" >> "$log" 2>&1
rc=$?
echo "== exit $rc at $(date -u +%FT%TZ)" >> "$log"
out=$tree/docs/results/studies/$study
mkdir -p "$out"
cp "$runs/$study"/{comparison.md,results.json,*.png} "$out"/ 2>/dev/null
exit $rc
