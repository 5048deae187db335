#!/usr/bin/env bash
# A full epoch (and into the second) streamed from the 20 GB of shards; peak RSS by time -v, RSS
# sampled every 20 s. Run alone.
cd /work/main
D=/work/probe/stream/run_epoch; rm -rf $D
OUT=/work/probe/stream/rss_epoch.log; S=/work/probe/stream/rss_samples.log; : > $S
/usr/bin/time -v .venv/bin/python -m convnet.train --data_source=shards \
  --data_dir=/work/probe/stream/big --model=cifar10 --batch_size=128 --max_steps=13300 \
  --train_dir=$D --log_frequency=500 --save_checkpoint_steps=6650 --precision=auto > $OUT 2>&1 &
T=$!
sleep 5
while kill -0 $T 2>/dev/null; do
  P=$(pgrep -f "^\.venv/bin/python -m convnet.train --data_source=shards" | head -1)
  [ -n "$P" ] && echo "$(date +%T) $(ps -o rss= -p $P)" >> $S
  sleep 20
done
wait $T; echo "exit $?" >> $OUT
