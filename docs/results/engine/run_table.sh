#!/usr/bin/env bash
# Item 2 of issue 29: each network x precision, convnet vs PyTorch (and Keras), one sitting.
# PRECISIONS=float32 on a machine without bfloat16 (AVX2 only); STEPS, REPEATS as the bench's.
cd /work/main
out=${OUT:-/tmp/bench_table}/$1
mkdir -p $out
for net in resnet20 resnet56 resnet18 vgg16 densenet100_12 fast94_muon; do
  for prec in ${PRECISIONS:-mixed_bfloat16 float32}; do
    echo "== $net $prec $(date +%T)" >> $out/progress.txt
    .venv/bin/python -m convnet.bench --recipe=$net --data_source=synthetic --precision=$prec \
      --steps=${STEPS:-4} --repeats=${REPEATS:-3} --peer=torch --peer_python=/work/torchvenv/bin/python \
      --output=$out/${net}_${prec}.json > $out/${net}_${prec}.log 2>&1
  done
done
echo "done $(date +%T)" >> $out/progress.txt
