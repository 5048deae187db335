"""The whole bench: `bench(config)` measures the five figures and returns the JSON-ready result.

Figures 1-3 in images/sec or examples/sec (global batch), 4 in examples/sec,
5 in FLOP/s (times the replicas); the result also holds the settings, the
machine (load averages before and after), parameter counts, model FLOPs, the
ratios and whether each meets its target. `define_bench_flags` defines the
bench's own flags (after the training flags); `write_json` writes its --output.
"""

import dataclasses
import json
import os
import tempfile
from typing import Dict, Optional

import tensorflow as tf
from absl import flags as absl_flags

from convnet import console, models, training
from convnet.benchmarking import keras_peers, peak, table
from convnet.benchmarking.flops import model_flops
from convnet.benchmarking.timing import Figure, input_rates, step_rates


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
    rates, batch = input_rates(trainer.train_dataset(config.batch_size), config.batch_size,
                               steps, repeats)
    figures["input"] = Figure("input pipeline", "images/sec", rates)

    console.log("2/5 training step on an in-memory batch")
    in_memory = trainer.distribute(tf.data.Dataset.from_tensors(batch).repeat())
    figures["step"] = Figure("step, in-memory batch", "examples/sec",
                             step_rates(trainer.train_step, in_memory, steps, repeats))
    del in_memory

    console.log("3/5 training step fed by the input pipeline")
    fed = trainer.train_iterator(0)
    figures["step_with_input"] = Figure("step + input pipeline", "examples/sec",
                                        step_rates(trainer.train_step, fed, steps, repeats))
    del fed

    figures["keras_fit"], keras_params = _keras_figure(trainer, image_shape, steps, repeats,
                                                       keras_peer)

    sizes = peak.matmul_sizes(matmul_size)
    dtype = trainer.compute_dtype
    console.log(f"5/5 {dtype.name} matmul peak: n x n matmuls, n in {', '.join(map(str, sizes))}, "
                f"on {peak.peak_device()}")
    size, rates, by_size = peak.matmul_peak(sizes, repeats, dtype)
    figures["peak"] = Figure(f"{dtype.name} matmul peak", "FLOP/s",
                             [rate * replicas for rate in rates])

    flops = model_flops(trainer.state.model, image_shape)
    result_ratios = table.ratios(figures, flops["training_per_example"])
    return {
        "config": {"model": config.model, "batch_size": config.batch_size,
                   "data_source": config.data_source, "dataset": trainer.source.info.name,
                   "precision": config.precision, "xla": config.xla,
                   "strategy": config.strategy, "replicas": replicas,
                   "optimizer": config.optimizer, "num_parallel_calls": config.num_parallel_calls,
                   "steps": steps, "repeats": repeats, "matmul_size": size,
                   "matmul_peak_by_size": {str(n): rate * replicas for n, rate in by_size.items()},
                   "image_shape": list(image_shape)},
        "machine": {"device": peak.device_description(), "peak_device": peak.peak_device(),
                    "load_average_before": list(load_before),
                    "load_average_after": list(os.getloadavg()),
                    "tensorflow": tf.__version__},
        "params": models.count_params(trainer.state.model), "keras_params": keras_params,
        "flops": {**flops, "step_flops_per_sec": figures["step"].median *
                  flops["training_per_example"]},
        "figures": {key: figure.to_json() if figure else None for key, figure in figures.items()},
        "ratios": result_ratios,
        "targets": dict(table.TARGETS),
        "met": table.met(result_ratios),
    }


def _keras_figure(trainer: training.Trainer, image_shape, steps: int, repeats: int,
                  keras_peer: bool):
    """(Figure 4, the peer's parameter count), or (None, None) without a Keras peer."""
    config = trainer.config
    peer = None
    if keras_peer:
        with trainer.strategy.scope():
            peer = keras_peers.keras_model(config.model, trainer.source.info.num_classes,
                                           image_shape, config.weight_decay, config.precision)
    if peer is None:
        why = "--nokeras" if not keras_peer else f"no Keras peer of --model={config.model}"
        console.log(f"4/5 keras model.fit: skipped ({why}; peers: "
                    f"{', '.join(keras_peers.KERAS_PEERS)})")
        return None, None
    console.log("4/5 keras model.fit of the same network over the same pipeline")
    with trainer.strategy.scope():
        keras_peers.compile_keras_model(peer, config)
    rates = keras_peers.keras_fit_rates(peer, trainer.train_dataset(config.batch_size),
                                        config.batch_size, steps, repeats)
    return Figure("keras model.fit", "examples/sec", rates), int(peer.count_params())


def write_json(result: Dict, path: str) -> None:
    """Writes `result` (from `bench`) to `path` as indented JSON, creating its directory."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    console.log(f"wrote {path}")


def define_bench_flags() -> None:
    """The bench's own flags: --steps, --repeats, --matmul_size, --keras, --output (once)."""
    if "steps" in absl_flags.FLAGS:
        return
    absl_flags.DEFINE_integer("steps", 8, "Batches a timed round (each figure warms up "
                              "untimed, then runs --repeats timed rounds).", lower_bound=1)
    absl_flags.DEFINE_integer("repeats", 5, "Timed rounds a figure; the table shows their "
                              "median and spread.", lower_bound=1)
    absl_flags.DEFINE_integer("matmul_size", 0, f"Size n of the n x n matmuls of the peak "
                              f"figure (0: the fastest of {peak.GPU_MATMUL_SIZES} with a GPU, "
                              f"else of {peak.CPU_MATMUL_SIZES}).", lower_bound=0)
    absl_flags.DEFINE_boolean("keras", True, "Measure Keras model.fit of the same network "
                              f"(figure 4; peers exist for {', '.join(keras_peers.KERAS_PEERS)}).")
    absl_flags.DEFINE_string("output", None, "Write the figures, ratios and settings to this "
                             "JSON file.")
