"""Train a model: `python -m convnet.train --max_steps=100000 --lr_decay`.

Logs `step 120, loss = 2.07 (1843.2 examples/sec; 0.069 sec/batch)` every
--log_frequency steps, checkpoints to --train_dir, and resumes from it.
SIGTERM/SIGINT save a checkpoint and exit with 128 + the signal number; under
--strategy=multi_worker every worker saves the same step and stops (the ones not
signalled exit with 75, convnet.training.preemption.PEER_EXIT_CODE); when a worker
is lost (killed, its machine gone), the others stop with one line naming it, the
last checkpoint and the way out (convnet.training.lost_worker), and exit with 75.
"""

from convnet.runtime import quiet_start  # noqa: F401  (first, before TensorFlow: hides its lines)

# isort: split
import sys

from convnet import training
from convnet.runtime import cli, console, options
from convnet.runtime.errors import Interrupted
from convnet.training import lost_worker, preemption


def main(config: training.TrainConfig) -> None:
    try:
        training.train(config, flags_text=options.flag_file(training.TrainConfig))
    except (preemption.PeerInterrupted, lost_worker.LostWorkerError) as e:
        console.log(str(e))  # multi_worker: another worker was signalled, or lost
        sys.exit(preemption.PEER_EXIT_CODE)
    except Interrupted as e:
        console.log(str(e))
        sys.exit(128 + e.signum)


def run() -> None:
    cli.run(main, training.TrainConfig, takes_recipe=True)


if __name__ == "__main__":
    run()
