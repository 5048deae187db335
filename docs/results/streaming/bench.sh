#!/usr/bin/env bash
# The bench of resnet20_fast on the shared CIFAR-10, --cache=memory and --cache=none alternated.
cd /work/main
for cache in memory none memory none; do
  echo "== cache=$cache $(date -u +%T)"
  .venv/bin/python -m convnet.bench --recipe=resnet20_fast --data_dir=/work/shared/data/cifar10 \
    --nodownload --nokeras --steps=4 --repeats=3 --cache=$cache \
    --output=/work/probe/stream/bench_$cache.$(date +%s).json 2>&1 \
    | grep -v "^I0000\|^WARNING: All\|^W0000\|^E0000\|^To enable"
done
