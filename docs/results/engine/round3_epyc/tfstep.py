"""ONEDNN_VERBOSE=1 python tfstep.py MODEL BATCH: convnet's bf16 step, marked rounds."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../../.."))

import tensorflow as tf

if os.environ.get("INTER"):
    tf.config.threading.set_inter_op_parallelism_threads(int(os.environ["INTER"]))
from convnet import training
from convnet.training.setup import TrainingSetup

model, batch = sys.argv[1], int(sys.argv[2])
config = training.TrainConfig.from_settings(
    model=model,
    data_source="synthetic",
    batch_size=batch,
    optimizer="sgd",
    precision="mixed_bfloat16",
    max_steps=100,
    nan_policy="skip_batch",
)
setup = TrainingSetup(config)
data = next(iter(setup.train_dataset(batch)))
it = iter(setup.distribute(tf.data.Dataset.from_tensors(data).repeat()))
for i in range(4):
    if i == 3:
        print("=== MEASURED", flush=True)
    r = setup.train_step(it, tf.constant(1, tf.int64))
    float(r.loss)
print("=== END", flush=True)
