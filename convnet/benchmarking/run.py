"""The whole bench: `bench(config)` measures the figures and returns the JSON-ready result.

Figures 1-3 in images/sec or examples/sec (global batch), 4 (Keras) and 6 (PyTorch, with
--peer=torch) in examples/sec, 5 and 5' (the peak paired with the step's rounds) in FLOP/s
(times the replicas); the result also holds the settings, the machine (CPU flags, load
averages before and after), parameter counts, model FLOPs, the ratios and whether each meets
its target, and with --op_table the step's op tables. `BenchSettings` holds the bench's
own settings (`define_bench_flags`: their flags); `write_json` writes its --output.
"""

import dataclasses
import json
import os

import tensorflow as tf

from convnet import models
from convnet.benchmarking import keras_peers, peak, table, torch_process
from convnet.benchmarking import op_table as op_table_lib
from convnet.benchmarking import round_timing as timing
from convnet.benchmarking.flops import model_flops
from convnet.benchmarking.round_timing import Figure, input_rates, step_rates
from convnet.runtime import console, onednn, precision
from convnet.runtime.options import define_flags, option
from convnet.training.config import TrainConfig
from convnet.training.setup import TrainingSetup

FIGURE_COUNT = 6
# --peer: '' (none) or a framework whose step of the same network is figure 6.
PEERS = ("", "torch")
# The instruction sets a CPU timing depends on, recorded with every result.
CPU_FLAGS_SHOWN = {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}


