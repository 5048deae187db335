"""Evaluate checkpoints: `python -m convnet.eval --top_k=1 [--run_once]`.

Prints `precision @ 1 = 0.734` over every example of --eval_data, then the
per-class figures, and writes a TensorBoard summary at the checkpoint's step.
"""

from convnet.runtime import quiet_start  # noqa: F401  (first, before TensorFlow: hides its lines)

# isort: split
from convnet import evaluation
from convnet.runtime import cli


def run() -> None:
    cli.run(evaluation.evaluate, evaluation.EvalConfig)


if __name__ == "__main__":
    run()
