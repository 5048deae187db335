#!/usr/bin/env bash
# run.sh TAG TREE SEED [extra flags...]: one time-to-accuracy run, logged to /work/runs/tta/TAG.log
tag=$1; tree=$2; seed=$3; shift 3
cd $tree
rm -rf /tmp/tta/$tag
start=$(date +%s.%N)
PYTHONPATH=$tree /work/main/.venv/bin/python -m convnet.train --data_dir=/work/shared/data/cifar10 --nodownload \
  --train_dir=/tmp/tta/$tag --seed=$seed "$@" > /work/runs/tta/$tag.log 2>&1
rc=$?
echo "exit $rc at $(date); wall from launch to exit $(echo "$(date +%s.%N) - $start" | bc) s" >> /work/runs/tta/$tag.log
