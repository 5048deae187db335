"""convnet.reports.comparison on synthetic data: table, plots, results, and reuse of finished
runs."""

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from convnet import recipes
from convnet.data.sources.spec import SourceSpec, make_source
from convnet.reports import comparison as compare
from convnet.reports import events
from convnet.serving import loaded_model
from tests.fake_data import write_mnist

CONFIGS = recipes.DIRECTORY


@pytest.mark.slow
def test_compare_writes_table_plots_and_reuses_finished_runs(tmp_path, capsys):
    out = str(tmp_path / "cmp")
    data = {"data_source": "synthetic", "download": False}
    rows = compare.compare(["baseline", "lenet5"], out, 4, configs_dir=CONFIGS, data_args=data,
                           eval_examples=500)
    assert [r["model"] for r in rows] == ["baseline", "lenet5"]
    assert rows[0]["params"] == 198506 and rows[1]["params"] == 62006
    assert rows[0]["steps"] == 4 and [s for s, _ in rows[0]["accuracy"]] == [1, 2, 3, 4]
    assert 0.0 <= rows[0]["test_accuracy"] <= 1.0 and rows[0]["size_bytes"] > 198506 * 4
    # Each figure: 8 x 5 inches at 100 dpi, one line a model in matplotlib's first two colours.
    for name in ("loss.png", "accuracy.png"):
        image = tf.io.decode_png(open(os.path.join(out, name), "rb").read(), channels=3).numpy()
        assert image.shape == (500, 800, 3)
        colours = {tuple(p) for p in image.reshape(-1, 3)}
        assert (31, 119, 180) in colours and (255, 127, 14) in colours, name  # C0, C1
    # The losses plotted are those the training run logged, read here straight from the event
    # file; the last accuracy is the final checkpoint's, counted here on the model itself.
    logged = {}
    for path in glob.glob(os.path.join(out, "runs", "baseline", "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag == "loss":
                    logged[event.step] = float(tf.make_ndarray(value.tensor))
    assert [step for step, _ in rows[0]["loss"]] == sorted(logged)
    assert [value for _, value in rows[0]["loss"]] == pytest.approx(
        [logged[step] for step in sorted(logged)])
    loaded = loaded_model.load(os.path.join(out, "runs", "baseline"))
    source = make_source(SourceSpec("synthetic"))
    images, labels = zip(*[(i.numpy(), int(lab))
                           for i, lab in source.dataset("test").take(500)], strict=True)
    predicted = loaded.probabilities(np.stack(images)).argmax(axis=1)
    assert rows[0]["accuracy"][-1][0] == 4
    assert rows[0]["accuracy"][-1][1] == pytest.approx(float(np.mean(predicted == labels)))
    table = open(os.path.join(out, "comparison.md"), encoding="utf-8").read()
    assert "| baseline | 198,506 |" in table and "| lenet5 | 62,006 |" in table
    wall = json.load(open(os.path.join(out, "results.json"), encoding="utf-8"))[0]["wall_secs"]

    again = compare.compare(["baseline"], out, 4, configs_dir=CONFIGS, data_args=data,
                            eval_examples=500)
    assert again[0]["wall_secs"] == wall  # reused, not retrained
    assert "reusing the finished run" in capsys.readouterr().out


def test_unknown_models_and_missing_recipes_are_refused_before_training(tmp_path):
    with pytest.raises(ValueError, match="unknown --model='nosuch': choose from .*baseline"):
        compare.compare(["baseline", "nosuch"], str(tmp_path / "a"), 4, configs_dir=CONFIGS,
                        data_args={})
    assert not os.path.exists(tmp_path / "a")
    with pytest.raises(ValueError, match="no recipe for lenet5: .*lenet5.flags does not exist"):
        compare.compare(["lenet5"], str(tmp_path / "b"), 4, configs_dir=str(tmp_path), data_args={})
    assert not os.path.exists(tmp_path / "b" / "runs")


def test_markdown_table_lists_each_model_and_the_example_counts():
    row = {"model": "m", "params": 1234, "size_bytes": 3 * 2 ** 20, "examples_per_sec": 12.34,
           "steps": 1000, "epochs": 2.56, "test_accuracy": 0.5, "wall_secs": 90,
           "test_examples": 10000}
    table = compare.markdown_table([row, dict(row, model="n", test_examples=500)],
                                   compare.describe_budget(None, "15m"))
    assert "| m | 1,234 | 3.0 MiB | 12.3 | 1,000 | 2.6 | 0.500 | 1.5 min |" in table
    assert "Budget: 15m of training a model (its schedule fitted to it). Test accuracy" in table
    assert "over 500 / 10,000 test examples" in table


def test_budget_flags_and_their_words():
    assert compare.budget_flags(None)[0] == "--max_steps=200"
    assert compare.budget_flags(8) == ["--max_steps=8", "--save_checkpoint_steps=2",
                                       "--max_checkpoints_to_keep=5", "--log_frequency=1"]
    assert compare.budget_flags(None, "15m") == ["--time_budget=15m"]
    assert compare.budget_flags(None, "", 2.5) == ["--epoch_budget=2.5"]
    assert compare.describe_budget(None, "", 2.5) == ("Budget: 2.5 epochs a model (its recipe "
                                                      "scaled to them)")
    with pytest.raises(ValueError, match="--max_steps and --epoch_budget: give one budget"):
        compare.compare(["lenet5"], "/nonexistent/x", 5, configs_dir=CONFIGS, data_args={},
                        epoch_budget=2.0)


@pytest.mark.slow
def test_an_epoch_budget_scales_each_recipe_and_draws_the_per_epoch_curves(tmp_path):
    write_mnist(str(tmp_path / "mnist"), train=128, test=20)
    out = str(tmp_path / "cmp")
    data = {"data_dir": str(tmp_path / "mnist"), "download": False}
    rows = compare.compare(["lenet5_mnist"], out, None, configs_dir=CONFIGS, data_args=data,
                           epoch_budget=3)
    (row,) = rows
    # lenet5_mnist: 10 epochs at batch 64 scaled to 3 epochs of 128 examples: 6 steps.
    assert row["steps"] == 6 and row["epochs"] == 3.0
    eval_dir = os.path.join(out, "runs", "lenet5_mnist", "eval")
    precision = events.read_scalars(eval_dir, "precision_at_1")
    seconds = dict(events.read_scalars(eval_dir, "elapsed_seconds"))
    assert [step for step, _ in precision] == [2, 4, 6]  # after each epoch
    assert row["accuracy_by_epoch"] == [(step / 2, value) for step, value in precision]
    assert row["accuracy_by_seconds"] == [(seconds[step], value) for step, value in precision]
    assert sorted(seconds.values()) == [seconds[2], seconds[4], seconds[6]]
    for name in ("accuracy_epochs.png", "accuracy_seconds.png"):
        assert os.path.getsize(os.path.join(out, name)) > 1000
    assert "Budget: 3 epochs a model" in open(os.path.join(out, "comparison.md")).read()
    assert compare.compare(["lenet5_mnist"], out, None, configs_dir=CONFIGS, data_args=data,
                           epoch_budget=3)[0]["wall_secs"] == row["wall_secs"]  # reused