def bench(config: TrainConfig, steps: int = 8, repeats: int = 5,
          *, matmul_size: int = 0, keras_peer: bool = True, peer: str = "",
          peer_python: str | None = None, op_table: bool = False,
          min_round_seconds: float = 0.0) -> dict:
    """Measures the figures for `config`; returns the JSON-ready result.

    Times the step of a `TrainingSetup` (nothing is written, no train_dir
    read); `config.nan_policy` is replaced by 'skip_batch', and --progressive_resizing is
    off: the step at the model's full size, whose FLOPs the ratios count. The matmul peak
    (figure 5) is measured first, over `peak.matmul_shapes(matmul_size)`, and one round of its
    fastest shape follows each timed round of the step (the paired peak). `peer='torch'` adds
    figure 6, PyTorch's step of the same network (`torch_process`, under `peer_python`);
    `op_table` adds the step's op table (and the peer's). With `min_round_seconds`, the
    rounds of the step figures (2, 3, 4, 6) take more than `steps` steps where `steps` of the
    step (timed once after the warm-up) would last less (`timing.steps_a_round`); the result
    records both counts.
    """
    if steps <= 0:
        raise ValueError(f"--steps must be positive, got {steps}")
    if repeats <= 0:
        raise ValueError(f"--repeats must be positive, got {repeats}")
    shapes = peak.matmul_shapes(matmul_size)
    if peer not in PEERS:
        raise ValueError(f"--peer must be one of {', '.join(repr(p) for p in PEERS)}, "
                         f"got {peer!r}")
    resolved_precision = precision.resolve(config.compute.precision)
    if peer == "torch":
        torch_process.peer_precision(resolved_precision)  # refused before any work
    load_before = os.getloadavg()
    config = config.with_settings(nan_policy="skip_batch", progressive_resizing="")
    setup = TrainingSetup(config)
    replicas = setup.strategy.num_replicas_in_sync
    channels = setup.source.info.image_shape[-1]
    image_shape = (setup.preprocessing.image_size, setup.preprocessing.image_size, channels)
    flops = model_flops(setup.state.model, image_shape)

    figures: dict[str, Figure | None] = {}
    dtype = setup.compute_dtype
    console.log(f"5/{FIGURE_COUNT} (first) {dtype.name} matmul peak: [m, k] x [k, k] matmuls, "
                f"(m, k) in {', '.join(map(peak.shape_name, shapes))}, interleaved, on "
                f"{peak.peak_device()}")
    matmul = peak.MatmulPeak(shapes, dtype).measure(repeats)
    figures["peak"] = Figure(f"{dtype.name} matmul peak", "FLOP/s",
                             [rate * replicas for rate in matmul.round_rates])

    console.log(f"1/{FIGURE_COUNT} input pipeline: {repeats} x {steps} batches of "
                f"{config.data.batch_size}")
    rates, batch = input_rates(setup.train_dataset(config.data.batch_size), config.data.batch_size,
                               steps, repeats=repeats)
    figures["input"] = Figure("input pipeline", "images/sec", rates)

    console.log(f"2/{FIGURE_COUNT} training step on an in-memory batch, each round followed by "
                f"a round of the {peak.shape_name(matmul.best_shape)} matmul")
    in_memory = setup.distribute(tf.data.Dataset.from_tensors(batch).repeat())
    requested_steps = steps
    if min_round_seconds > 0:
        step_seconds = timing.probe_step_seconds(setup.train_step, in_memory)
        steps = timing.steps_a_round(step_seconds, steps, min_round_seconds)
        if steps != requested_steps:
            console.log(f"rounds of {steps} steps for figures 2, 3, 4 and 6: a step took "
                        f"{step_seconds:.3f} s, and a round lasts at least "
                        f"--min_round_seconds={min_round_seconds:g}")
    paired: list[float] = []
    figures["step"] = Figure("step, in-memory batch", "examples/sec", step_rates(
        setup.train_step, in_memory, steps, repeats=repeats,
        after_round=lambda: paired.append(matmul.paired_round() * replicas)))
    figures["peak_paired"] = Figure(f"{dtype.name} matmul peak beside (2)", "FLOP/s", paired)
    op_tables = {}
    if op_table:
        console.log(f"op table: one more round of {steps} steps under the profiler")
        op_tables["convnet"] = [list(row) for row in
                                op_table_lib.step_op_table(setup.train_step, in_memory, steps)]
    del in_memory

    console.log(f"3/{FIGURE_COUNT} training step fed by the input pipeline")
    fed = setup.train_iterator(0)
    figures["step_with_input"] = Figure("step + input pipeline", "examples/sec",
                                        step_rates(setup.train_step, fed, steps, repeats=repeats))
    del fed

    figures["keras_fit"], keras_params = _keras_figure(setup, image_shape, steps, repeats=repeats,
                                                       keras_peer=keras_peer)
    figures["torch"], torch_result = None, None
    if peer == "torch":
        figures["torch"], torch_result = _torch_figure(config, resolved_precision, image_shape,
                                                       num_classes=setup.source.info.num_classes,
                                                       steps=steps,
                                                       repeats=repeats, peer_python=peer_python,
                                                       op_table=op_table)
        if op_table:
            op_tables["torch"] = torch_result.pop("op_table")

    result_ratios = table.ratios(figures, flops["training_per_example"])
    return {
        "config": {"model": config.model, "batch_size": config.data.batch_size,
                   "data_source": config.data.data_source, "dataset": setup.source.info.name,
                   "precision": resolved_precision, "xla": config.compute.xla,
                   "strategy": config.compute.strategy, "replicas": replicas,
                   "optimizer": setup.config.optim.optimizer,
                   "num_parallel_calls": config.data.num_parallel_calls,
                   "steps": steps, "steps_requested": requested_steps,
                   "min_round_seconds": min_round_seconds, "repeats": repeats,
                   "matmul_shape": peak.shape_name(matmul.best_shape),
                   "matmul_peak_by_shape": {peak.shape_name(shape): rate * replicas
                                            for shape, rate in matmul.by_shape.items()},
                   "image_shape": list(image_shape), "peer": peer or None},
        "machine": {"device": peak.device_description(), "peak_device": peak.peak_device(),
                    "cpu_flags": sorted(precision.cpu_flags() & CPU_FLAGS_SHOWN),
                    "onednn": onednn.enabled(),
                    "load_average_before": list(load_before),
                    "load_average_after": list(os.getloadavg()),
                    "tensorflow": tf.__version__},
        "params": models.count_params(setup.state.model), "keras_params": keras_params,
        "trainable_params": models.count_trainable_params(setup.state.model),
        "torch": torch_result,
        "flops": {**flops, "step_flops_per_sec": figures["step"].median *
                  flops["training_per_example"]},
        "figures": {key: figure.to_json() if figure else None for key, figure in figures.items()},
        "ratios": result_ratios,
        "targets": table.targets(resolved_precision),
        "met": table.met(result_ratios, table.targets(resolved_precision)),
        "op_tables": op_tables,
    }


