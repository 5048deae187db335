#!/usr/bin/env bash
# old (HEAD bfe4b4a) vs new (working tree: filter gradient by taps), alternated
out=/work/runs/pair_taps.log
for net in vgg16 resnet18 fast94_muon; do
  if [ $net = fast94_muon ]; then order="old new new old"; steps=2; else order="old new new old"; steps=6; fi
  for tag in $order; do
    tree=/work/head_tree; [ $tag = new ] && tree=/work/main
    (cd $tree && PYTHONPATH=$tree STEPS=$steps ROUNDS=3 TAG="$net $tag" /work/main/.venv/bin/python /work/main/docs/results/engine/steppair.py --recipe=$net --data_source=synthetic --precision=mixed_bfloat16 2>&1 | grep RESULT >> $out)
  done
done
echo "done $(date +%T)" >> $out
