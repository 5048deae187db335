"""What a training run writes to TensorBoard beyond `loss`: the scalars that explain it, the
histograms of its weights, gradients and activations, and its hyperparameters.

`TrainingScalars` turns the step's `StepMetrics` (accumulated in the compiled
step, convnet.training.step) into, at each log step: `cross_entropy` (the mean
data loss of the last batch), `weight_decay` (the sum of wd x l2_loss terms),
`total_loss` (their sum: `loss`), `loss_moving_average` (a zero-debiased
exponential moving average, decay 0.9, of the logged total losses, as the
TensorFlow CIFAR-10 tutorial's `loss_averages`; it restarts with each process)
and `train_accuracy` (top-1 accuracy over every training batch since the last
log).

`Histograms` (--histogram_frequency) runs a separate `tf.function` on the
batch of a due step (after its update): a histogram of every trainable
variable (`<name>`) and of its gradient (`gradients/<name>`), and of each
layer's output (`activations/<layer>`) with its fraction of zeros
(`sparsity/<layer>`, the tutorial's `_activation_summary`). The forward pass
runs in training mode; non-trainable variables (batch-norm statistics) and the
states of random generators (dropout) are put back after it, so the run is not
changed.

`write_hparams` writes the HParams plugin's summaries: the run's settings
once at the start, and the metrics it compares runs by (`loss` of the run,
`precision_at_1` of its `eval` directory).
"""

import math

import tensorflow as tf
from tensorboard.plugins.hparams import api as hp

from convnet.nn import layers

# Decay of the moving average of the logged loss (the tutorial's loss_averages).
LOSS_AVERAGE_DECAY = 0.9
# Metrics of the HParams tab: (tag, run relative to train_dir).
HPARAMS_METRICS = (("loss", ""), ("precision_at_1", "eval"),
                   ("none_tta_precision_at_1", "eval"))


class TrainingScalars:
    """Accumulates the step's metrics between logs and writes the training scalars."""

    def __init__(self, decay: float = LOSS_AVERAGE_DECAY):
        self.decay = decay
        self._biased, self._updates = 0.0, 0
        self._hits, self._examples, self._last = 0, 0, None

    def add(self, metrics) -> None:
        """Adds the `StepMetrics` of one call of the step."""
        self._hits += int(metrics.hits)
        self._examples += int(metrics.examples)
        self._last = metrics

    def average(self, loss: float) -> float:
        """Updates the moving average with a logged `loss` (a non-finite one is left out)."""
        if math.isfinite(loss):
            self._biased = self.decay * self._biased + (1 - self.decay) * loss
            self._updates += 1
        if not self._updates:
            return float("nan")
        return self._biased / (1 - self.decay ** self._updates)

    def write(self, loss: float) -> dict[str, float]:
        """Writes the scalars of a log step (under the default writer and step); returns them.
        Starts the next interval."""
        values = {"total_loss": loss, "loss_moving_average": self.average(loss)}
        if self._last is not None:
            values["cross_entropy"] = float(self._last.cross_entropy)
            values["weight_decay"] = float(self._last.weight_decay)
        if self._examples:
            values["train_accuracy"] = self._hits / self._examples
        for tag, value in values.items():
            tf.summary.scalar(tag, value)
        self._hits, self._examples, self._last = 0, 0, None
        return values


def _tag(name: str) -> str:
    return name.split(":")[0].rstrip("/")


class Histograms:
    """Histograms of the variables, gradients and activations of a `TrainStep`'s model."""

    def __init__(self, step):
        self.step = step
        self.model = step.state.model
        self._compute = tf.function(self._gradients_and_activations)

    def _gradients_and_activations(self, images, labels):
        step, model = self.step, self.model
        generators = model._flatten(predicate=lambda x: isinstance(x, tf.random.Generator))
        others = [v for v in model.variables if not any(v is t for t in step.variables)]
        others += [generator.state for generator in generators]
        saved = [tf.identity(v) for v in others]
        outputs: dict[str, tf.Tensor] = {}

        def observe(layer, output):
            if layer is model:  # its output is the last layer's, already observed
                return
            name, calls = _tag(layer.name_scope.name), 1
            while name in outputs or f"{name}_{calls}" in outputs:
                calls += 1
                name = f"{_tag(layer.name_scope.name)}_{calls}"
            outputs[name] = output

        with tf.GradientTape() as tape:
            with layers.observe_calls(observe):  # the loss of this batch alone
                data_loss, decay, _, _ = step.loss_terms(images, labels, tf.size(labels))
            loss = data_loss + decay
        grads = tape.gradient(loss, step.variables)
        with tf.control_dependencies([g for g in grads if g is not None] + list(outputs.values())):
            for variable, value in zip(others, saved, strict=True):
                variable.assign(value)
        return grads, outputs

    def write(self, images: tf.Tensor, labels: tf.Tensor) -> dict[str, float]:
        """Writes the histograms of one batch (default writer and step); returns the
        sparsity of each layer's output."""
        grads, outputs = self._compute(images, labels)
        for variable, grad in zip(self.step.variables, grads, strict=True):
            tf.summary.histogram(_tag(variable.name), variable)
            if grad is not None:
                tf.summary.histogram(f"gradients/{_tag(variable.name)}", grad)
        sparsity = {}
        for name, output in outputs.items():
            tf.summary.histogram(f"activations/{name}", output)
            sparsity[name] = float(tf.math.zero_fraction(output))
            tf.summary.scalar(f"sparsity/{name}", sparsity[name])
        return sparsity


def hparam_values(settings: dict) -> dict[str, object]:
    """The settings the HParams plugin takes: bool, int, float and str values; sequences
    as comma-separated text; None left out."""
    values = {}
    for name, value in settings.items():
        if isinstance(value, (bool, int, float, str)):
            values[name] = value
        elif isinstance(value, (list, tuple)):
            values[name] = ",".join(map(str, value))
    return values


def write_hparams(writer, settings: dict, trial_id: str | None = None) -> None:
    """Writes the experiment (its settings and metrics) and this run's settings values."""
    values = hparam_values(settings)
    with writer.as_default(step=0):
        hp.hparams_config(hparams=[hp.HParam(name) for name in sorted(values)],
                          metrics=[hp.Metric(tag, group=group or None)
                                   for tag, group in HPARAMS_METRICS])
        hp.hparams(values, trial_id=trial_id)
    writer.flush()
