"""Input data: sources of uint8 images and int32 labels, preprocessing, pipelines."""

from convnet.data.cifar_binary import CifarBinarySource
from convnet.data.info import CIFAR10, DatasetInfo
from convnet.data.pipeline import DATA_SOURCES, eval_dataset, make_source, train_dataset
from convnet.data.synthetic import SyntheticSource
from convnet.data.tfds_source import TfdsSource
