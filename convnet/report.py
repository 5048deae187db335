"""Plots and a summary of training runs from their TensorBoard events.

    python -m convnet.report --train_dir=/tmp/a[,/tmp/b] [/tmp/c ...] \
        [--eval_dir=/tmp/a_eval[,/tmp/b_eval,...]] --output_dir=/tmp/report

Training writes `loss`, `learning_rate` and `examples_per_sec` into its
train_dir; `convnet.eval` writes `precision_at_K` into its --eval_dir. A run's
evaluation events are read from its train_dir itself, its immediate
subdirectories (e.g. `<train_dir>/eval`, where `convnet.compare` puts them) and,
given --eval_dir (one per train_dir, in the same order; an empty entry skips one),
that directory. Written to --output_dir: `loss.png`, `learning_rate.png` and,
when some run was evaluated, `precision.png` (one line per run, against the
training step), and `summary.md`: per run its last step, final and minimum
loss, last and best precision, and mean training examples/sec.
(The logic: `convnet.reporting`.)
"""

from convnet import quiet_start  # noqa: F401  (first, before TensorFlow: hides its start-up lines)
from typing import List

from absl import flags as absl_flags

from convnet import cli, reporting

FLAGS = absl_flags.FLAGS


def main(args: List[str]) -> None:
    reporting.report([d for d in FLAGS.train_dir if d] + list(args), FLAGS.output_dir,
                     FLAGS.eval_dir)


def run() -> None:
    absl_flags.DEFINE_list("train_dir", [], "Training directories (comma-separated; more may "
                           "follow the flags as arguments).")
    absl_flags.DEFINE_list("eval_dir", [], "Evaluation directories, one per train_dir in the "
                           "same order (default: each train_dir and its subdirectories).")
    absl_flags.DEFINE_string("output_dir", None, "Where the plots and summary.md go.")
    absl_flags.mark_flag_as_required("output_dir")
    cli.run_main(main, takes_args=True)


if __name__ == "__main__":
    run()
