"""convnet.report: scalars from event files, plots and the markdown summary of a tiny run."""

import os
import shutil
import subprocess
import sys

import pytest
import tensorflow as tf

from convnet import evaluation, report, training
from convnet.errors import DataError

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """4 steps logged every 2, both checkpoints evaluated into a separate eval_dir.

    Returns (train_dir, eval_dir, {step: precision}).
    """
    root = tmp_path_factory.mktemp("run")
    config = training.TrainConfig(
        train_dir=str(root / "train"), data_source="synthetic", max_steps=4, batch_size=8,
        optimizer="adam", shuffle_buffer=16, log_frequency=2, save_checkpoint_steps=2,
        num_parallel_calls=2)
    training.Trainer(config).train()
    evaluator = evaluation.Evaluator(evaluation.EvalConfig(
        checkpoint_dir=config.train_dir, eval_dir=str(root / "elsewhere_eval"),
        data_source="synthetic", num_examples=16, batch_size=8, run_once=True,
        num_parallel_calls=2))
    precision = {}
    for step in (2, 4):
        result = evaluator.evaluate_checkpoint(os.path.join(config.train_dir, f"ckpt-{step}"))
        precision[step] = result.precision
    evaluator.writer.close()
    return config.train_dir, str(root / "elsewhere_eval"), precision


def test_read_event_scalars_finds_the_training_tags(run):
    scalars = report.read_event_scalars(run[0])
    assert [step for step, _ in scalars["loss"]] == [2, 4]
    assert [step for step, _ in scalars["learning_rate"]] == [2, 4]
    assert all(value > 0 for _, value in scalars["examples_per_sec"])
    assert "images" not in scalars  # image summaries are not scalars
    evaluated = report.read_event_scalars(run[1])
    assert [step for step, _ in evaluated["precision_at_1"]] == [2, 4]
    assert [value for _, value in evaluated["precision_at_1"]] == pytest.approx(
        [run[2][2], run[2][4]])


def test_report_writes_plots_and_a_summary_with_the_last_step(run, tmp_path):
    train_dir, eval_dir, precision = run
    written = report.report([train_dir], str(tmp_path / "out"), [eval_dir])
    for name in ("loss", "learning_rate", "precision"):
        with open(written[name], "rb") as f:
            assert f.read(8) == PNG_MAGIC
    summary = open(written["summary"], encoding="utf-8").read()
    loss = report.read_event_scalars(train_dir)["loss"]
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


def test_a_step_written_twice_keeps_the_latest_value(tmp_path):
    for value in (5.0, 3.0):  # a run resumed from an earlier checkpoint logs step 10 again
        writer = tf.summary.create_file_writer(str(tmp_path))
        with writer.as_default(step=10):
            tf.summary.scalar("loss", value)
        writer.close()
    assert report.read_event_scalars(str(tmp_path))["loss"] == [(10, 3.0)]


def test_directories_without_events_are_clear_errors(run, tmp_path):
    with pytest.raises(DataError, match=f"no TensorBoard event files .* in {tmp_path}: point "
                                        f"--train_dir at a directory written by convnet.train"):
        report.report([str(tmp_path)], str(tmp_path / "out"))
    with pytest.raises(DataError, match=f"--eval_dir={tmp_path}"):
        report.report([run[0]], str(tmp_path / "out"), [str(tmp_path)])
    with pytest.raises(ValueError, match="lists 2 directories for 1 train dirs"):
        report.report([run[0]], str(tmp_path / "out"), [run[1], run[1]])
    assert not os.path.exists(tmp_path / "out")


def test_the_main_takes_train_dirs_as_arguments(run, tmp_path):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "convnet.report", run[0],
                           f"--eval_dir={run[1]}", f"--output_dir={out}"],
                          capture_output=True, text=True, timeout=300, env=ENV)
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(out)) == ["learning_rate.png", "loss.png", "precision.png",
                                       "summary.md"]
    assert "| train | 4 |" in done.stdout
