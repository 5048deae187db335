"""convnet.benchmarking.table: ratios of the medians, their verdicts and the printed table."""

import pytest

from convnet.benchmarking import table
from convnet.benchmarking.round_timing import Figure


def _figure(name, median):
    return Figure(name, "FLOP/s" if name == "peak" else "examples/sec",
                  [median * 0.9, median, median * 1.2])


def test_ratios_and_table_without_a_keras_figure():
    figures = {"input": _figure("input", 5000.0), "step": _figure("step", 400.0),
               "step_with_input": _figure("step_with_input", 380.0), "keras_fit": None,
               "peak": _figure("peak", 1e11)}
    ratios = table.ratios(figures, 1e8)
    assert ratios == {"input_over_compute": pytest.approx(0.95), "ours_over_keras": None,
                      "fed_over_keras": None, "ours_over_torch": None,
                      "fraction_of_peak": pytest.approx(400.0 * 1e8 / 1.2e11),
                      "fraction_of_peak_paired": None}
    result = {"config": {"model": "resnet20", "batch_size": 128, "data_source": "synthetic",
                         "dataset": "cifar10", "precision": "float32", "xla": False,
                         "strategy": "default", "replicas": 1, "optimizer": "sgd", "steps": 10,
                         "repeats": 3},
              "machine": {"device": "CPU"}, "flops": {"training_per_example": 1e8,
                                                      "forward_per_example": 1e8 / 3,
                                                      "step_flops_per_sec": 4e10},
              "figures": {k: v.to_json() if v else None for k, v in figures.items()},
              "ratios": ratios, "met": {"input_over_compute": True, "ours_over_keras": None,
                                        "fed_over_keras": None, "ours_over_torch": None,
                                        "fraction_of_peak": False,
                                        "fraction_of_peak_paired": None}}
    assert table.met(ratios) == result["met"]
    text = table.format_table(result)
    assert "4 keras model.fit" in text and "n/a" in text and "below" in text
    peak_row = next(line for line in text.splitlines() if line.startswith("5 matmul peak"))
    assert peak_row.split()[3] == "100.0" and peak_row.endswith("GFLOP/s")


def test_the_paired_fraction_and_the_torch_ratio():
    step = Figure("step", "examples/sec", [100.0, 200.0, 300.0])
    figures = {"input": step, "step": step, "step_with_input": step, "keras_fit": None,
               "peak": Figure("peak", "FLOP/s", [1e10, 4e10]),
               "peak_paired": Figure("paired", "FLOP/s", [1e10, 4e10, 2e10]),
               "torch": Figure("torch", "examples/sec", [150.0, 160.0, 170.0])}
    ratios = table.ratios(figures, 1e8)
    # round by round: 1e10/1e10, 2e10/4e10, 3e10/2e10 -> median 1.0
    assert ratios["fraction_of_peak_paired"] == pytest.approx(1.0)
    assert ratios["fraction_of_peak"] == pytest.approx(200.0 * 1e8 / 4e10)
    assert ratios["ours_over_torch"] == pytest.approx(200.0 / 160.0)


def test_targets_by_precision():
    assert table.targets("float32")["ours_over_torch"] == 1.2
    assert table.targets("mixed_bfloat16")["ours_over_torch"] == 1.3
    assert table.targets("mixed_bfloat16")["fraction_of_peak_paired"] == 0.7
    assert table.met({"ours_over_torch": 1.25}, table.targets("float32")) == {
        "ours_over_torch": True}
    assert table.met({"ours_over_torch": 1.25}, table.targets("mixed_bfloat16")) == {
        "ours_over_torch": False}
