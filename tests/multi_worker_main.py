"""One worker of the two-process cluster in tests/runtime/test_distribute.py (reads TF_CONFIG).

Usage: python tests/multi_worker_main.py TRAIN_DIR MAX_STEPS WEIGHTS.npz
Trains the tutorial model on synthetic data under --strategy=multi_worker and
saves this worker's final weights, so the test can compare the workers.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from convnet import training  # noqa: E402


def main(train_dir: str, max_steps: int, weights_path: str) -> None:
    config = training.TrainConfig.from_settings(
        train_dir=train_dir, data_source="synthetic", model="cifar10", max_steps=max_steps,
        batch_size=16, optimizer="adam", log_frequency=5, save_checkpoint_steps=10,
        num_parallel_calls=2, strategy="multi_worker")
    trainer = training.Trainer(config)
    trainer.train()
    np.savez(weights_path, *[v.numpy() for v in trainer.state.model.variables])


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
