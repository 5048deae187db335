"""Throughput, side by side: `python -m convnet.bench [--model=cifar10] [--batch_size=128]`.

Five figures, each the median over --repeats rounds of --steps batches, with
their spread, after an untimed warm-up (tracing, caches, prefetch buffers: one
round, or WARM_UP_STEPS steps for figures 2 and 3):

  1 input       images/sec of the training input pipeline alone (`pipeline.train_dataset`
                as the Trainer builds it: source, augmentation, batching, prefetch)
  2 step        examples/sec of the Trainer's step on one in-memory batch (compute only)
  3 step+input  examples/sec of the same step fed by the input pipeline (as convnet.train)
  4 keras fit   examples/sec of Keras `model.fit` on the same network, pipeline,
                optimizer (and weight EMA) -- for cifar10, baseline and lenet5 only
  5 peak        FLOP/s of n x n matmuls in the compute dtype (float32 by default), on
                the first GPU else the CPU, times the replicas: the peak as TF reaches it
                (the fastest n of a few sizes: the cache-sized ones win on CPUs)

and the ratios (3)/(2) (target >= 0.95: the input pipeline is off the critical
path), (2)/(4) and (3)/(4) (target >= 1: no slower than model.fit; (3)/(4) has
both fed by the same pipeline) and (2) x training FLOPs per example / (5)
(target >= 0.6: the fraction of peak the step reaches). The figures run one
after the other, so on a shared machine a change of load between them moves
the ratios: compare runs at a similar load average (the table shows it).

Training FLOPs per example = 3 x forward FLOPs (forward, then the gradients with
respect to the activations and to the weights, each costing about one forward),
where forward FLOPs = 2 x the multiply-adds of every Conv2D and Dense layer.
Pooling, LRN, batch norm, activations and the update are not counted; the first
layer's input gradient is, though it is never computed (5% too much for the
tutorial model). It is the usual model-FLOPs convention, not a count of what the
kernels execute.

All training flags apply (--model, --data_source, --precision, --xla,
--strategy, --optimizer, ...), but the bench writes nothing but --output: the
Trainer gets a temporary train_dir, and --train_dir, --max_steps,
--log_frequency and the checkpoint flags have no effect. A batch whose loss is
not finite is skipped, not stopped at, so every round runs all its steps.
"""

import dataclasses
import json
import os
import platform
import statistics
import tempfile
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import keras
import tensorflow as tf
from absl import flags as absl_flags

from convnet import cli, console, flags, layers, models, ops, training
from convnet.models import cifar10 as cifar10_model

FLAGS = absl_flags.FLAGS

# Targets of issue 4: input off the critical path, no slower than Keras, most of the peak.
TARGETS = {"input_over_compute": 0.95, "ours_over_keras": 1.0, "fed_over_keras": 1.0,
           "fraction_of_peak": 0.6}
# Training costs about 3 forward passes: forward, activation gradients, weight gradients.
TRAINING_FLOPS_PER_FORWARD = 3
# Untimed steps before the rounds of figures 2 and 3: tracing, caches, a full prefetch buffer.
WARM_UP_STEPS = 2
# Square matmul sizes the peak figure tries when --matmul_size=0; it keeps the fastest
# (on CPUs the cache-sized ones win, on GPUs the largest).
GPU_MATMUL_SIZES = (2048, 4096, 8192)
CPU_MATMUL_SIZES = (512, 1024, 2048)
# Each timed round of the peak figure chains enough matmuls to last about this long.
PEAK_ROUND_SECS = 0.25


