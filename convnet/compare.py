"""Train and compare models side by side, with one budget for all.

    python -m convnet.compare --time_budget=15m --data_dir=../shared/data/cifar10 \
        --output_dir=/tmp/six_models   # baseline, lenet5, alexnet, vgg16, resnet18, inception
    python -m convnet.compare --models=lenet5_mnist,alexnet_mnist,resnet20_mnist \
        --epoch_budget=10 --data_dir=../shared/data/mnist --output_dir=/tmp/mnist_models

Each entry of --models trains with its recipe (`convnet/recipes/<name>.flags`; a model of
your own with the default settings) in `<output_dir>/runs/<name>` under one budget:
--max_steps (default 200), --time_budget (each run fits its schedule to that wall time) or
--epoch_budget (each recipe scaled to that many epochs). A run already at its end is reused,
not retrained. Each run evaluates the test split after every epoch; every kept checkpoint is
evaluated on the test split (or on its first --eval_examples). Written to --output_dir:
`comparison.md` (parameters, model size on disk, training examples/sec, steps, epochs, test
accuracy, wall time), `results.json`, and `loss.png`, `accuracy.png`, `accuracy_epochs.png`
and `accuracy_seconds.png` (all models on one figure each). The data flags are those of
`convnet.train`; --data_source, --data_dir and --download always go to training and
evaluation, the others when given. (The logic: `convnet.reports.comparison`.)
"""

from convnet.runtime import quiet_start  # noqa: F401  (first, before TensorFlow: hides its lines)

# isort: split
import dataclasses

from convnet.data.config import DataConfig
from convnet.reports import comparison as compare
from convnet.runtime import cli, options
from convnet.runtime.compute import ComputeConfig

ALWAYS_PASSED = ("data_source", "data_dir", "download")  # even at their defaults


def main(config: compare.CompareConfig, data: DataConfig, compute: ComputeConfig) -> None:
    # The data and compute settings given (TrainConfig and EvalConfig both have them).
    given = options.given_flags((DataConfig, ComputeConfig))
    data_args = {field.name: getattr(settings, field.name)
                 for settings in (data, compute) for field in dataclasses.fields(settings)
                 if field.name in ALWAYS_PASSED or field.name in given}
    compare.compare(config.models, config.output_dir, config.max_steps,
                    configs_dir=config.configs_dir,
                    data_args=data_args, eval_examples=config.eval_examples,
                    time_budget=config.time_budget, epoch_budget=config.epoch_budget)


def run() -> None:
    cli.run(main, compare.CompareConfig, DataConfig, ComputeConfig)


if __name__ == "__main__":
    run()
