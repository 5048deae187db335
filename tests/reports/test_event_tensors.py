"""convnet.reports.event_tensors: every summary of a log directory as arrays, by tag and step."""

import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import api as hp
from tensorboard.plugins.hparams import plugin_data_pb2

from convnet.reports import event_tensors


def _write(log_dir):
    with tf.summary.create_file_writer(log_dir).as_default():
        for step in (2, 1):  # written out of order: read back by step
            tf.summary.scalar("loss", 0.5 * step, step=step)
        tf.summary.histogram("weights", tf.constant([1.0, 2.0, 3.0]), step=1, buckets=3)
        tf.summary.image("pictures", tf.zeros([1, 2, 2, 3]), step=1)
        hp.hparams({"batch_size": 8}, trial_id="t")


def test_summaries_come_back_as_arrays_by_tag_and_step_with_their_plugin(tmp_path):
    _write(str(tmp_path))
    summaries = event_tensors.read_summaries(str(tmp_path))
    assert [(step, float(value), plugin) for step, value, plugin in summaries["loss"]] == [
        (1, 0.5, "scalars"), (2, 1.0, "scalars")]
    (step, histogram, plugin), = summaries["weights"]
    assert (step, plugin) == (1, "histograms")
    assert histogram.shape == (3, 3) and histogram[:, 2].sum() == 3  # [left, right, count]
    assert event_tensors.plugin_tags(str(tmp_path), "images") == {"pictures"}
    assert event_tensors.plugin_tags(str(tmp_path), "histograms") == {"weights"}
    assert "loss" not in event_tensors.plugin_tags(str(tmp_path), "histograms")


def test_hparams_plugin_data_parses_as_the_plugins_protocol_buffer(tmp_path):
    _write(str(tmp_path))
    contents = event_tensors.hparams_plugin_data(str(tmp_path))
    assert contents
    starts = [plugin_data_pb2.HParamsPluginData.FromString(c).session_start_info
              for c in contents]
    assert any(start.hparams["batch_size"].number_value == 8 for start in starts)


def test_a_truncated_event_file_gives_the_records_before_the_cut(tmp_path):
    _write(str(tmp_path))
    path, = [p for p in tmp_path.iterdir() if "tfevents" in p.name]
    data = path.read_bytes()
    whole = event_tensors.read_summaries(str(tmp_path))
    path.write_bytes(data[:-7])  # the last record loses its end
    cut = event_tensors.read_summaries(str(tmp_path))
    assert set(whole) - set(cut) == {"_hparams_/session_start_info"}  # the last record
    assert [entry[0] for entry in cut["loss"]] == [1, 2]
    assert np.array_equal(cut["loss"][0][1], whole["loss"][0][1])
