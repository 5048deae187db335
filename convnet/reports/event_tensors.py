"""Every TF2 summary of a log directory as arrays, with its plugin: histograms, images,
hparams and text beside the scalars (`convnet.reports.events` reads only the scalars).

`read_summaries(log_dir)` gives {tag: [(step, array, plugin name), ...]} by
step; `plugin_tags(log_dir, plugin)` the tags a plugin ('scalars',
'histograms', 'images', 'hparams') has there. Used by tests and tools that check
what a run wrote for TensorBoard.
"""


import numpy as np
import tensorflow as tf

from convnet.reports.events import event_files, events_of

Entry = tuple[int, np.ndarray, str]  # (step, value, plugin name)


def read_summaries(log_dir: str) -> dict[str, list[Entry]]:
    """The tensor summaries in the event files directly in `log_dir`, by tag, by step.

    A truncated or damaged record ends its file (`convnet.reports.events.events_of`). The
    hparams plugin's summaries (no tensor value) come as empty arrays.
    """
    found: dict[str, list[Entry]] = {}
    for path in event_files(log_dir):
        for event in events_of(path):
            for value in event.summary.value:
                plugin = value.metadata.plugin_data.plugin_name
                array = (tf.make_ndarray(value.tensor) if value.HasField("tensor")
                         else np.array([]))
                found.setdefault(value.tag, []).append((int(event.step), array, plugin))
    return {tag: sorted(entries, key=lambda entry: entry[0]) for tag, entries in found.items()}


def plugin_tags(log_dir: str, plugin: str) -> set[str]:
    """The tags of `plugin`'s summaries in `log_dir`."""
    return {tag for tag, entries in read_summaries(log_dir).items()
            if any(entry[2] == plugin for entry in entries)}


def hparams_plugin_data(log_dir: str) -> list[bytes]:
    """The raw plugin content of each hparams summary in `log_dir` (session start info,
    experiment), for `tensorboard.plugins.hparams.plugin_data_pb2.HParamsPluginData`."""
    contents = []
    for path in event_files(log_dir):
        for event in events_of(path):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "hparams":
                    contents.append(value.metadata.plugin_data.content)
    return contents
