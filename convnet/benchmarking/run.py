"""The whole bench: `bench(config)` measures the five figures and returns the JSON-ready result.

Figures 1-3 in images/sec or examples/sec (global batch), 4 in examples/sec,
5 in FLOP/s (times the replicas); the result also holds the settings, the
machine (load averages before and after), parameter counts, model FLOPs, the
ratios and whether each meets its target. `BenchSettings` holds the bench's
own settings (`define_bench_flags`: their flags); `write_json` writes its --output.
"""

import dataclasses
import json
import os

import tensorflow as tf

from convnet import models
from convnet.benchmarking import keras_peers, peak, table
from convnet.benchmarking.flops import model_flops
from convnet.benchmarking.timing import Figure, input_rates, step_rates
from convnet.runtime import console, precision
from convnet.runtime.options import define_flags, option
from convnet.training.config import TrainConfig
from convnet.training.setup import TrainingSetup


def bench(config: TrainConfig, steps: int = 8, repeats: int = 5,
          matmul_size: int = 0, keras_peer: bool = True) -> dict:
    """Measures the five figures for `config`; returns the JSON-ready result.

    Times the step of a `TrainingSetup` (nothing is written, no train_dir
    read); `config.nan_policy` is replaced by 'skip_batch', and --progressive_resizing is
    off: the step at the model's full size, whose FLOPs the ratios count. `matmul_size` 0 tries
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
    config = dataclasses.replace(config, nan_policy="skip_batch", progressive_resizing="")
    setup = TrainingSetup(config)
    replicas = setup.strategy.num_replicas_in_sync
    channels = setup.source.info.image_shape[-1]
    image_shape = (setup.preprocessing.image_size, setup.preprocessing.image_size, channels)

    figures: dict[str, Figure | None] = {}
    console.log(f"1/5 input pipeline: {repeats} x {steps} batches of {config.batch_size}")
    rates, batch = input_rates(setup.train_dataset(config.batch_size), config.batch_size,
                               steps, repeats)
    figures["input"] = Figure("input pipeline", "images/sec", rates)

    console.log("2/5 training step on an in-memory batch")
    in_memory = setup.distribute(tf.data.Dataset.from_tensors(batch).repeat())
    figures["step"] = Figure("step, in-memory batch", "examples/sec",
                             step_rates(setup.train_step, in_memory, steps, repeats))
    del in_memory

    console.log("3/5 training step fed by the input pipeline")
    fed = setup.train_iterator(0)
    figures["step_with_input"] = Figure("step + input pipeline", "examples/sec",
                                        step_rates(setup.train_step, fed, steps, repeats))
    del fed

    figures["keras_fit"], keras_params = _keras_figure(setup, image_shape, steps, repeats,
                                                       keras_peer)

    sizes = peak.matmul_sizes(matmul_size)
    dtype = setup.compute_dtype
    console.log(f"5/5 {dtype.name} matmul peak: n x n matmuls, n in {', '.join(map(str, sizes))}, "
                f"on {peak.peak_device()}")
    size, rates, by_size = peak.matmul_peak(sizes, repeats, dtype)
    figures["peak"] = Figure(f"{dtype.name} matmul peak", "FLOP/s",
                             [rate * replicas for rate in rates])

    flops = model_flops(setup.state.model, image_shape)
    result_ratios = table.ratios(figures, flops["training_per_example"])
    return {
        "config": {"model": config.model, "batch_size": config.batch_size,
                   "data_source": config.data_source, "dataset": setup.source.info.name,
                   "precision": precision.resolve(config.precision), "xla": config.xla,
                   "strategy": config.strategy, "replicas": replicas,
                   "optimizer": config.optimizer, "num_parallel_calls": config.num_parallel_calls,
                   "steps": steps, "repeats": repeats, "matmul_size": size,
                   "matmul_peak_by_size": {str(n): rate * replicas for n, rate in by_size.items()},
                   "image_shape": list(image_shape)},
        "machine": {"device": peak.device_description(), "peak_device": peak.peak_device(),
                    "load_average_before": list(load_before),
                    "load_average_after": list(os.getloadavg()),
                    "tensorflow": tf.__version__},
        "params": models.count_params(setup.state.model), "keras_params": keras_params,
        "flops": {**flops, "step_flops_per_sec": figures["step"].median *
                  flops["training_per_example"]},
        "figures": {key: figure.to_json() if figure else None for key, figure in figures.items()},
        "ratios": result_ratios,
        "targets": dict(table.TARGETS),
        "met": table.met(result_ratios),
    }


def _keras_figure(setup: TrainingSetup, image_shape, steps: int, repeats: int,
                  keras_peer: bool):
    """(Figure 4, the peer's parameter count), or (None, None) without a Keras peer."""
    config = setup.config
    peer = None
    if keras_peer:
        with setup.strategy.scope():
            peer = keras_peers.keras_model(config.model, setup.source.info.num_classes,
                                           image_shape, config.weight_decay,
                                           precision.resolve(config.precision))
    if peer is None:
        why = "--nokeras" if not keras_peer else f"no Keras peer of --model={config.model}"
        console.log(f"4/5 keras model.fit: skipped ({why}; peers: "
                    f"{', '.join(keras_peers.KERAS_PEERS)})")
        return None, None
    console.log("4/5 keras model.fit of the same network over the same pipeline")
    with setup.strategy.scope():
        keras_peers.compile_keras_model(peer, config)
    rates = keras_peers.keras_fit_rates(peer, setup.train_dataset(config.batch_size),
                                        config.batch_size, steps, repeats)
    return Figure("keras model.fit", "examples/sec", rates), int(peer.count_params())


def write_json(result: dict, path: str) -> None:
    """Writes `result` (from `bench`) to `path` as indented JSON, creating its directory."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    console.log(f"wrote {path}")


@dataclasses.dataclass
class BenchSettings:
    """The bench's own settings (its flags; the training flags say what is timed)."""
    steps: int = option(8, "Batches a timed round (each figure warms up untimed, then runs "
                        "--repeats timed rounds).", lower_bound=1)
    repeats: int = option(5, "Timed rounds a figure; the table shows their median and "
                          "spread.", lower_bound=1)
    matmul_size: int = option(0, f"Size n of the n x n matmuls of the peak figure (0: the "
                              f"fastest of {peak.GPU_MATMUL_SIZES} with a GPU, else of "
                              f"{peak.CPU_MATMUL_SIZES}).", lower_bound=0)
    keras: bool = option(True, f"Measure Keras model.fit of the same network (figure 4; peers "
                         f"exist for {', '.join(keras_peers.KERAS_PEERS)}).")
    output: str | None = option(None, "Write the figures, ratios and settings to this "
                                   "JSON file.")


def define_bench_flags() -> None:
    """The bench's own flags: BenchSettings' (once)."""
    define_flags(BenchSettings)
