#!/usr/bin/env bash
R=/work/runs/tta/run.sh
echo "start $(date +%T)" >> /work/runs/tta/queue1.txt
$R f93_old_s0 /work/old23097ba 0 --recipe=fast93_muon; echo "1 done $(date +%T)" >> /work/runs/tta/queue1.txt
$R f93_new_s0 /work/new_tree 0 --recipe=fast93_muon; echo "2 done $(date +%T)" >> /work/runs/tta/queue1.txt
$R f93_b1000e6_s0 /work/new_tree 0 --recipe=fast93_muon --batch_size=1000 --epochs=6 --learning_rate=3.3124; echo "3 done $(date +%T)" >> /work/runs/tta/queue1.txt
$R f93_b1000e5_s0 /work/new_tree 0 --recipe=fast93_muon --batch_size=1000 --epochs=5 --learning_rate=3.3124; echo "4 done $(date +%T)" >> /work/runs/tta/queue1.txt
