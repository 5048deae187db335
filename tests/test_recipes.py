"""convnet.recipes: the shipped flag files, --recipe=NAME and its expansion."""

import json
import os
import subprocess
import sys

import pytest
from absl import flags

from convnet import recipes, training
from convnet.runtime import options
from convnet.runtime.precision import PRECISIONS

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


def test_a_recipes_precision_file_follows_it_for_runs_in_that_precision(tmp_path, monkeypatch):
    (tmp_path / "toy.flags").write_text("--batch_size=8\n--precision=auto\n")
    (tmp_path / "toy.float32.flags").write_text("# float32 only\n--epochs=3\n")
    monkeypatch.setattr(recipes, "DIRECTORY", str(tmp_path))
    assert recipes.names() == ["toy"] and recipes.precision_files() == [("toy", "float32")]
    toy, toy32 = "--flagfile=" + recipes.path("toy"), f"--flagfile={tmp_path}/toy.float32.flags"
    seen = []

    def resolve(value):  # the last --precision of the command line or the recipe; auto: bf16
        seen.append(value)
        return {"auto": "mixed_bfloat16", None: "float32"}.get(value, value)

    argv = ["prog", "--recipe=toy", "--precision=float32", "--epochs=5"]
    assert recipes.expand(argv, resolve) == ["prog", toy, toy32, *argv[1:]]
    assert recipes.expand(["prog", "--recipe", "toy"], resolve) == ["prog", toy, "--recipe", "toy"]
    assert recipes.expand(["prog", "--precision=float32", "--recipe=toy"], resolve) == [
        "prog", "--precision=float32", toy, "--recipe=toy"]  # the recipe's auto comes last
    assert recipes.expand(["prog", "--recipe=toy", "--precision", "float32"], resolve)[2] == toy32
    assert seen == ["float32", "auto", "auto", "float32"]
    assert recipes.expand(argv) == ["prog", toy, *argv[1:]]  # without a resolver: as before
    assert recipes.precision_file_line(toy32) == (
        "--recipe=toy in float32: --epochs=3 (toy.float32.flags)")
    assert recipes.precision_file_line(toy) is None
    assert recipes.precision_file_line("--epochs=3") is None


def test_the_shipped_precision_files_name_a_recipe_and_a_precision_and_leave_it_alone():
    assert ("fast93_muon", "float32") in recipes.precision_files()
    for name, precision in recipes.precision_files():
        assert name in recipes.names() and precision in set(PRECISIONS) - {"auto"}
        with open(recipes.precision_path(name, precision), encoding="utf-8") as f:
            settings = [line for line in f if line.startswith("--")]
        assert settings and not any(line.startswith("--precision") for line in settings)
    assert recipes.precision_path("fast93_muon", "mixed_bfloat16") is None


def _config(name: str) -> training.TrainConfig:
    """The TrainConfig a shipped recipe parses into (absl's own flag file reading)."""
    values = flags.FlagValues()
    options.define_flags(training.TrainConfig, values)
    values(["train", "--flagfile=" + recipes.path(name)])
    return options.from_flags(training.TrainConfig, values)


def _epochs(config: training.TrainConfig, examples: int = 50_000) -> float:
    return config.epochs or config.max_steps * config.data.batch_size / examples


def test_every_shipped_recipe_parses_into_a_valid_config():
    for name in recipes.names():
        _config(name).validate()


# The classic networks' fast recipes (issue 30): each in at most a quarter of its paper's epochs.
FAST = [name for name in recipes.names() if name.endswith("_fast")]


def test_each_fast_recipe_trains_its_papers_model_in_a_quarter_of_its_epochs():
    assert {"resnet20_fast", "resnet56_fast"} <= set(FAST)
    for name in FAST:
        paper, fast = _config(name.removesuffix("_fast")), _config(name)
        assert fast.model == paper.model, name
        assert _epochs(fast) <= _epochs(paper) / 4, (name, _epochs(fast), _epochs(paper))
    assert _epochs(_config("resnet20")) == pytest.approx(163.84)  # 64k steps at batch 128


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
    # The precision file of the run's precision joins the recipe and says so (the run stops
    # before training at the missing data; runs in bfloat16 skip it: test_time_to_accuracy).
    run = subprocess.run(
        [sys.executable, "-m", "convnet.train", "--recipe=fast93_muon", "--precision=float32",
         f"--data_dir={tmp_path / 'none'}", "--nodownload", f"--train_dir={tmp_path / 'f32'}"],
        capture_output=True, text=True, env=ENV, timeout=300)
    assert run.returncode == 1 and "error: " in run.stderr, run.stderr[-2000:]
    assert ("--recipe=fast93_muon in float32: --progressive_resizing=25:3 "
            "(fast93_muon.float32.flags)") in run.stdout


def test_a_recipe_from_python_is_the_command_lines_with_its_precision_file_and_overrides():
    for name in ("resnet20", "resnet20_fast", "lenet5_mnist"):  # no precision file
        assert training.TrainConfig.from_recipe(name) == _config(name)
    fast = training.TrainConfig.from_recipe("resnet20_fast", epochs=2, seed=3)
    assert (fast.model, fast.data.batch_size, fast.epochs, fast.seed) == ("resnet20", 512, 2, 3)
    in_float32 = training.TrainConfig.from_recipe("fast93_muon", precision="float32")
    assert (in_float32.augment.progressive_resizing,
            in_float32.compute.precision) == ("25:3", "float32")
    in_bfloat16 = training.TrainConfig.from_recipe("fast93_muon", precision="mixed_bfloat16")
    assert in_bfloat16.augment.progressive_resizing == ""
    with pytest.raises(ValueError, match="unknown --recipe='resnet21': choose from"):
        training.TrainConfig.from_recipe("resnet21")
    with pytest.raises(ValueError, match=r"setting.s. epoch \(did you mean epochs\?\): the"):
        training.TrainConfig.from_recipe("resnet20", epoch=3)
