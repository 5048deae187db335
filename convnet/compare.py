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
evaluation, the others when given. (The logic: `convnet.comparing`.)
"""

from convnet import quiet_start  # noqa: F401  (first, before TensorFlow: hides its start-up lines)
import dataclasses

from absl import flags as absl_flags

from convnet import cli, comparing, flags, recipes
from convnet.compute_config import ComputeConfig
from convnet.data.config import DataConfig

FLAGS = absl_flags.FLAGS
ALWAYS_PASSED = ("data_source", "data_dir", "download")  # even at their defaults


def main() -> None:
    # The data and compute settings: TrainConfig and EvalConfig both have them.
    data_flags = [f.name for config in (DataConfig, ComputeConfig)
                  for f in dataclasses.fields(config)]
    data_args = {name: FLAGS[name].value for name in data_flags
                 if name in ALWAYS_PASSED or FLAGS[name].present}
    comparing.compare(FLAGS.models, FLAGS.output_dir, FLAGS.max_steps, FLAGS.configs_dir,
                      data_args, FLAGS.eval_examples)


def run() -> None:
    absl_flags.DEFINE_list("models", ["baseline", "lenet5", "alexnet", "vgg16", "resnet18",
                                      "inception"], "Models to compare (each needs a recipe).")
    absl_flags.DEFINE_integer("max_steps", 200, "Training steps per model.", lower_bound=1)
    absl_flags.DEFINE_string("output_dir", "/tmp/convnet_compare",
                             "Where runs, the table, results.json and the plots go.")
    absl_flags.DEFINE_string("configs_dir", recipes.DIRECTORY, "Directory of <model>.flags "
                             "recipes (default: the shipped ones, convnet/recipes).")
    absl_flags.DEFINE_integer("eval_examples", None, "Evaluate on the first N test examples "
                              "(default: all of them).", lower_bound=1)
    flags.define_data_flags()
    cli.run_main(main)


if __name__ == "__main__":
    run()
