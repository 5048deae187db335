#!/usr/bin/env bash
# TF_ENABLE_ONEDNN_OPTS=0 (TensorFlow's default on a CPU without AVX-512 VNNI/BF16/AMX) vs 1,
# alternated, float32 step of each recipe (steppair.py: rounds of STEPS steps + a paired matmul round).
cd /work/main
for net in ${NETS:-resnet20 resnet56 resnet18 vgg16 densenet100_12}; do
  for rep in 1 2; do
    for opt in 0 1; do
      echo "== $net onednn=$opt rep=$rep $(date +%T)"
      TF_ENABLE_ONEDNN_OPTS=$opt PYTHONPATH=/work/main STEPS=${STEPS:-3} ROUNDS=${ROUNDS:-3} TAG=onednn$opt \
        .venv/bin/python docs/results/engine/steppair.py --recipe=$net --precision=float32 \
        --data_source=synthetic 2>&1 | grep -v -E "cuda|cuInit|absl|rebuild|instructions"
    done
  done
done
