#!/usr/bin/env bash
R=/work/runs/tta/run.sh
echo "start $(date +%T)" >> /work/runs/tta/queue3.txt
$R f94_b1000e6_s0 /work/new_tree2 0 --recipe=fast94_muon --batch_size=1000 --epochs=6 --learning_rate=0.8281; echo "1 done $(date +%T)" >> /work/runs/tta/queue3.txt
$R f94_new_s0 /work/new_tree2 0 --recipe=fast94_muon; echo "2 done $(date +%T)" >> /work/runs/tta/queue3.txt