def _keras_figure(setup: TrainingSetup, image_shape, steps: int, *, repeats: int,
                  keras_peer: bool):
    """(Figure 4, the peer's parameter count), or (None, None) without a Keras peer."""
    config = setup.config
    peer = None
    if keras_peer:
        with setup.strategy.scope():
            peer = keras_peers.keras_model(config.model, setup.source.info.num_classes,
                                           image_shape, weight_decay=config.optim.weight_decay,
                                           precision=precision.resolve(config.compute.precision))
    if peer is None:
        why = "--nokeras" if not keras_peer else f"no Keras peer of --model={config.model}"
        console.log(f"4/{FIGURE_COUNT} keras model.fit: skipped ({why}; peers: "
                    f"{', '.join(keras_peers.KERAS_PEERS)})")
        return None, None
    console.log(f"4/{FIGURE_COUNT} keras model.fit of the same network over the same pipeline")
    with setup.strategy.scope():
        keras_peers.compile_keras_model(peer, config)
    rates = keras_peers.keras_fit_rates(peer, setup.train_dataset(config.data.batch_size),
                                        config.data.batch_size, steps=steps, repeats=repeats)
    return Figure("keras model.fit", "examples/sec", rates), int(peer.count_params())


def _torch_figure(config: TrainConfig, resolved_precision: str, image_shape, *, num_classes: int,
                  steps: int, repeats: int, peer_python: str | None, op_table: bool):
    """(Figure 6, the peer's JSON result): PyTorch's step of --model in a child process."""
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    console.log(f"6/{FIGURE_COUNT} PyTorch peer: the same network's step in "
                f"{peer_python or 'this Python'} ({threads} threads)")
    result = torch_process.run_torch_peer(
        peer_python, name=config.model, batch_size=config.data.batch_size,
        precision=torch_process.peer_precision(resolved_precision), steps=steps,
        repeats=repeats, threads=threads, image_size=image_shape[0], channels=image_shape[2],
        num_classes=num_classes, op_table=op_table)
    return Figure("PyTorch step, in-memory batch", "examples/sec",
                  result["examples_per_sec"]), result


def write_json(result: dict, path: str) -> None:
    """Writes `result` (from `bench`) to `path` as indented JSON, creating its directory."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    console.log(f"wrote {path}")


def _shapes(shapes) -> str:
    return ", ".join(map(peak.shape_name, shapes))


@dataclasses.dataclass
class BenchSettings:
    """The bench's own settings (its flags; the training flags say what is timed)."""
    steps: int = option(8, "Batches a timed round (each figure warms up untimed, then runs "
                        "--repeats timed rounds).", lower_bound=1)
    repeats: int = option(5, "Timed rounds a figure; the table shows their median and "
                          "spread.", lower_bound=1)
    matmul_size: int = option(0, f"Size n of the n x n matmuls of the peak figure (0: the "
                              f"fastest of the shapes {_shapes(peak.GPU_MATMUL_SHAPES)} with a "
                              f"GPU, else of {_shapes(peak.CPU_MATMUL_SHAPES)}; mxk is [m, k] x "
                              f"[k, k]).", lower_bound=0)
    keras: bool = option(True, f"Measure Keras model.fit of the same network (figure 4; peers "
                         f"exist for {', '.join(keras_peers.KERAS_PEERS)}).")
    peer: str = option("", "Also time the same network's training step in another framework "
                       "(figure 6): torch (PyTorch, channels_last, SGD; bfloat16 by "
                       "torch.autocast), run by --peer_python.", choices=PEERS)
    peer_python: str | None = option(None, "The Python that runs --peer=torch (a virtualenv "
                                           "with torch; default: this one).")
    op_table: bool = option(False, "Print the step's op table: one more round under the "
                            "profiler, time by op type (and PyTorch's with --peer=torch).")
    output: str | None = option(None, "Write the figures, ratios and settings to this "
                                   "JSON file.")
    min_round_seconds: float = option(2.0, "The step figures' rounds (2, 3, 4, 6) last at "
                                      "least this long: more than --steps steps where a step "
                                      "is short (0: exactly --steps).", lower_bound=0.0)


def define_bench_flags() -> None:
    """The bench's own flags: BenchSettings' (once)."""
    define_flags(BenchSettings)
