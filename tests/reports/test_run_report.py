"""convnet.reports.run_report: the plots and markdown summary of a tiny run, and its errors."""

import os
import shutil

import pytest

from convnet.reports import events
from convnet.reports import run_report as report
from convnet.runtime.errors import DataError

from event_runs import evaluated_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """(train_dir, eval_dir, {step: precision}): tests/event_runs.py."""
    return evaluated_run(tmp_path_factory)


@pytest.mark.slow
def test_report_writes_plots_and_a_summary_with_the_last_step(run, tmp_path):
    train_dir, eval_dir, precision = run
    written = report.report([train_dir], str(tmp_path / "out"), [eval_dir])
    for name in ("loss", "learning_rate", "precision"):
        with open(written[name], "rb") as f:
            assert f.read(8) == PNG_MAGIC
    summary = open(written["summary"], encoding="utf-8").read()
    loss = events.read_event_scalars(train_dir)["loss"]
    best = max(precision.items(), key=lambda item: item[1])
    assert f"| train | 4 | {loss[-1][1]:.3f} | {min(v for _, v in loss):.3f} " in summary
    assert f"| {precision[4]:.4f} (4) | {best[1]:.4f} ({best[0]}) |" in summary
    assert f"- train: {train_dir}, {eval_dir}" in summary


def test_eval_events_in_a_subdirectory_are_found_without_eval_dir(run, tmp_path):
    train_dir = str(tmp_path / "train")
    shutil.copytree(run[0], train_dir)
    shutil.copytree(run[1], os.path.join(train_dir, "eval"))
    written = report.report([train_dir, run[0]], str(tmp_path / "out"))
    assert "precision" in written
    summary = open(written["summary"], encoding="utf-8").read()
    # Two runs named "train": each is named by its full path; only the first was evaluated.
    first = next(line for line in summary.splitlines() if line.startswith(f"| {train_dir} |"))
    second = next(line for line in summary.splitlines() if line.startswith(f"| {run[0]} |"))
    assert f"| {run[2][4]:.4f} (4) |" in first and "| – | – |" in second
    assert f"- {train_dir}: {train_dir}, {os.path.join(train_dir, 'eval')}" in summary


def test_directories_without_events_are_clear_errors(run, tmp_path):
    with pytest.raises(DataError, match=f"no TensorBoard event files .* in {tmp_path}: point "
                                        f"--train_dir at a directory written by convnet.train"):
        report.report([str(tmp_path)], str(tmp_path / "out"))
    with pytest.raises(DataError, match=f"--eval_dir={tmp_path}"):
        report.report([run[0]], str(tmp_path / "out"), [str(tmp_path)])
    with pytest.raises(ValueError, match="lists 2 directories for 1 train dirs"):
        report.report([run[0]], str(tmp_path / "out"), [run[1], run[1]])
    with pytest.raises(ValueError, match="no runs given"):
        report.report([], str(tmp_path / "out"))
    assert not os.path.exists(tmp_path / "out")


def test_summarize_and_the_table_of_runs_without_evaluation():
    scalars = {"loss": [(10, 2.0), (20, 1.0), (30, 1.5)],
               "examples_per_sec": [(10, 100.0), (20, 300.0), (30, 500.0)],
               "precision_at_5": [(20, 0.5), (30, 0.4)], "precision_at_1": [(30, 0.2)]}
    row = report.summarize(scalars)
    assert row["last_step"] == 30 and row["final_loss"] == 1.5 and row["min_loss"] == (20, 1.0)
    assert row["examples_per_sec"] == 400.0  # the first interval (warm-up) left out
    assert row["precision"][5] == {"last": (30, 0.4), "best": (20, 0.5)}
    assert report.precision_tags(scalars) == [(1, "precision_at_1"), (5, "precision_at_5")]
    table = report.markdown_summary({"a": scalars, "b": {}}, {"a": ["/a"], "b": ["/b"]})
    assert "| a | 30 | 1.500 | 1.000 (20) | 0.2000 (30) | 0.2000 (30) | 0.4000 (30) " in table
    assert "| b | – | – | – | – | – | – | – | – |" in table and "- b: /b" in table
