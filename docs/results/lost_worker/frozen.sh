#!/usr/bin/env bash
# Two workers on localhost; SIGSTOP worker 1 after step 40 (a peer that vanishes without closing
# its sockets: a frozen process, a machine cut off); how worker 0 ends, and when.
cd /work/main
P=$(/work/main/.venv/bin/python -c "import socket;s=[socket.socket() for _ in range(2)];[x.bind(('127.0.0.1',0)) for x in s];print(' '.join(str(x.getsockname()[1]) for x in s))")
set -- $P
W="[\"127.0.0.1:$1\",\"127.0.0.1:$2\"]"
O=/work/probe/frozen; D=$O/train; rm -rf $D
FL="--model=lenet5 --dataset=mnist --data_source=synthetic --strategy=multi_worker --batch_size=8 --num_parallel_calls=1 --shuffle_buffer=64 --optimizer=sgd --log_frequency=5 --save_checkpoint_steps=20 --normalization=per_image --train_dir=$D --max_steps=100000"
for i in 0 1; do
  TF_CONFIG="{\"cluster\":{\"worker\":$W},\"task\":{\"type\":\"worker\",\"index\":$i}}" /work/main/.venv/bin/python -m convnet.train $FL > $O/w$i.log 2>&1 &
  echo $! > $O/w$i.pid
done
for t in $(seq 1 300); do grep -q "step 40," $O/w1.log && break; sleep 1; done
kill -STOP $(cat $O/w1.pid); s=$(date +%s.%N); echo "stopped worker 1 at $(date +%T)"
( sleep ${LIMIT:-300}; kill -9 $(cat $O/w0.pid) 2>/dev/null ) & guard=$!
wait $(cat $O/w0.pid); rc=$?; e=$(date +%s.%N)
echo "w0 exit $rc, $(python3 -c "print(round($e-$s,1))") s after the stop"
kill $guard 2>/dev/null; kill -9 $(cat $O/w1.pid)
tail -3 $O/w0.log
