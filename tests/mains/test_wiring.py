"""Each main in process: `run()` is `cli.run(main, *its config classes)` (its flags are their
fields), and `main` hands the configs' values to the one library call it makes. (Each main
through a subprocess, as a user runs it: the other files here, marked slow.)"""

import dataclasses

import pytest

from convnet import (
    bench,
    compare,
    evaluation,
    export,
    make_shards,
    predict,
    report,
    summary,
    train,
    training,
)
from convnet.benchmarking import BenchSettings
from convnet.data.config import DataConfig
from convnet.reports import comparison as compare_lib
from convnet.reports import run_report as report_lib
from convnet.runtime.compute import ComputeConfig
from convnet.serving import checkpoint_export as export_lib
from convnet.serving import loaded_model

from helpers import check_run_derives_its_flags_from


@pytest.mark.parametrize("module, main, configs, options", [
    (train, train.main, (training.TrainConfig,), {"takes_recipe": True}),
    (bench, bench.main, (training.TrainConfig, BenchSettings), {"takes_recipe": True}),
    (compare, compare.main, (compare_lib.CompareConfig, DataConfig, ComputeConfig), {}),
    (report, report.main, (report_lib.ReportConfig,), {"takes_args": True}),
    (predict, predict.main, (loaded_model.InferenceConfig,), {"takes_args": True}),
    (export, export.main, (export_lib.ExportConfig,), {}),
    (summary, summary.main, (summary.SummaryConfig,), {}),
    (make_shards, make_shards.main, (make_shards.ShardConfig, DataConfig), {}),
], ids=["train", "bench", "compare", "report", "predict", "export", "summary", "make_shards"])
def test_run_derives_the_flags_of_its_configs(monkeypatch, module, main, configs, options):
    check_run_derives_its_flags_from(monkeypatch, module, main, *configs, **options)


def test_eval_runs_evaluate_on_its_config(monkeypatch):
    from convnet import eval as eval_main
    check_run_derives_its_flags_from(monkeypatch, eval_main, evaluation.evaluate,
                                     evaluation.EvalConfig)


def _recording(monkeypatch, module, name):
    calls = []
    monkeypatch.setattr(module, name, lambda *args, **kwargs: calls.append((args, kwargs)))
    return calls


def test_bench_measures_prints_and_writes_the_json(monkeypatch, tmp_path, capsys):
    measured = _recording(monkeypatch, bench.benchmarking, "bench")
    written = _recording(monkeypatch, bench.benchmarking, "write_json")
    monkeypatch.setattr(bench.benchmarking, "format_table", lambda result: "the table")
    config = training.TrainConfig.from_settings(model="lenet5")
    bench.main(config, BenchSettings(steps=3, repeats=2, keras=False, peer="torch",
                                     peer_python="/p/python", op_table=True,
                                     output=str(tmp_path / "b.json"), min_round_seconds=1.5))
    assert measured == [((config, 3, 2), {
        "matmul_size": 0, "keras_peer": False, "peer": "torch", "peer_python": "/p/python",
        "op_table": True, "min_round_seconds": 1.5})]
    assert written == [((None, str(tmp_path / "b.json")), {})]
    assert capsys.readouterr().out == "the table\n"


def test_compare_passes_the_data_flags_given_and_the_ones_always_passed(monkeypatch):
    compared = _recording(monkeypatch, compare.compare, "compare")
    monkeypatch.setattr(compare.options, "given_flags", lambda classes: {"batch_size"})
    config = compare_lib.CompareConfig(models=("lenet5",), max_steps=3, output_dir="/o",
                                       eval_examples=9)
    compare.main(config, DataConfig(batch_size=32), ComputeConfig())
    (args, keywords), = compared
    assert args == (("lenet5",), "/o", 3)
    assert keywords["configs_dir"] == config.configs_dir and keywords["eval_examples"] == 9
    assert keywords["data_args"] == {"data_source": "files", "data_dir": DataConfig().data_dir,
                                     "download": True, "batch_size": 32}


def test_report_takes_its_flags_and_arguments(monkeypatch):
    reported = _recording(monkeypatch, report.report, "report")
    report.main(report_lib.ReportConfig(train_dir=("/a", ""), eval_dir=("/e",),
                                        output_dir="/o"), ["/b"])
    assert reported == [((["/a", "/b"], "/o", ("/e",)), {})]


def test_predict_needs_images_and_passes_the_checkpoint_settings(monkeypatch):
    predicted = _recording(monkeypatch, predict.predict, "predict")
    config = loaded_model.InferenceConfig(checkpoint_dir="/t", top_k=2, use_ema=False)
    with pytest.raises(ValueError, match="no image files given"):
        predict.main(config, [])
    predict.main(config, ["a.png"])
    assert predicted == [(("/t", ["a.png"], 2), {"use_ema": False, "checkpoint_path": None,
                                                 "restore_fallback": True})]


def test_export_passes_every_setting(monkeypatch):
    exported = _recording(monkeypatch, export.export, "export")
    config = export_lib.ExportConfig(checkpoint_dir="/t", export_dir="/x", format="tflite",
                                     quantize="dynamic")
    export.main(config)
    assert exported == [(("/t", "/x", "tflite"), {
        "top_k": 5, "use_ema": True, "checkpoint_path": None, "restore_fallback": True,
        "quantize": "dynamic"})]


def test_summary_prints_the_layer_table_at_the_datasets_input(capsys):
    summary.main(summary.SummaryConfig(model="lenet5", dataset="mnist"))
    out = capsys.readouterr().out
    assert out.startswith("Model: lenet5   input: (None, 28, 28, 1)")
    # conv1 5x5x1x6+6, conv2 5x5x6x16+16 (28 -> 24 -> 12 -> 8 -> 4), fc1 4*4*16*120+120,
    # fc2 120*84+84, logits 84*10+10
    total = 156 + 2416 + (4 * 4 * 16 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
    assert f"Total params: {total:,}" in out


def test_train_main_passes_its_flag_file(monkeypatch):
    trained = _recording(monkeypatch, train.training, "train")
    monkeypatch.setattr(train.options, "flag_file", lambda config_class: "--model=lenet5\n")
    config = dataclasses.replace(training.TrainConfig(), model="lenet5")
    train.main(config)
    assert trained == [((config,), {"flags_text": "--model=lenet5\n"})]