@dataclasses.dataclass
class Figure:
    """Rates of the timed rounds of one figure (e.g. examples/sec), and their summary."""
    name: str
    unit: str
    values: List[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def to_json(self) -> Dict:
        """{unit, median, min, max, q1, q3 (the interquartile range), values}."""
        values = sorted(self.values)
        q1, q3 = ((values[0], values[0]) if len(values) < 2 else
                  statistics.quantiles(values, n=4, method="inclusive")[::2])
        return {"unit": self.unit, "median": self.median, "min": values[0], "max": values[-1],
                "q1": q1, "q3": q3, "values": list(self.values)}


def timed_rounds(run_round: Callable[[], int], repeats: int,
                 warm_up: Optional[Callable[[], object]] = None) -> List[float]:
    """Runs `warm_up` (default: `run_round`) untimed, then `run_round` `repeats` times;
    returns count/second of each timed round. `run_round` returns what it processed
    and must synchronize."""
    if repeats <= 0:
        raise ValueError(f"--repeats must be positive, got {repeats}")
    (warm_up or run_round)()
    rates = []
    for _ in range(repeats):
        began = time.perf_counter()
        count = run_round()
        rates.append(count / (time.perf_counter() - began))
    return rates


# --- 1-3: the input pipeline and the Trainer's step --------------------------


def input_rates(dataset: tf.data.Dataset, batch_size: int, steps: int,
                repeats: int) -> Tuple[List[float], Tuple[tf.Tensor, tf.Tensor]]:
    """Images/sec of iterating `steps` batches of `dataset` a round; also a batch of it."""
    iterator = iter(dataset)
    batch = next(iterator)

    def run_round():
        for _ in range(steps):
            next(iterator)
        return steps * batch_size

    return timed_rounds(run_round, repeats), batch


def step_rates(trainer: training.Trainer, iterator, steps: int, repeats: int) -> List[float]:
    """Examples/sec of `trainer.run_steps(iterator, steps)` (global batch) a round, after
    WARM_UP_STEPS untimed steps (the step takes the count as a tensor: one trace)."""

    def run_round(count=steps):
        loss, _, skipped, _ = trainer.run_steps(iterator, count)
        float(loss)  # waits for the steps to finish
        if int(skipped):
            why = (" (the float16 loss scale settling)" if trainer.loss_scale is not None
                   else "")
            console.log(f"note: {int(skipped)} of {count} batches had a non-finite loss or "
                        f"gradients{why}: computed, but not applied")
        return count * trainer.config.batch_size

    return timed_rounds(run_round, repeats, lambda: run_round(min(steps, WARM_UP_STEPS)))


# --- 4: the Keras peer ---------------------------------------------------------


class LocalResponseNormalization(keras.layers.Layer):
    """`tf.nn.local_response_normalization` with the tutorial's constants, in float32."""

    def call(self, inputs):
        out = tf.nn.local_response_normalization(
            tf.cast(inputs, tf.float32), depth_radius=ops.LRN_DEPTH_RADIUS, bias=ops.LRN_BIAS,
            alpha=ops.LRN_ALPHA, beta=ops.LRN_BETA)
        return tf.cast(out, inputs.dtype)


def keras_model(name: str, num_classes: int, image_shape: Sequence[int],
                weight_decay: Optional[float] = None, precision: str = "float32"):
    """A Keras 3 equivalent of convnet model `name`, or None when there is none.

    Same layers, initializers and weight decay (`wd * l2_loss(w)` is Keras'
    `L2(wd / 2)`), so the same parameter count; maps [batch, *image_shape]
    float32 images to [batch, num_classes] logits. `precision` is the Keras
    dtype policy ('mixed_float16', 'mixed_bfloat16' or 'float32').
    """
    if name not in KERAS_PEERS:
        return None
    policy = None if precision == "float32" else precision
    return keras.Sequential([keras.Input(tuple(image_shape)),
                             *KERAS_PEERS[name](num_classes, weight_decay, policy)],
                            name=f"keras_{name}")


def _l2(wd: Optional[float]):
    return None if wd is None else keras.regularizers.L2(wd / 2.0)


def _cifar10_layers(num_classes, weight_decay, policy):
    """convnet.models.cifar10: the tutorial's cuda-convnet model."""
    fc_wd = cifar10_model.FC_WEIGHT_DECAY if weight_decay is None else weight_decay
    normal, constant = keras.initializers.TruncatedNormal, keras.initializers.Constant

    def conv(name, bias):
        return keras.layers.Conv2D(64, 5, padding="same", activation="relu", name=name,
                                   kernel_initializer=normal(stddev=5e-2),
                                   bias_initializer=constant(bias), dtype=policy)

    def dense(name, units, stddev, bias, wd, activation=None):
        return keras.layers.Dense(units, activation=activation, name=name,
                                  kernel_initializer=normal(stddev=stddev),
                                  bias_initializer=constant(bias), kernel_regularizer=_l2(wd),
                                  dtype=policy)

    return [
        conv("conv1", 0.0),
        keras.layers.MaxPooling2D(3, 2, padding="same", name="pool1", dtype=policy),
        LocalResponseNormalization(name="norm1", dtype=policy),
        conv("conv2", 0.1),
        LocalResponseNormalization(name="norm2", dtype=policy),
        keras.layers.MaxPooling2D(3, 2, padding="same", name="pool2", dtype=policy),
        keras.layers.Flatten(dtype=policy),
        dense("local3", 384, 0.04, 0.1, fc_wd, "relu"),
        dense("local4", 192, 0.04, 0.1, fc_wd, "relu"),
        dense("softmax_linear", num_classes, 1 / 192.0, 0.0, None),
    ]


def _baseline_layers(num_classes, weight_decay, policy):
    """convnet.models.baseline (BatchNorm momentum 0.9, epsilon 1e-3 as ours). HeNormal and
    GlorotNormal are truncated normals, as convnet.layers' None/'he' and 'glorot'."""
    wd = dict(kernel_regularizer=_l2(weight_decay), dtype=policy)
    he, glorot = keras.initializers.HeNormal(), keras.initializers.GlorotNormal()
    return [
        keras.layers.Conv2D(6, 5, padding="same", kernel_initializer=he, name="conv", **wd),
        keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3, name="bn", dtype=policy),
        keras.layers.Activation("relu", dtype=policy),
        keras.layers.MaxPooling2D(2, 2, padding="same", dtype=policy),
        keras.layers.Dropout(0.2, dtype=policy),
        keras.layers.Flatten(dtype=policy),
        keras.layers.Dense(128, activation="relu", kernel_initializer=he, name="fc", **wd),
        keras.layers.Dropout(0.2, dtype=policy),
        keras.layers.Dense(num_classes, kernel_initializer=glorot, name="logits", **wd),
    ]


