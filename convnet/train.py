"""Train a model: `python -m convnet.train --max_steps=100000 --lr_decay`.

Logs `step 120, loss = 2.07 (1843.2 examples/sec; 0.069 sec/batch)` every
--log_frequency steps, checkpoints to --train_dir, and resumes from it.
SIGTERM/SIGINT save a checkpoint and exit with 128 + the signal number; under
--strategy=multi_worker every worker saves the same step and stops (the ones not
signalled exit with 75, convnet.preemption.PEER_EXIT_CODE).
"""

from convnet import quiet_start  # noqa: F401  (first, before TensorFlow: hides its start-up lines)
import sys

from convnet import cli, console, flags, preemption, training
from convnet.errors import Interrupted
from convnet.train_config import TrainConfig


def main() -> None:
    try:
        training.train(flags.config_from_flags(TrainConfig),
                       flags_text=flags.flag_file(TrainConfig))
    except preemption.PeerInterrupted as e:  # multi_worker: another worker was signalled
        console.log(str(e))
        sys.exit(preemption.PEER_EXIT_CODE)
    except Interrupted as e:
        console.log(str(e))
        sys.exit(128 + e.signum)


def run() -> None:
    flags.define_train_flags()
    cli.run_main(main)


if __name__ == "__main__":
    run()
