#!/usr/bin/env bash
R=/work/runs/tta/run.sh
echo "start $(date +%T)" >> /work/runs/tta/queue2.txt
$R f93_b1000e6_s1 /work/new_tree 1 --recipe=fast93_muon --batch_size=1000 --epochs=6 --learning_rate=3.3124; echo "1 done $(date +%T)" >> /work/runs/tta/queue2.txt
$R f93_b500e5_s0 /work/new_tree 0 --recipe=fast93_muon --batch_size=500 --epochs=5 --learning_rate=1.6562; echo "2 done $(date +%T)" >> /work/runs/tta/queue2.txt
$R f93_b1000e6_s2 /work/new_tree 2 --recipe=fast93_muon --batch_size=1000 --epochs=6 --learning_rate=3.3124; echo "3 done $(date +%T)" >> /work/runs/tta/queue2.txt