def _lenet5_layers(num_classes, weight_decay, policy):
    """convnet.models.lenet: sigmoid LeNet-5, Glorot (truncated normal) kernels."""
    wd = dict(kernel_regularizer=_l2(weight_decay),
              kernel_initializer=keras.initializers.GlorotNormal(), dtype=policy)
    return [
        keras.layers.Conv2D(6, 5, padding="valid", activation="sigmoid", name="conv1", **wd),
        keras.layers.MaxPooling2D(2, 2, padding="valid", dtype=policy),
        keras.layers.Conv2D(16, 5, padding="valid", activation="sigmoid", name="conv2", **wd),
        keras.layers.MaxPooling2D(2, 2, padding="valid", dtype=policy),
        keras.layers.Flatten(dtype=policy),
        keras.layers.Dense(120, activation="sigmoid", name="fc1", **wd),
        keras.layers.Dense(84, activation="sigmoid", name="fc2", **wd),
        keras.layers.Dense(num_classes, name="logits", **wd),
    ]


KERAS_PEERS = {"cifar10": _cifar10_layers, "baseline": _baseline_layers,
               "lenet5": _lenet5_layers}


def keras_optimizer(config: training.TrainConfig):
    """The Keras optimizer doing our --optimizer's update (constant learning rate), with
    the weight EMA our step also keeps; loss-scaled under mixed_float16."""
    ema = dict(use_ema=True, ema_momentum=config.moving_average_decay)
    rate = config.resolved_learning_rate
    if config.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(rate, momentum=config.momentum,
                                         nesterov=config.nesterov, **ema)
    elif config.optimizer == "adam":
        optimizer = keras.optimizers.Adam(rate, beta_1=0.9, beta_2=0.999, epsilon=1e-8, **ema)
    elif config.optimizer == "adadelta":
        optimizer = keras.optimizers.Adadelta(rate, rho=0.95, epsilon=1e-7, **ema)
    else:
        raise ValueError(f"no Keras optimizer for --optimizer={config.optimizer!r}")
    if config.precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def keras_fit_rates(model, dataset: tf.data.Dataset, batch_size: int, steps: int,
                    repeats: int) -> List[float]:
    """Examples/sec of `model.fit` (compiled) epochs of `steps` batches; the first is untimed.

    One fit of 1 + repeats epochs over one iterator of `dataset`; each epoch is
    timed from its start to its end-of-epoch loss (which waits for its steps).
    """
    rates: List[float] = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.began = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            float((logs or {}).get("loss", 0.0))
            if epoch:
                rates.append(steps * batch_size / (time.perf_counter() - self.began))

    model.fit(dataset, steps_per_epoch=steps, epochs=repeats + 1, verbose=0,
              shuffle=False, callbacks=[EpochTimer()])
    return rates


