"""A training run: its settings, the compiled step, the loop, and what happens around it.

  config             TrainConfig: every setting of a run (the flags of convnet.train)
  setup              TrainingSetup: data, state, schedule and compiled step (bench times it)
  step               TrainStep: loss, gradients and update, several steps a call
  trainer            Trainer: a setup with checkpoints, run record and the loop; `train`
  callbacks          Callback, Progress: the loop's jobs, the Trainer's and yours
  periodic_jobs      the Trainer's own: log line, checkpoints, histograms, evaluations
  loss_watch         non-finite and diverging losses
  in_run_evaluation  evaluations after each epoch, every N steps and at the end
  summaries          TensorBoard scalars, histograms and hparams of a run
  profiling          the profiler around --profile_steps
  interrupts         SIGTERM/SIGINT acknowledged at once
  preemption         multi-worker: a signal to one worker stops them all at one step
  lost_worker        multi-worker: a worker lost stops the others with one line
  memory             a batch too large for memory refused up front
"""

from convnet.training.callbacks import Callback, Progress
from convnet.training.config import TrainConfig
from convnet.training.setup import TrainingSetup
from convnet.training.step import StepResult
from convnet.training.trainer import Trainer, train

__all__ = ["Callback", "Progress", "StepResult", "TrainConfig", "Trainer", "TrainingSetup",
           "train"]
