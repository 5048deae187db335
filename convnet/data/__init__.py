"""Input data: sources of uint8 [H, W, C] images and int32 labels, and the pipelines that turn
them into batches of model inputs.

  info            DatasetInfo: the name, image shape, classes and split sizes of a dataset
  config          DataConfig and AugmentConfig: the data and augmentation flags
  preprocess      Preprocessing: augmentation and normalization, example by example
  batch_augment   augmentations of whole batches (airbench's translate and alternating flip)
  pipeline        InputSettings; the training and evaluation tf.data pipelines
  sources/        where examples come from (the Source protocol, files, tfds, synthetic, ...)
"""

from convnet.data.info import DATASETS, LABEL_MODES, DatasetInfo, dataset_info
from convnet.data.pipeline import InputSettings, channel_stats, eval_dataset, train_dataset
from convnet.data.sources.base import FileSource, Source
from convnet.data.sources.spec import DATA_SOURCES, SourceSpec, make_source

__all__ = ["DATASETS", "DATA_SOURCES", "DatasetInfo", "FileSource", "InputSettings",
           "LABEL_MODES", "Source", "SourceSpec", "channel_stats", "dataset_info",
           "eval_dataset", "make_source", "train_dataset"]
