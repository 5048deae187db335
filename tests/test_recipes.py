"""convnet.recipes: the shipped flag files, --recipe=NAME and its expansion."""

import json
import os
import subprocess
import sys

import pytest
from absl import flags

from convnet import recipes

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")


def test_the_zoo_and_the_time_to_accuracy_recipes_are_shipped():
    names = recipes.names()
    assert {"cifar10", "lenet5", "resnet20", "fast93", "fast94"} <= set(names)
    for name in names:
        with open(recipes.path(name), encoding="utf-8") as f:
            assert any(line.startswith("--") for line in f), name


def test_an_unknown_recipe_names_the_choices():
    with pytest.raises(ValueError, match="unknown --recipe='resnet21': choose from alexnet, "):
        recipes.path("resnet21")
    values = flags.FlagValues()
    recipes.define_recipe_flag(values)
    with pytest.raises(flags.IllegalFlagValueError, match="resnet20"):
        values(["prog", "--recipe=resnet21"])


def test_expand_puts_the_recipe_file_in_the_recipes_place():
    lenet = "--flagfile=" + recipes.path("lenet5")
    assert recipes.expand(["prog", "--batch_size=8", "--recipe=lenet5", "--max_steps=3"]) == [
        "prog", "--batch_size=8", lenet, "--recipe=lenet5", "--max_steps=3"]
    assert recipes.expand(["prog", "--recipe", "lenet5"]) == ["prog", lenet, "--recipe", "lenet5"]
    assert recipes.expand(["prog", "--recipe=nope"]) == ["prog", "--recipe=nope"]  # flag says so


@pytest.mark.slow
def test_train_with_a_recipe_later_flags_override_it(tmp_path):
    train_dir = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "convnet.train", "--recipe=lenet5", "--data_source=synthetic",
         "--max_steps=2", "--batch_size=16", "--normalization=per_image",  # no statistics pass
         f"--train_dir={train_dir}", "--log_frequency=1"],
        capture_output=True, text=True, env=ENV, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads((train_dir / "run.json").read_text())
    settings = {**record["settings"], "model": record["model"],
                "batch_size": record["batch_size"], "optimizer": record["optimizer"]}
    with open(recipes.path("lenet5"), encoding="utf-8") as f:
        recipe = dict(line.strip()[2:].split("=", 1) for line in f if line.startswith("--"))
    assert settings["model"] == "lenet5" and settings["batch_size"] == 16
    assert recipe["normalization"] == "per_channel" and settings["normalization"] == "per_image"
    assert settings["optimizer"] == recipe["optimizer"]
    assert "--model=lenet5\n" in (train_dir / "flags.txt").read_text()
    unknown = subprocess.run([sys.executable, "-m", "convnet.train", "--recipe=lenet6"],
                             capture_output=True, text=True, env=ENV, timeout=300)
    assert unknown.returncode != 0 and "lenet5" in unknown.stderr and "resnet20" in unknown.stderr
