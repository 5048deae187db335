"""convnet.compare on synthetic data: table, plots, results, and reuse of finished runs."""

import json
import os

from convnet import compare

CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")


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
