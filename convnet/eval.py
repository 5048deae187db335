"""Evaluate checkpoints: `python -m convnet.eval --top_k=1 [--run_once]`.

Prints `precision @ 1 = 0.734` over every example of --eval_data, then the
per-class figures, and writes a TensorBoard summary at the checkpoint's step.
"""

from convnet import quiet_start  # noqa: F401  (first, before TensorFlow: hides its start-up lines)
from convnet import cli, evaluation, flags


def main() -> None:
    evaluation.evaluate(flags.config_from_flags(evaluation.EvalConfig))


def run() -> None:
    flags.define_eval_flags()
    cli.run_main(main)


if __name__ == "__main__":
    run()