# --- 5: the peak, and the model's FLOPs ----------------------------------------


def peak_device() -> str:
    """The device the peak is measured on: the first GPU, else the CPU."""
    gpus = tf.config.list_logical_devices("GPU")
    return gpus[0].name if gpus else "/device:CPU:0"


def matmul_peak_rates(size: int, repeats: int, dtype: tf.DType = tf.float32,
                      device: Optional[str] = None) -> List[float]:
    """FLOP/s (2 * size**3 a matmul) of chained [size, size] matmuls, a round lasting
    about PEAK_ROUND_SECS."""
    if size <= 0:
        raise ValueError(f"--matmul_size must be positive (or 0 for the default), got {size}")
    with tf.device(device or peak_device()):
        x = tf.random.stateless_normal([size, size], [0, 1], dtype=dtype)
        # Entries of variance 1/size keep the chained products' scale near 1.
        b = tf.random.stateless_normal([size, size], [0, 2], stddev=size ** -0.5, dtype=dtype)

        @tf.function
        def chain(count):
            y = x
            for _ in tf.range(count):
                y = tf.linalg.matmul(y, b)
            return tf.reduce_sum(tf.cast(y[0, :8], tf.float32))

        float(chain(tf.constant(2)))  # trace and warm up
        began = time.perf_counter()
        float(chain(tf.constant(1)))
        count = int(min(1000, max(1, PEAK_ROUND_SECS / (time.perf_counter() - began))))

        def run_round():
            float(chain(tf.constant(count)))
            return 2 * size ** 3 * count

        return timed_rounds(run_round, repeats)


def matmul_peak(sizes: Sequence[int], repeats: int, dtype: tf.DType = tf.float32
                ) -> Tuple[int, List[float], Dict[int, float]]:
    """The fastest of `sizes`: (size, its rounds' FLOP/s, {size: median FLOP/s})."""
    rounds = {size: matmul_peak_rates(size, repeats, dtype) for size in sizes}
    medians = {size: statistics.median(rates) for size, rates in rounds.items()}
    best = max(medians, key=medians.get)
    return best, rounds[best], medians


