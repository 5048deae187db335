#!/usr/bin/env bash
# Makes the README's TensorBoard screenshots (docs/tensorboard/*.png) from a real run: the
# tutorial model for 300 steps on CIFAR-10 with every summary on, TensorBoard on 127.0.0.1, and
# headless Chromium (Debian: `apt-get install chromium`; the profile tab needs the `profile`
# extra and the labeled confusion matrix the `plots` extra, `pip install -e ".[profile,plots]"`).
#
#   docs/tensorboard/screenshots.sh CIFAR10_DIR [TRAIN_DIR]
#
# CIFAR10_DIR holds cifar-10-batches-bin; TRAIN_DIR (default
# /tmp/convnet_tensorboard/tutorial_300) is trained first unless it already holds a run.
# TensorBoard reads its parent directory, as when runs are compared (the HParams tab then finds
# each run's eval metrics in <run>/eval).
set -euo pipefail
data=${1:?usage: screenshots.sh CIFAR10_DIR [TRAIN_DIR]}
run=${2:-/tmp/convnet_tensorboard/tutorial_300}
out=$(cd "$(dirname "$0")" && pwd)
port=${PORT:-6123}

if [ ! -f "$run/run.json" ]; then
  python -m convnet.train --train_dir="$run" --data_dir="$data" --nodownload --max_steps=300 \
    --log_frequency=10 --save_checkpoint_steps=300 --histogram_frequency=100 \
    --profile_steps=150,155 --eval_every_steps=150
fi

tensorboard --logdir "$(dirname "$run")" --host 127.0.0.1 --port "$port" > "$run.tensorboard.log" 2>&1 &
board=$!
trap 'kill $board' EXIT
for _ in $(seq 90); do
  curl -sf "http://127.0.0.1:$port/data/plugins_listing" > /dev/null && break
  sleep 1
done

shot() {  # NAME URL_FRAGMENT WIDTH,HEIGHT
  chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size="$3" \
    --virtual-time-budget=25000 --screenshot="$out/$1.png" "http://127.0.0.1:$port/$2" \
    > /dev/null 2>&1
  echo "wrote $out/$1.png"
}
shot scalars '#scalars&tagFilter=loss%7Caccuracy%7Cweight_decay%7Ccross_entropy%7Clearning_rate' 1400,1400
shot histograms '#histograms&tagFilter=conv1' 1400,1000
shot sparsity '#scalars&tagFilter=sparsity' 1400,720
shot confusion_matrix '#images&tagFilter=confusion' 1000,700
shot hparams '#hparams' 1900,420
shot profile '#profile' 1400,1000

# TensorBoard shrinks an image to its card; the confusion matrix at its own size, from the events:
python - "$run/eval" "$out/confusion_matrix_step_300.png" <<'PY'
import sys
from convnet.reports import event_tensors
step, image, _ = event_tensors.read_summaries(sys.argv[1])["confusion_matrix"][-1]
open(sys.argv[2], "wb").write(image[2])  # an image summary is [width, height, PNG bytes]
print(f"wrote {sys.argv[2]} (step {step})")
PY
