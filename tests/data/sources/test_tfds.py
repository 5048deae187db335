"""convnet.data.sources.tfds: a tfds dataset as a source, with no network: tfds' mock data, and
a tiny builder defined here that tfds downloads-and-prepares from examples made in this file."""

import importlib

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from convnet.data import pipeline, preprocess
from convnet.data.sources.spec import SourceSpec, make_source
from convnet.data.sources.tfds import TfdsSource, describe_failure
from convnet.runtime.errors import DataError

# What tensorflow-datasets imports at run time (download_and_prepare, as_dataset) that its own
# requirements leave out; convnet's setup.py requires them.
TFDS_RUNTIME_MODULES = ("importlib_resources",)

CLASSES = ("cat", "dog", "ship")
TRAIN, TEST = 7, 3


def _examples(count, seed):
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), i % len(CLASSES))
            for i in range(count)]


EXAMPLES = {"train": _examples(TRAIN, 0), "test": _examples(TEST, 1)}


def _info(builder):
    return tfds.core.DatasetInfo(
        builder=builder, supervised_keys=("image", "label"),
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(32, 32, 3)),
            "label": tfds.features.ClassLabel(names=CLASSES)}))


class ConvnetTestTinyImages(tfds.core.GeneratorBasedBuilder):
    """`convnet_test_tiny_images`: EXAMPLES, written by tfds into the test's data_dir."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return _info(self)

    def _split_generators(self, dl_manager):
        return {split: self._generate_examples(split) for split in EXAMPLES}

    def _generate_examples(self, split):
        for index, (image, label) in enumerate(EXAMPLES[split]):
            yield index, {"image": image, "label": label}


class ConvnetTestBrokenImages(ConvnetTestTinyImages):
    """`convnet_test_broken_images`: preparing it needs a module that is not installed."""

    def _split_generators(self, dl_manager):
        importlib.import_module("convnet_no_such_module_xyz")


class ConvnetTestOfflineImages(ConvnetTestTinyImages):
    """`convnet_test_offline_images`: its download fails as it does without a network."""

    def _split_generators(self, dl_manager):
        raise ConnectionError("Failed to resolve 'www.example.org' (Name or service not known)")


def _check_read(source, split):
    examples = list(source.dataset(split))
    assert len(examples) == source.num_examples(split) == len(EXAMPLES[split])
    for image, label in examples:
        assert image.dtype == tf.uint8 and image.shape == (32, 32, 3)
        assert label.dtype == tf.int32 and label.shape == ()
    # tfds may shuffle the order of the written examples: compare as multisets.
    got = sorted((int(label), image.numpy().tobytes()) for image, label in examples)
    assert got == sorted((label, image.tobytes()) for image, label in EXAMPLES[split])


def test_tfds_source_prepares_a_local_builder_and_reads_it(tmp_path):
    source = TfdsSource("convnet_test_tiny_images", data_dir=str(tmp_path))
    assert (source.info.name, source.info.image_shape, source.info.num_classes,
            source.info.class_names) == ("convnet_test_tiny_images", (32, 32, 3), 3, CLASSES)
    assert source.num_examples("train") == TRAIN  # unknown before: preparing it tells
    assert source.info.num_examples == {"train": TRAIN, "test": TEST}
    assert (tmp_path / "convnet_test_tiny_images" / "1.0.0" / "dataset_info.json").is_file()
    _check_read(source, "train")
    _check_read(source, "test")
    # Prepared once: a second source reads it without downloading.
    again = TfdsSource("convnet_test_tiny_images", data_dir=str(tmp_path), allow_download=False)
    assert again.info.num_examples == {"train": TRAIN, "test": TEST}
    _check_read(again, "test")


def test_tfds_files_are_shards_read_in_any_order_and_streamed(tmp_path):
    source = TfdsSource("convnet_test_tiny_images", data_dir=str(tmp_path))
    sizes = source.shard_sizes("train")
    assert sum(sizes) == TRAIN
    in_order = [(int(index), image, int(label)) for index, (image, label)
                in source.read_shards("train", np.arange(len(sizes)), skip=2)
                .as_numpy_iterator()]
    assert [index for index, _, _ in in_order] == list(range(2, TRAIN))  # the split's index
    listed = list(source.dataset("train").as_numpy_iterator())  # tfds's order (it shuffles)
    for index, image, label in in_order:
        np.testing.assert_array_equal(image, listed[index][0])
        assert label == listed[index][1]
    preprocessing = preprocess.Preprocessing("none", 32, "per_image")
    settings = pipeline.InputSettings(preprocessing, 2, shuffle_buffer=3, seed=1, cache=False)
    batches = [labels.numpy() for _, labels in pipeline.train_dataset(source, 7, settings)
               .take(2)]  # streamed: each epoch every example once
    for labels in batches:
        assert sorted(labels) == sorted(label for _, label in EXAMPLES["train"])
    resumed = next(iter(pipeline.train_dataset(source, 7, settings, start_example=7)))[1]
    np.testing.assert_array_equal(resumed, batches[1])


def test_make_source_with_a_tfds_spec_reads_the_prepared_dataset(tmp_path):
    source = make_source(SourceSpec(data_source="tfds", tfds_data_dir=str(tmp_path),
                                             dataset="convnet_test_tiny_images"))
    assert isinstance(source, TfdsSource)
    _check_read(source, "test")
    images, labels = next(iter(pipeline.eval_dataset(source, "test", 2)))
    assert images.shape == (2, 24, 24, 3) and images.dtype == tf.float32
    assert labels.dtype == tf.int32


def test_a_failure_while_preparing_names_the_real_cause(tmp_path):
    source = TfdsSource("convnet_test_broken_images", data_dir=str(tmp_path))
    with pytest.raises(DataError) as error:
        source.dataset("train")
    message = str(error.value)
    assert message.startswith(f"could not prepare tfds dataset 'convnet_test_broken_images' in "
                              f"{tmp_path} (ModuleNotFoundError: No module named "
                              f"'convnet_no_such_module_xyz'")
    assert "`pip install convnet_no_such_module_xyz`" in message
    assert "allow --download" not in message  # downloading was allowed: not the way out
    assert isinstance(error.value.__cause__, ModuleNotFoundError)


def test_a_failed_download_says_so_and_how_to_prepare_elsewhere(tmp_path):
    source = TfdsSource("convnet_test_offline_images", data_dir=str(tmp_path))
    with pytest.raises(DataError) as error:
        source.num_examples("train")  # unknown until prepared: preparing it fails
    assert str(error.value) == (
        f"could not prepare tfds dataset 'convnet_test_offline_images' in {tmp_path} "
        f"(ConnectionError: Failed to resolve 'www.example.org' (Name or service not known)). "
        f"Downloading it failed: check the network, or prepare it with `tfds build "
        f"convnet_test_offline_images --data_dir=...` on a machine with internet access and "
        f"point --tfds_data_dir at it.")


def test_describe_failure_names_the_type_the_root_cause_and_the_install():
    try:
        try:
            importlib.import_module("PIL.convnet_no_such_submodule")
        except ModuleNotFoundError as inner:
            raise RuntimeError("Failed to construct dataset 'x'") from inner
    except RuntimeError as outer:
        text = describe_failure(outer)
    assert text.startswith("RuntimeError: Failed to construct dataset 'x'; caused by "
                           "ModuleNotFoundError: No module named 'PIL.convnet_no_such_submodule'")
    assert describe_failure(ModuleNotFoundError("No module named 'PIL'", name="PIL")).endswith(
        "`pip install Pillow`")
    assert describe_failure(ValueError("bad")) == "ValueError: bad"


@pytest.mark.parametrize("module", TFDS_RUNTIME_MODULES)
def test_the_modules_tfds_needs_at_run_time_are_installed(module):
    try:
        importlib.import_module(module)
    except ModuleNotFoundError:
        pytest.fail(f"tensorflow-datasets needs {module!r} to prepare a dataset and it is not "
                    f"installed: `pip install {module}` (convnet's setup.py requires it)")
    # The call that failed without it: where a packaged builder (cifar10) keeps its checksums.
    assert tfds.builder_cls("cifar10").code_path.name == "cifar.py"


def test_tfds_source_reads_through_tfds_without_network(tmp_path):
    with tfds.testing.mock_data(num_examples=12):
        src = make_source(SourceSpec("tfds", tfds_data_dir=str(tmp_path), dataset="cifar10",
                                     download=False))
        assert src.info.num_classes == 10 and src.info.image_shape == (32, 32, 3)
        images, labels = next(iter(pipeline.eval_dataset(src, "test", 5)))
    assert images.shape == (5, 24, 24, 3) and labels.dtype == tf.int32


def test_info_and_examples_come_from_the_tfds_builder(tmp_path):
    with tfds.testing.mock_data(num_examples=6):
        source = TfdsSource("mnist", data_dir=str(tmp_path), allow_download=False)
        examples = list(source.dataset("test"))
    assert (source.info.name, source.info.image_shape, source.info.num_classes) == (
        "mnist", (28, 28, 1), 10)
    assert source.info.class_names == tuple("0123456789")
    assert source.num_examples("no_such_split") == 0  # unknown: 0, as the Source protocol says
    assert len(examples) == 6
    for image, label in examples:
        assert image.dtype == tf.uint8 and image.shape == (28, 28, 1)
        assert label.dtype == tf.int32 and 0 <= int(label) < 10


def test_unknown_or_unprepared_dataset_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="^tfds has no dataset 'no_such_dataset_xyz' "
                                        r"\(DatasetNotFoundError: "):
        TfdsSource("no_such_dataset_xyz", data_dir=str(tmp_path))
    with pytest.raises(DataError) as error:
        TfdsSource("cifar1O", data_dir=str(tmp_path))  # a typo: tfds guesses, without its list
    assert str(error.value).startswith("tfds has no dataset 'cifar1O' (DatasetNotFoundError: "
                                       "Dataset cifar1_o not found. Did you mean: ")
    assert "\n" not in str(error.value) and len(str(error.value)) < 300
    source = TfdsSource("mnist", data_dir=str(tmp_path), allow_download=False)
    with pytest.raises(DataError) as error:
        source.dataset("test")
    message = str(error.value)
    assert message.startswith(f"could not load tfds dataset 'mnist' split 'test' from {tmp_path} (")
    assert message.endswith("Prepare it with `tfds build mnist --data_dir=...` on a machine with "
                            "internet access, or allow --download.")