def layer_macs(model: layers.Layer, input_shape: Sequence[int]) -> List[Tuple[str, int]]:
    """(layer name, multiply-adds on one example) of each Conv2D and Dense, in call order.

    Runs one example of `input_shape` ([H, W, C]) through `model` in inference mode.
    """
    rows = []

    def observe(layer, output):
        if isinstance(layer, layers.Conv2D):
            kernel_h, kernel_w, in_channels, filters = layer.kernel.shape
            macs = output.shape[1] * output.shape[2] * filters * kernel_h * kernel_w * in_channels
        elif isinstance(layer, layers.Dense):
            macs = layer.kernel.shape[0] * layer.kernel.shape[1]
        else:
            return
        rows.append((layer.name_scope.name.rstrip("/"), int(macs)))

    with layers.observe_calls(observe):
        model(tf.zeros([1, *input_shape]), training=False)
    return rows


def model_flops(model: layers.Layer, input_shape: Sequence[int]) -> Dict[str, int]:
    """{'forward_per_example', 'training_per_example'}: FLOPs on one [H, W, C] example."""
    forward = 2 * sum(macs for _, macs in layer_macs(model, input_shape))
    return {"forward_per_example": forward,
            "training_per_example": TRAINING_FLOPS_PER_FORWARD * forward}


# --- the whole bench -----------------------------------------------------------


def ratios(figures: Dict[str, Optional[Figure]], training_flops_per_example: int
           ) -> Dict[str, Optional[float]]:
    """The ratios of the figures' medians (None where a figure is missing)."""
    step, fed, peer = figures["step"], figures["step_with_input"], figures.get("keras_fit")
    peak = figures["peak"]
    return {
        "input_over_compute": fed.median / step.median,
        "ours_over_keras": step.median / peer.median if peer else None,
        "fed_over_keras": fed.median / peer.median if peer else None,
        "fraction_of_peak": step.median * training_flops_per_example / peak.median,
    }


def _device_description() -> str:
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"{len(gpus)} x {details.get('device_name', 'GPU')}"
    return f"CPU, {os.cpu_count()} cores ({platform.machine()})"


