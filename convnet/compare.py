"""Train and compare models side by side.

    python -m convnet.compare --models=baseline,lenet5,alexnet,vgg16,resnet18,inception \
        --max_steps=N --data_dir=... --output_dir=/tmp/convnet_compare

Each model trains with its recipe (`convnet/recipes/<model>.flags`) for --max_steps in
`<output_dir>/runs/<model>` (a run already at --max_steps is reused, not
retrained); every kept checkpoint is evaluated on the test split (or on its first
--eval_examples). Written to --output_dir: `comparison.md` (parameters, model size on disk, training
examples/sec, test accuracy, wall time), `results.json`, and `loss.png` and
`accuracy.png` (all models on one figure each). The data flags are those of
`convnet.train`; --data_source, --data_dir and --download always go to training and
evaluation, the others when given. (The logic: `convnet.reports.compare`.)
"""

from convnet.runtime import quiet_start  # noqa: F401  (first, before TensorFlow: hides its lines)

# isort: split
import dataclasses

from convnet.data.config import DataConfig
from convnet.reports import compare
from convnet.runtime import cli, options
from convnet.runtime.compute import ComputeConfig

ALWAYS_PASSED = ("data_source", "data_dir", "download")  # even at their defaults


def main(config: compare.CompareConfig, data: DataConfig, compute: ComputeConfig) -> None:
    # The data and compute settings given (TrainConfig and EvalConfig both have them).
    given = options.given_flags((DataConfig, ComputeConfig))
    data_args = {field.name: getattr(settings, field.name)
                 for settings in (data, compute) for field in dataclasses.fields(settings)
                 if field.name in ALWAYS_PASSED or field.name in given}
    compare.compare(config.models, config.output_dir, config.max_steps, config.configs_dir,
                    data_args, config.eval_examples)


def run() -> None:
    cli.run(main, compare.CompareConfig, DataConfig, ComputeConfig)


if __name__ == "__main__":
    run()
