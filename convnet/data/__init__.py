"""Input data: sources of uint8 images and int32 labels, preprocessing, pipelines."""

from convnet.data.cifar_binary import CifarBinarySource
from convnet.data.cifar_python import CifarPythonSource
from convnet.data.info import (CIFAR10, CIFAR100, CIFAR100_COARSE, DATASETS, FASHION_MNIST,
                               LABEL_MODES, MNIST, DatasetInfo, dataset_info)
from convnet.data.mnist_idx import IdxSource
from convnet.data.pipeline import InputSettings, channel_stats, eval_dataset, train_dataset
from convnet.data.source import FileSource, Source
from convnet.data.source_spec import DATA_SOURCES, SourceSpec, file_source, make_source
from convnet.data.synthetic import SyntheticSource
from convnet.data.tfds_source import TfdsSource