def bench(config: training.TrainConfig, steps: int = 8, repeats: int = 5,
          matmul_size: int = 0, keras_peer: bool = True) -> Dict:
    """Measures the five figures for `config`; returns the JSON-ready result.

    `config.train_dir` is replaced by a temporary directory (nothing is
    written) and `config.nan_policy` by 'skip_batch'. `matmul_size` 0 tries
    GPU_MATMUL_SIZES with a GPU, else CPU_MATMUL_SIZES, and keeps the fastest.
    """
    if steps <= 0:
        raise ValueError(f"--steps must be positive, got {steps}")
    if repeats <= 0:
        raise ValueError(f"--repeats must be positive, got {repeats}")
    if matmul_size < 0:
        raise ValueError(f"--matmul_size must be positive (or 0 for the default), "
                         f"got {matmul_size}")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="convnet_bench_") as train_dir:
        config = dataclasses.replace(config, train_dir=train_dir, nan_policy="skip_batch")
        trainer = training.Trainer(config)
    replicas = trainer.strategy.num_replicas_in_sync
    channels = trainer.source.info.image_shape[-1]
    image_shape = (trainer.preprocessing.image_size, trainer.preprocessing.image_size, channels)

    figures: Dict[str, Optional[Figure]] = {}
    console.log(f"1/5 input pipeline: {repeats} x {steps} batches of {config.batch_size}")
    rates, batch = input_rates(trainer.train_dataset(config.batch_size), config.batch_size, steps, repeats)
    figures["input"] = Figure("input pipeline", "images/sec", rates)

    console.log("2/5 training step on an in-memory batch")
    in_memory = trainer.distribute(tf.data.Dataset.from_tensors(batch).repeat())
    figures["step"] = Figure("step, in-memory batch", "examples/sec",
                             step_rates(trainer, in_memory, steps, repeats))
    del in_memory

    console.log("3/5 training step fed by the input pipeline")
    fed = trainer.train_iterator(0)
    figures["step_with_input"] = Figure("step + input pipeline", "examples/sec",
                                        step_rates(trainer, fed, steps, repeats))
    del fed

    keras_params = None
    peer = None
    if keras_peer:
        with trainer.strategy.scope():
            peer = keras_model(config.model, trainer.source.info.num_classes, image_shape,
                               config.weight_decay, config.precision)
    if peer is None:
        why = "--nokeras" if not keras_peer else f"no Keras peer of --model={config.model}"
        console.log(f"4/5 keras model.fit: skipped ({why}; peers: {', '.join(KERAS_PEERS)})")
        figures["keras_fit"] = None
    else:
        console.log("4/5 keras model.fit of the same network over the same pipeline")
        with trainer.strategy.scope():
            peer.compile(optimizer=keras_optimizer(config),
                         loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                         jit_compile=config.xla)
        keras_params = int(peer.count_params())
        figures["keras_fit"] = Figure("keras model.fit", "examples/sec",
                                      keras_fit_rates(peer, trainer.train_dataset(config.batch_size), config.batch_size,
                                                      steps, repeats))

    sizes = ((matmul_size,) if matmul_size else
             GPU_MATMUL_SIZES if tf.config.list_logical_devices("GPU") else CPU_MATMUL_SIZES)
    dtype = trainer.compute_dtype
    console.log(f"5/5 {dtype.name} matmul peak: n x n matmuls, n in {', '.join(map(str, sizes))}, "
                f"on {peak_device()}")
    size, rates, by_size = matmul_peak(sizes, repeats, dtype)
    figures["peak"] = Figure(f"{dtype.name} matmul peak", "FLOP/s",
                             [rate * replicas for rate in rates])

    flops = model_flops(trainer.model, image_shape)
    result_ratios = ratios(figures, flops["training_per_example"])
    return {
        "config": {"model": config.model, "batch_size": config.batch_size,
                   "data_source": config.data_source, "dataset": trainer.source.info.name,
                   "precision": config.precision, "xla": config.xla,
                   "strategy": config.strategy, "replicas": replicas,
                   "optimizer": config.optimizer, "num_parallel_calls": config.num_parallel_calls,
                   "steps": steps, "repeats": repeats, "matmul_size": size,
                   "matmul_peak_by_size": {str(n): rate * replicas for n, rate in by_size.items()},
                   "image_shape": list(image_shape)},
        "machine": {"device": _device_description(), "peak_device": peak_device(),
                    "load_average_before": list(load_before),
                    "load_average_after": list(os.getloadavg()),
                    "tensorflow": tf.__version__},
        "params": models.count_params(trainer.model), "keras_params": keras_params,
        "flops": {**flops, "step_flops_per_sec": figures["step"].median *
                  flops["training_per_example"]},
        "figures": {key: figure.to_json() if figure else None for key, figure in figures.items()},
        "ratios": result_ratios,
        "targets": dict(TARGETS),
        "met": {key: None if value is None else value >= TARGETS[key]
                for key, value in result_ratios.items()},
    }


FIGURE_ROWS = (("input", "1 input pipeline"), ("step", "2 step, in-memory batch"),
               ("step_with_input", "3 step + input pipeline"), ("keras_fit", "4 keras model.fit"),
               ("peak", "5 matmul peak"))
RATIO_ROWS = (("input_over_compute", "(3)/(2) input off the critical path"),
              ("ours_over_keras", "(2)/(4) ours vs keras model.fit"),
              ("fed_over_keras", "(3)/(4) same, both fed by the pipeline"),
              ("fraction_of_peak", "(2)/(5) fraction of peak"))


def _rate(value: float, unit: str) -> str:
    return f"{value / 1e9:,.1f}" if unit == "FLOP/s" else f"{value:,.1f}"


def _load(machine: Dict) -> str:
    """'1.0 before, 2.5 after' (1-minute load averages), or '?' when not recorded."""
    if "load_average_before" not in machine:
        return "?"
    return (f"{machine['load_average_before'][0]:.1f} before, "
            f"{machine['load_average_after'][0]:.1f} after")


