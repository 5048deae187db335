"""convnet.benchmarking.run: bad settings fail before any work; the JSON is written."""

import json

import pytest

from convnet import training
from convnet.benchmarking import run, table, torch_process


@pytest.mark.parametrize("settings,flag", [
    (dict(steps=0), "--steps"), (dict(repeats=0), "--repeats"),
    (dict(matmul_size=-1), "--matmul_size")])
def test_bad_settings_are_refused_before_the_trainer_is_built(settings, flag):
    config = training.TrainConfig.from_settings(data_dir="/nonexistent", download=False)
    with pytest.raises(ValueError, match=flag):
        run.bench(config, **settings)


def test_write_json_creates_the_directory(tmp_path):
    path = tmp_path / "out" / "bench.json"
    run.write_json({"ratios": {"fraction_of_peak": 0.5}}, str(path))
    with open(path, encoding="utf-8") as f:
        assert json.load(f) == {"ratios": {"fraction_of_peak": 0.5}}


@pytest.mark.parametrize("settings,message", [
    (dict(peer="jax"), "--peer"),
    (dict(peer="torch", precision="mixed_float16"), "--peer=torch times float32")])
def test_bad_peers_are_refused_before_the_trainer_is_built(settings, message):
    precision = settings.pop("precision", "float32")
    config = training.TrainConfig.from_settings(
        data_dir="/nonexistent", download=False, precision=precision)
    with pytest.raises(ValueError, match=message):
        run.bench(config, **settings)


def test_the_torch_peer_failing_is_one_clear_error(tmp_path, monkeypatch):
    with pytest.raises(RuntimeError, match="--peer_python=/nonexistent/python: no such"):
        torch_process.run_torch_peer("/nonexistent/python", name="resnet20")
    script = tmp_path / "peer.py"
    script.write_text("raise ModuleNotFoundError(\"No module named 'torch'\")\n")
    monkeypatch.setattr(torch_process, "PEER_SCRIPT", str(script))
    with pytest.raises(RuntimeError, match="torch is not installed there"):
        torch_process.run_torch_peer(None, name="resnet20")
    script.write_text("print('not json')\n")
    with pytest.raises(RuntimeError, match="not JSON"):
        torch_process.run_torch_peer(None, name="resnet20")
    script.write_text("import json, sys; print('a line'); print(json.dumps(sys.argv[1:]))\n")
    assert torch_process.run_torch_peer(None, name="x") == ['{"name": "x"}']


@pytest.mark.slow
def test_the_bench_times_the_torch_peer_and_prints_both_op_tables(tmp_path):
    pytest.importorskip("torch")
    config = training.TrainConfig.from_settings(
        train_dir=str(tmp_path), data_source="synthetic", model="resnet20", batch_size=4,
        optimizer="sgd", momentum=0.9, num_parallel_calls=1, precision="float32")
    result = run.bench(config, steps=1, repeats=2, matmul_size=32, keras_peer=False,
                       peer="torch", op_table=True)
    torch_figure = result["figures"]["torch"]
    assert len(torch_figure["values"]) == 2 and torch_figure["min"] > 0
    assert result["torch"]["params"] == result["trainable_params"] == 269_722
    assert result["torch"]["forward_flops_per_example"] == result["flops"]["forward_per_example"]
    assert result["ratios"]["ours_over_torch"] == pytest.approx(
        result["figures"]["step"]["median"] / torch_figure["median"])
    assert set(result["op_tables"]) == {"convnet", "torch"}
    assert "op_table" not in result["torch"]
    text = table.format_table(result)
    assert "op table of the convnet step" in text and "op table of the torch step" in text
    assert "aten::" in text and "6 pytorch step" in text
