"""convnet.reports.events: scalars from the event files of a tiny run, resumed steps, merged
directories."""

import os

import pytest
import tensorflow as tf

from convnet.reports import events
from convnet.runtime.errors import DataError

from event_runs import evaluated_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return evaluated_run(tmp_path_factory)


def _write_scalars(log_dir, tag, points):
    writer = tf.summary.create_file_writer(str(log_dir))
    for step, value in points:
        with writer.as_default(step=step):
            tf.summary.scalar(tag, value)
    writer.close()


@pytest.mark.slow
def test_read_event_scalars_finds_the_training_tags(run):
    scalars = events.read_event_scalars(run[0])
    assert [step for step, _ in scalars["loss"]] == [2, 4]
    assert [step for step, _ in scalars["learning_rate"]] == [2, 4]
    assert all(value > 0 for _, value in scalars["examples_per_sec"])
    assert "images" not in scalars  # image summaries are not scalars
    evaluated = events.read_event_scalars(run[1])
    assert [step for step, _ in evaluated["precision_at_1"]] == [2, 4]
    assert [value for _, value in evaluated["precision_at_1"]] == pytest.approx(
        [run[2][2], run[2][4]])
    assert events.read_scalars(run[0], "loss") == scalars["loss"]
    assert events.read_scalars(run[0], "no_such_tag") == []


def test_a_step_written_twice_keeps_the_latest_value(tmp_path):
    for value in (5.0, 3.0):  # a run resumed from an earlier checkpoint logs step 10 again
        writer = tf.summary.create_file_writer(str(tmp_path))
        with writer.as_default(step=10):
            tf.summary.scalar("loss", value)
        writer.close()
    assert events.read_event_scalars(str(tmp_path))["loss"] == [(10, 3.0)]


def test_load_run_merges_the_train_dir_its_subdirectories_and_the_eval_dir(tmp_path):
    train_dir, elsewhere = tmp_path / "train", tmp_path / "elsewhere"
    _write_scalars(train_dir, "loss", [(1, 2.0), (2, 1.5)])
    _write_scalars(train_dir / "eval", "precision_at_1", [(2, 0.25)])
    _write_scalars(elsewhere, "precision_at_1", [(4, 0.5)])
    os.makedirs(train_dir / "no_events")
    scalars, read = events.load_run(str(train_dir), str(elsewhere))
    assert read == [str(train_dir), str(train_dir / "eval"), str(elsewhere)]
    assert scalars == {"loss": [(1, 2.0), (2, 1.5)], "precision_at_1": [(2, 0.25), (4, 0.5)]}
    assert events.load_run(str(train_dir), str(train_dir / "eval"))[1] == read[:2]
    with pytest.raises(DataError, match="no TensorBoard event files"):
        events.load_run(str(train_dir / "no_events"))


def test_event_files_of_a_missing_directory_is_empty(tmp_path):
    assert events.event_files(str(tmp_path / "absent")) == []
    into = {"loss": [(1, 3.0), (2, 2.0)]}
    events.merge_scalars(into, {"loss": [(2, 1.0), (3, 0.5)], "lr": [(1, 0.1)]})
    assert into == {"loss": [(1, 3.0), (2, 1.0), (3, 0.5)], "lr": [(1, 0.1)]}
