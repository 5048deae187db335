"""convnet.benchmarking.run: bad settings fail before any work; the JSON is written."""

import json

import pytest

from convnet import training
from convnet.benchmarking import run


@pytest.mark.parametrize("settings,flag", [
    (dict(steps=0), "--steps"), (dict(repeats=0), "--repeats"),
    (dict(matmul_size=-1), "--matmul_size")])
def test_bad_settings_are_refused_before_the_trainer_is_built(settings, flag):
    config = training.TrainConfig(data_dir="/nonexistent", download=False)
    with pytest.raises(ValueError, match=flag):
        run.bench(config, **settings)


def test_write_json_creates_the_directory(tmp_path):
    path = tmp_path / "out" / "bench.json"
    run.write_json({"ratios": {"fraction_of_peak": 0.5}}, str(path))
    with open(path, encoding="utf-8") as f:
        assert json.load(f) == {"ratios": {"fraction_of_peak": 0.5}}