def format_table(result: Dict) -> str:
    """The figures (median, min-max, IQR) and the ratios against their targets."""
    config, flops = result["config"], result["flops"]
    lines = [f"model {config['model']}, batch {config['batch_size']}, {config['data_source']} "
             f"{config['dataset']}, {config['precision']}{', xla' if config['xla'] else ''}, "
             f"strategy {config['strategy']} ({config['replicas']} replica(s)), "
             f"{config['optimizer']}; {config['repeats']} x {config['steps']} steps",
             f"{result['machine']['device']}; load average {_load(result['machine'])}",
             f"{'figure':<26}{'median':>12}{'min - max':>22}{'IQR':>22}  unit"]
    for key, label in FIGURE_ROWS:
        figure = result["figures"][key]
        if figure is None:
            lines.append(f"{label:<26}{'n/a':>12}{'':>22}{'':>22}  (not measured)")
            continue
        unit = figure["unit"]
        spread = f"{_rate(figure['min'], unit)} - {_rate(figure['max'], unit)}"
        iqr = f"{_rate(figure['q1'], unit)} - {_rate(figure['q3'], unit)}"
        shown_unit = "GFLOP/s" if unit == "FLOP/s" else unit
        lines.append(f"{label:<26}{_rate(figure['median'], unit):>12}{spread:>22}{iqr:>22}"
                     f"  {shown_unit}")
    lines.append(f"model FLOPs: {flops['training_per_example'] / 1e6:,.1f} M a training example "
                 f"({TRAINING_FLOPS_PER_FORWARD} x {flops['forward_per_example'] / 1e6:,.1f} M "
                 f"forward); step (2) = "
                 f"{flops['step_flops_per_sec'] / 1e9:,.1f} GFLOP/s")
    lines.append(f"{'ratio':<40}{'value':>8}{'target':>10}")
    for key, label in RATIO_ROWS:
        value = result["ratios"][key]
        shown = "n/a" if value is None else f"{value:.3f}"
        verdict = {True: "met", False: "below", None: ""}[result["met"][key]]
        lines.append(f"{label:<40}{shown:>8}{'>= ' + str(TARGETS[key]):>10}  {verdict}")
    return "\n".join(lines)


def main() -> None:
    config = flags.config_from_flags(training.TrainConfig)
    result = bench(config, FLAGS.steps, FLAGS.repeats, FLAGS.matmul_size, FLAGS.keras)
    print(format_table(result), flush=True)
    if FLAGS.output:
        directory = os.path.dirname(os.path.abspath(FLAGS.output))
        os.makedirs(directory, exist_ok=True)
        with open(FLAGS.output, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
        console.log(f"wrote {FLAGS.output}")


def define_bench_flags() -> None:
    flags.define_train_flags()
    if "steps" in FLAGS:
        return
    absl_flags.DEFINE_integer("steps", 8, "Batches a timed round (each figure warms up "
                              "untimed, then runs --repeats timed rounds).", lower_bound=1)
    absl_flags.DEFINE_integer("repeats", 5, "Timed rounds a figure; the table shows their "
                              "median and spread.", lower_bound=1)
    absl_flags.DEFINE_integer("matmul_size", 0, f"Size n of the n x n matmuls of the peak "
                              f"figure (0: the fastest of {GPU_MATMUL_SIZES} with a GPU, else "
                              f"of {CPU_MATMUL_SIZES}).", lower_bound=0)
    absl_flags.DEFINE_boolean("keras", True, "Measure Keras model.fit of the same network "
                              f"(figure 4; peers exist for {', '.join(KERAS_PEERS)}).")
    absl_flags.DEFINE_string("output", None, "Write the figures, ratios and settings to this "
                             "JSON file.")


def run() -> None:
    define_bench_flags()
    absl_flags.adopt_module_key_flags(flags)  # list them in --help
    cli.run_main(main)


if __name__ == "__main__":
    run()
