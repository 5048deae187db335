"""convnet.reports.compare on synthetic data: table, plots, results, and reuse of finished runs."""

import json
import os

import pytest

from convnet import recipes
from convnet.reports import compare

CONFIGS = recipes.DIRECTORY


def test_compare_writes_table_plots_and_reuses_finished_runs(tmp_path, capsys):
    out = str(tmp_path / "cmp")
    data = {"data_source": "synthetic", "download": False}
    rows = compare.compare(["baseline", "lenet5"], out, 4, CONFIGS, data, eval_examples=500)
    assert [r["model"] for r in rows] == ["baseline", "lenet5"]
    assert rows[0]["params"] == 198506 and rows[1]["params"] == 62006
    assert rows[0]["steps"] == 4 and [s for s, _ in rows[0]["accuracy"]] == [1, 2, 3, 4]
    assert 0.0 <= rows[0]["test_accuracy"] <= 1.0 and rows[0]["size_bytes"] > 198506 * 4
    for name in ("comparison.md", "results.json", "loss.png", "accuracy.png"):
        assert os.path.getsize(os.path.join(out, name)) > 0
    table = open(os.path.join(out, "comparison.md"), encoding="utf-8").read()
    assert "| baseline | 198,506 |" in table and "| lenet5 | 62,006 |" in table
    wall = json.load(open(os.path.join(out, "results.json"), encoding="utf-8"))[0]["wall_secs"]

    again = compare.compare(["baseline"], out, 4, CONFIGS, data, eval_examples=500)
    assert again[0]["wall_secs"] == wall  # reused, not retrained
    assert "reusing the finished run" in capsys.readouterr().out


def test_unknown_models_and_missing_recipes_are_refused_before_training(tmp_path):
    with pytest.raises(ValueError, match="unknown model 'nosuch': choose from .*baseline"):
        compare.compare(["baseline", "nosuch"], str(tmp_path / "a"), 4, CONFIGS, {})
    assert not os.path.exists(tmp_path / "a")
    with pytest.raises(ValueError, match="no recipe for lenet5: .*lenet5.flags does not exist"):
        compare.compare(["lenet5"], str(tmp_path / "b"), 4, str(tmp_path), {})
    assert not os.path.exists(tmp_path / "b" / "runs")


def test_markdown_table_lists_each_model_and_the_example_counts():
    row = {"model": "m", "params": 1234, "size_bytes": 3 * 2 ** 20, "examples_per_sec": 12.34,
           "steps": 1000, "test_accuracy": 0.5, "wall_secs": 90, "test_examples": 10000}
    table = compare.markdown_table([row, dict(row, model="n", test_examples=500)])
    assert "| m | 1,234 | 3.0 MiB | 12.3 | 1,000 | 0.500 | 1.5 min |" in table
    assert "over 500 / 10,000 test examples" in table
