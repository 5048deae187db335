#!/usr/bin/env bash
# Run alone (nothing else on the CPU): engine probes of 2026-12-07.
set -u
cd $(dirname "$0")
PY=/work/main/.venv/bin/python; TPY=/work/torchvenv/bin/python
F='^WARNING\|oneDNN custom\|cpu_feature\|^I0000\|^E0000\|^W0000\|rebuild'
date -u; grep -o 'avx512_bf16\|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' '; echo
echo "== shortcut"; $PY shortcut.py 2>&1 | grep -v "$F"
for m in resnet20 vgg16; do
  ONEDNN_VERBOSE=1 $PY tfstep.py $m 128 > tf_$m.log 2>&1
  ONEDNN_VERBOSE=1 $TPY torchstep.py $m 128 > torch_$m.log 2>&1
  echo "== $m TF"; $PY agg.py tf_$m.log | head -14
  echo "== $m torch"; $PY agg.py torch_$m.log | head -14
done
echo "== winograd"; cd $(dirname "$0") && $PY winograd_f2x2_3x3.py 2>&1 | grep -v "$F"
date -u
