"""convnet.bench, the main: one tiny end-to-end run prints the table and writes the JSON."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import write_cifar_files

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
STEPS, REPEATS = 2, 3
FIGURES = ("input", "step", "step_with_input", "keras_fit", "peak", "peak_paired")


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
         "--min_round_seconds=0.1",
         "--num_parallel_calls=2", f"--train_dir={root / 'train'}", f"--output={output}"],
        capture_output=True, text=True, timeout=600, env=ENV)
    assert done.returncode == 0, done.stderr
    with open(output, encoding="utf-8") as f:
        return done, json.load(f), root


@pytest.mark.slow
def test_cli_prints_the_table_and_writes_nothing_but_the_json(cli_run):
    done, _, root = cli_run
    for label in ("1 input pipeline", "2 step, in-memory batch", "3 step + input pipeline",
                  "4 keras model.fit", "5 matmul peak", "5' peak beside (2)", "6 pytorch step",
                  "(3)/(2)", "(2)/(4)", "(3)/(4)", "(2)/max(5)", "(2)/(5')",
                  "110.8 M a training example"):
        assert label in done.stdout, label
    assert not (root / "train").exists()  # --train_dir is ignored: no checkpoints


def test_json_has_the_figures_with_medians_and_spreads(cli_run):
    done, result, _ = cli_run
    assert set(result["figures"]) == {*FIGURES, "torch"} and result["figures"]["torch"] is None
    for key in FIGURES:
        figure = result["figures"][key]
        assert len(figure["values"]) == REPEATS
        assert figure["min"] <= figure["q1"] <= figure["median"] <= figure["q3"] <= figure["max"]
        assert figure["median"] == pytest.approx(float(np.median(figure["values"])))
        assert figure["min"] > 0
    assert result["figures"]["peak"]["unit"] == "FLOP/s"
    assert result["figures"]["step"]["unit"] == "examples/sec"
    # Steps shorter than --min_round_seconds / --steps make longer rounds, and say so (how many
    # depends on the machine's speed: timing.steps_a_round is tested on given step times).
    assert result["config"]["steps_requested"] == STEPS and result["config"]["repeats"] == REPEATS
    steps = result["config"]["steps"]
    assert steps >= STEPS and result["config"]["min_round_seconds"] == 0.1
    said = f"rounds of {steps} steps for figures 2, 3, 4 and 6: a step took"
    assert (said in done.stdout + done.stderr) == (steps > STEPS)
    assert result["config"]["matmul_peak_by_shape"] == {
        "64": pytest.approx(result["figures"]["peak"]["max"])}
    assert result["config"]["matmul_shape"] == "64"
    assert set(result["machine"]["cpu_flags"]) <= {"avx2", "avx512f", "avx512_bf16", "amx_bf16",
                                                    "amx_tile"}


def test_json_ratios_come_from_the_medians_and_the_peaks(cli_run):
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
        median["step"] * 110_824_704 / result["figures"]["peak"]["max"])
    paired = [rate * 110_824_704 / peak for rate, peak in zip(
        result["figures"]["step"]["values"], result["figures"]["peak_paired"]["values"],
        strict=True)]
    assert ratios["fraction_of_peak_paired"] == pytest.approx(float(np.median(paired)))
    assert ratios["ours_over_torch"] is None
    for key, value in ratios.items():
        assert result["met"][key] == (None if value is None else value >= result["targets"][key])
    assert result["params"] == result["keras_params"] == 1_068_298
