"""convnet.bench: figures, ratios, FLOPs counts and the Keras peers (structure, never timings)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import write_cifar_files
from convnet import bench, layers, models

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
STEPS, REPEATS = 2, 3
FIGURES = ("input", "step", "step_with_input", "keras_fit", "peak")


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """One tiny end-to-end `python -m convnet.bench` on fake CIFAR files: (process, JSON, dir)."""
    root = tmp_path_factory.mktemp("bench")
    data = root / "cifar-10-batches-bin"
    write_cifar_files(str(data))
    output = root / "out" / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "convnet.bench", f"--data_dir={data}", "--nodownload",
         "--batch_size=8", f"--steps={STEPS}", f"--repeats={REPEATS}", "--matmul_size=64",
         "--num_parallel_calls=2", f"--train_dir={root / 'train'}", f"--output={output}"],
        capture_output=True, text=True, timeout=600, env=ENV)
    assert done.returncode == 0, done.stderr
    with open(output, encoding="utf-8") as f:
        return done, json.load(f), root


def test_cli_prints_the_table_and_writes_nothing_but_the_json(cli_run):
    done, _, root = cli_run
    for label in ("1 input pipeline", "2 step, in-memory batch", "3 step + input pipeline",
                  "4 keras model.fit", "5 matmul peak", "(3)/(2)", "(2)/(4)", "(3)/(4)", "(2)/(5)",
                  "110.8 M a training example"):
        assert label in done.stdout, label
    assert not (root / "train").exists()  # --train_dir is ignored: no checkpoints


def test_json_has_five_figures_with_medians_and_spreads(cli_run):
    _, result, _ = cli_run
    assert set(result["figures"]) == set(FIGURES)
    for key in FIGURES:
        figure = result["figures"][key]
        assert len(figure["values"]) == REPEATS
        assert figure["min"] <= figure["q1"] <= figure["median"] <= figure["q3"] <= figure["max"]
        assert figure["median"] == pytest.approx(float(np.median(figure["values"])))
        assert figure["min"] > 0
    assert result["figures"]["peak"]["unit"] == "FLOP/s"
    assert result["figures"]["step"]["unit"] == "examples/sec"
    assert result["config"]["steps"] == STEPS and result["config"]["repeats"] == REPEATS
    assert result["config"]["matmul_peak_by_size"] == {
        "64": pytest.approx(result["figures"]["peak"]["median"])}


def test_json_ratios_come_from_the_medians(cli_run):
    _, result, _ = cli_run
    median = {key: result["figures"][key]["median"] for key in FIGURES}
    flops = result["flops"]
    assert flops["training_per_example"] == 3 * flops["forward_per_example"] == 110_824_704
    assert flops["step_flops_per_sec"] == pytest.approx(median["step"] * 110_824_704)
    ratios = result["ratios"]
    assert ratios["input_over_compute"] == pytest.approx(median["step_with_input"] / median["step"])
    assert ratios["ours_over_keras"] == pytest.approx(median["step"] / median["keras_fit"])
    assert ratios["fed_over_keras"] == pytest.approx(
        median["step_with_input"] / median["keras_fit"])
    assert ratios["fraction_of_peak"] == pytest.approx(
        median["step"] * 110_824_704 / median["peak"])
    for key, value in ratios.items():
        assert result["met"][key] == (value >= result["targets"][key])
    assert result["params"] == result["keras_params"] == 1_068_298


def test_tutorial_flops_match_a_hand_count():
    # Multiply-adds a 24x24x3 example: output height * width * filters * kernel volume.
    conv1 = 24 * 24 * 64 * (5 * 5 * 3)  # SAME, stride 1: 24x24x64        2,764,800
    conv2 = 12 * 12 * 64 * (5 * 5 * 64)  # after pool1 (3/2 SAME): 12x12  14,745,600
    local3 = (6 * 6 * 64) * 384  # after pool2: 6x6x64 = 2,304 inputs          884,736
    local4 = 384 * 192  #                                                       73,728
    logits = 192 * 10  #                                                         1,920
    model = models.build_model("cifar10")
    rows = bench.layer_macs(model, (24, 24, 3))
    assert rows == [("cifar10/conv1", conv1), ("cifar10/conv2", conv2),
                    ("cifar10/local3", local3), ("cifar10/local4", local4),
                    ("cifar10/softmax_linear", logits)]
    forward = 2 * (conv1 + conv2 + local3 + local4 + logits)
    assert forward == 36_941_568
    assert bench.model_flops(model, (24, 24, 3)) == {"forward_per_example": forward,
                                                     "training_per_example": 3 * forward}


def _profiled_flops(model, input_shape, op_types):
    """float_ops of TensorFlow's profiler over one example's forward graph, by op type."""
    function = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec([1, *input_shape]))
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    profile = tf.compat.v1.profiler.profile(graph=function.graph, options=options)
    types = {op.name: op.type for op in function.graph.get_operations()}
    return sum(node.float_ops for node in profile.children if types.get(node.name) in op_types)


@pytest.mark.parametrize("name,input_shape", [("lenet5", (32, 32, 3)), ("resnet20", (32, 32, 3))])
def test_forward_flops_agree_with_the_tensorflow_profiler(name, input_shape):
    model = models.build_model(name)
    model(tf.zeros([1, *input_shape]))
    assert bench.model_flops(model, input_shape)["forward_per_example"] == _profiled_flops(
        model, input_shape, {"Conv2D", "MatMul"})


def test_tutorial_conv_flops_agree_with_the_profiler():
    # (Its LRN is a banded matmul, which the profiler counts and the model FLOPs do not.)
    model = models.build_model("cifar10")
    model(tf.zeros([1, 24, 24, 3]))
    conv_macs = sum(macs for name, macs in bench.layer_macs(model, (24, 24, 3)) if "conv" in name)
    assert 2 * conv_macs == _profiled_flops(model, (24, 24, 3), {"Conv2D"})


def _copy_weights(ours, peer, input_shape):
    """Copies our Conv2D/Dense/BatchNorm variables into the peer's layers, in call order."""
    order = []
    with layers.observe_calls(lambda layer, _: order.append(layer) if isinstance(
            layer, (layers.Conv2D, layers.Dense, layers.BatchNorm)) else None):
        ours(tf.zeros([1, *input_shape]))
    weighted = [layer for layer in peer.layers if layer.weights]
    assert len(order) == len(weighted)
    for mine, theirs in zip(order, weighted):
        if isinstance(mine, layers.BatchNorm):
            pairs = [(theirs.gamma, mine.gamma), (theirs.beta, mine.beta),
                     (theirs.moving_mean, mine.moving_mean),
                     (theirs.moving_variance, mine.moving_variance)]
        else:
            pairs = [(theirs.kernel, mine.kernel), (theirs.bias, mine.bias)]
        for target, source in pairs:
            target.assign(source.numpy())


