#!/usr/bin/env bash
# old (e2be83d: strided slice + pad) vs new (working tree: ops.subsample_and_pad), alternated
out=/work/probe/pair_shortcut.log
for net in resnet20 resnet56; do
  for tag in old new new old old new; do
    tree=/work/ab_old; [ $tag = new ] && tree=/work/main
    (cd $tree && PYTHONPATH=$tree STEPS=20 ROUNDS=3 TAG="$net $tag" /work/main/.venv/bin/python /work/main/docs/results/engine/steppair.py --recipe=$net --data_source=synthetic --precision=mixed_bfloat16 --batch_size=128 --optimizer=sgd 2>&1 | grep RESULT >> $out)
  done
done
echo "done $(date +%T)" >> $out
