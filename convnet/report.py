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
(The logic: `convnet.reports.run_report`.)
"""

from convnet.runtime import quiet_start  # noqa: F401  (first, before TensorFlow: hides its lines)

# isort: split

from convnet.reports import run_report as report
from convnet.runtime import cli


def main(config: report.ReportConfig, args: list[str]) -> None:
    report.report([d for d in config.train_dir if d] + list(args), config.output_dir,
                  config.eval_dir)


def run() -> None:
    cli.run(main, report.ReportConfig, takes_args=True)


if __name__ == "__main__":
    run()