@pytest.mark.parametrize("name,input_shape,params", [
    ("cifar10", (24, 24, 3), 1_068_298), ("baseline", (32, 32, 3), 198_506),
    ("lenet5", (32, 32, 3), 62_006)])
def test_keras_peer_is_the_same_network(name, input_shape, params):
    ours = models.build_model(name)
    images = tf.random.stateless_normal([2, *input_shape], [0, 1])
    ours(images)
    peer = bench.keras_model(name, 10, input_shape)
    assert peer.count_params() == models.count_params(ours) == params
    assert len(peer.losses) == (2 if name == "cifar10" else 0)  # decay on local3/local4 only
    _copy_weights(ours, peer, input_shape)
    np.testing.assert_allclose(peer(images, training=False).numpy(), ours(images).numpy(),
                               rtol=1e-4, atol=1e-4)


def test_models_without_a_peer_get_none():
    assert bench.keras_model("resnet20", 10, (32, 32, 3)) is None


def _figure(name, median):
    return bench.Figure(name, "FLOP/s" if name == "peak" else "examples/sec",
                        [median * 0.9, median, median * 1.2])


def test_ratios_and_table_without_a_keras_figure():
    figures = {"input": _figure("input", 5000.0), "step": _figure("step", 400.0),
               "step_with_input": _figure("step_with_input", 380.0), "keras_fit": None,
               "peak": _figure("peak", 1e11)}
    ratios = bench.ratios(figures, 1e8)
    assert ratios == {"input_over_compute": pytest.approx(0.95), "ours_over_keras": None,
                      "fed_over_keras": None, "fraction_of_peak": pytest.approx(0.4)}
    result = {"config": {"model": "resnet20", "batch_size": 128, "data_source": "synthetic",
                         "dataset": "cifar10", "precision": "float32", "xla": False,
                         "strategy": "default", "replicas": 1, "optimizer": "sgd", "steps": 10,
                         "repeats": 3},
              "machine": {"device": "CPU"}, "flops": {"training_per_example": 1e8,
                                                      "forward_per_example": 1e8 / 3,
                                                      "step_flops_per_sec": 4e10},
              "figures": {k: v.to_json() if v else None for k, v in figures.items()},
              "ratios": ratios, "met": {"input_over_compute": True, "ours_over_keras": None,
                                        "fed_over_keras": None, "fraction_of_peak": False}}
    table = bench.format_table(result)
    assert "4 keras model.fit" in table and "n/a" in table and "below" in table
    peak_row = next(line for line in table.splitlines() if line.startswith("5 matmul peak"))
    assert peak_row.split()[3] == "100.0" and peak_row.endswith("GFLOP/s")


def test_figure_summary_and_bad_settings():
    figure = bench.Figure("step", "examples/sec", [4.0, 1.0, 3.0, 2.0])
    summary = figure.to_json()
    assert (summary["median"], summary["min"], summary["max"]) == (2.5, 1.0, 4.0)
    assert summary["q1"] == 1.75 and summary["q3"] == 3.25 and summary["values"] == [4, 1, 3, 2]
    assert bench.Figure("x", "u", [7.0]).to_json()["q1"] == 7.0
    with pytest.raises(ValueError, match="--repeats"):
        bench.timed_rounds(lambda: 1, 0)
    with pytest.raises(ValueError, match="--matmul_size"):
        bench.matmul_peak_rates(0, 1)


def test_matmul_peak_keeps_the_fastest_size():
    size, rates, medians = bench.matmul_peak((16, 32), 2)
    assert set(medians) == {16, 32} and medians[size] == max(medians.values())
    assert len(rates) == 2 and all(rate > 0 for rate in rates)
    assert medians[size] == pytest.approx(float(np.median(rates)))
