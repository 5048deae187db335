"""The data settings of the mains, each with its default, help and bounds (convnet.runtime.options).

`DataConfig`: where examples come from and how many a batch (train, eval, bench).
`AugmentConfig`: how training examples are augmented and normalized (train, bench);
`preprocessing` resolves its 'auto' choices for a model and dataset.
"""

import dataclasses
from collections.abc import Callable, Sequence

from convnet.data import info as info_lib
from convnet.data import preprocess, progressive_resizing
from convnet.data.pipeline import SHUFFLE_BUFFER, InputSettings
from convnet.data.sources.folder import TEST_FRACTION
from convnet.data.sources.spec import DATA_SOURCES, SourceSpec
from convnet.runtime.options import check, option

# Dataset.map parallelism of the tutorial's input pipeline.
NUM_PARALLEL_CALLS = 16
CACHE_CHOICES = ("auto", "memory", "none")
# --cache=auto holds the training split in memory when it takes at most this share of it.
CACHE_FRACTION = 0.5


def _gigabytes(count: int) -> str:
    return f"{count / 1e9:.2f} GB"


@dataclasses.dataclass
class DataConfig:
    """Which examples, from where, in batches of how many."""
    data_source: str = option(
        "files", "Where examples come from: files: the dataset's official files in "
        "--data_dir (CIFAR binary or python layout, MNIST IDX, gzipped or not); "
        "cifar_binary: the CIFAR binary files only (the former default); folder: your own "
        "images in --data_dir, one folder a class (DIR/cat/*.png, or DIR/train/... and "
        "DIR/test/...); tfds: tfds.load (--tfds_data_dir); synthetic: a learnable source "
        "shaped like --dataset (no files); shards: TFRecord shards in --data_dir written by "
        "python -m convnet.make_shards.", choices=DATA_SOURCES)
    data_dir: str = option(
        "/tmp/cifar10_data", "Directory holding the dataset's files, or its parent (e.g. "
        "cifar-10-batches-bin, cifar-100-binary, cifar-10-batches-py or mnist/ inside it). "
        "Downloaded there when absent, unless --nodownload.")
    tfds_data_dir: str | None = option(None, "tfds data_dir for --data_source=tfds.")
    dataset: str | None = option(
        None, f"Dataset: {', '.join(info_lib.DATASETS)}; with --data_source=tfds, any tfds "
        f"image-classification name. Default: cifar10 for training; for evaluation, the "
        f"dataset the checkpoint was trained on.")
    label_mode: str | None = option(
        None, "Labels to learn: fine (the dataset's classes) or coarse (CIFAR-100's 20 "
        "superclasses). Default: fine for training; for evaluation, the run's.",
        choices=info_lib.LABEL_MODES)
    download: bool = option(True, "Download missing data (the official archive or files, "
                            "MD5-checked; tfds datasets through tfds).")
    num_parallel_calls: int = option(
        NUM_PARALLEL_CALLS, "Parallel preprocessing calls in Dataset.map (-1: autotune).",
        lower_bound=-1)
    batch_size: int = option(128, "Examples per batch (the global batch, split across the "
                             "replicas of --strategy).", lower_bound=1)
    folder_image_size: int | None = option(
        None, "--data_source=folder: resize every image to NxN (default: the images' own "
        "size, which must then be the same for all).", lower_bound=1)
    image_size: int | None = option(
        None, "Images of any size: the side N of the square images the model sees. Each "
        "image keeps its own size (a folder's are decoded as read); training takes "
        "random-resized crops (--augmentation=auto), evaluation resizes the shorter side to "
        "N / --crop_fraction and takes the central NxN. Default: the data's own size, one for "
        "all images.", lower_bound=1)
    folder_test_fraction: float = option(
        TEST_FRACTION, "--data_source=folder without train/ and test/ folders: the share of "
        "each class's images held out as the test split.", lower_bound=0.0)
    cache: str = option(
        "auto", "Training split in memory: memory (held whole, permuted each epoch), none "
        "(streamed from the source in windows of --shuffle_buffer examples, each permuted, "
        "seeded per epoch; shards in a new order each epoch: for data larger than memory), "
        "auto: memory when the split's uint8 images take at most half of the memory "
        "available (one line says which).",
        choices=CACHE_CHOICES)

    def validate(self) -> None:
        check(self)
        InputSettings(num_parallel_calls=self.num_parallel_calls)  # checks it
        if not 0 < self.folder_test_fraction < 1:
            raise ValueError(f"--folder_test_fraction must be in (0, 1), got "
                             f"{self.folder_test_fraction}")
        self.source_spec()  # checks the data settings

    def holds_in_memory(self, split_bytes: int, available_bytes: int | None
                        ) -> tuple[bool, str | None]:
        """Whether the training split is held in memory (--cache), and for `auto` the line
        that says which and why. `split_bytes`: its uint8 images (0: size unknown, streamed);
        `available_bytes`: memory available now (None: unknown, held)."""
        if self.cache != "auto" or not split_bytes:
            return self.cache != "none", None
        held = available_bytes is None or split_bytes <= CACHE_FRACTION * available_bytes
        size, room = _gigabytes(split_bytes), (f"{_gigabytes(available_bytes)} available"
                                               if available_bytes else "memory unknown")
        if held:
            return True, f"--cache=auto: the training split ({size}) is held in memory ({room})"
        return False, (f"--cache=auto: the training split ({size}) is more than half of the "
                       f"{room}: streamed from the source in windows of --shuffle_buffer examples")

    def source_spec(self, seed: int = 0, dataset: str | None = None,
                    label_mode: str | None = None, *, image_size: int | None = None
                    ) -> SourceSpec:
        """The SourceSpec of these settings (validated when made), synthetic examples seeded
        with `seed`; `dataset`, `label_mode` and `image_size` replace None ones (a run's, for
        evaluation), else the defaults (info.DEFAULT_DATASET, DEFAULT_LABEL_MODE, none)."""
        return SourceSpec(self.data_source, self.data_dir, self.tfds_data_dir, self.download,
                          self.dataset or dataset or info_lib.DEFAULT_DATASET,
                          self.label_mode or label_mode or info_lib.DEFAULT_LABEL_MODE, seed,
                          self.folder_image_size, self.folder_test_fraction,
                          self.image_size or image_size)


@dataclasses.dataclass
class AugmentConfig:
    """How training examples become model inputs."""
    augmentation: str = option(
        "auto", "Training augmentation: tutorial (random 24x24 crop, flip, brightness, "
        "contrast), pad_crop (pad 4, random crop, flip), translate_altflip (airbench's: "
        "reflect-padded random translation by up to --translate pixels and the alternating "
        "flip, on whole batches), random_resized_crop (Inception's: a crop of random area "
        "and aspect, resized to the model's size, flip), none. auto: tutorial for "
        "--model=cifar10, random_resized_crop with --image_size, pad_crop otherwise.",
        choices=("auto", *preprocess.AUGMENTATIONS))
    normalization: str = option(
        "auto", "per_image standardization, or per_channel mean/std of the training split. "
        "auto: per_image with tutorial augmentation, else per_channel.",
        choices=("auto", *preprocess.NORMALIZATIONS))
    random_flip: bool | None = option(
        None, "Random left-right flips (default: on, except for MNIST digits).")
    translate: int = option(
        preprocess.TRANSLATE_PIXELS, "--augmentation=translate_altflip: the largest random "
        "translation, in pixels each way, of the reflect-padded image (airbench: 2; 0: none).",
        lower_bound=0)
    shuffle_buffer: int = option(
        SHUFFLE_BUFFER, "Examples shuffled together: the buffer of a source of unknown size, "
        "the window of a streamed split (--cache); a split held in memory is permuted whole.",
        lower_bound=1)
    random_crop_area: float = option(
        preprocess.RANDOM_CROP_AREA, "--augmentation=random_resized_crop: the smallest share "
        "of an image's area a crop covers (Inception: 0.08); its aspect ratio is in [3/4, 4/3].",
        lower_bound=0.0)
    crop_fraction: float = option(
        preprocess.CROP_FRACTION, "Images of any size (--image_size=N): evaluation resizes "
        "the shorter side to N / crop_fraction and takes the central NxN (ImageNet's 0.875).",
        lower_bound=0.0)
    progressive_resizing: str = option(
        "", "SIZE:EPOCHS[,SIZE:EPOCHS...]: train the first EPOCHS epochs on images resized to "
        "SIZE x SIZE (bilinear, antialiased), stage after stage, then the rest at the full "
        "size, for fewer FLOPs a step; e.g. 25:4 (the model must take SIZE x SIZE inputs). "
        "Evaluation is at the full size. Default: off.")

    def validate(self) -> None:
        check(self)
        for name in ("random_crop_area", "crop_fraction"):
            preprocess.check_share(name, getattr(self, name))
        progressive_resizing.parse(self.progressive_resizing)  # checks it

    def preprocessing(self, model_image_size: int | None, info: info_lib.DatasetInfo,
                      channel_stats: Callable[[], tuple[Sequence[float], Sequence[float]]],
                      *, previous: preprocess.Preprocessing | None = None
                      ) -> preprocess.Preprocessing:
        """The run's preprocessing with the 'auto' choices resolved. Per-channel statistics
        are `previous`'s (a resumed run's: they never change within a run) or, computed
        only then, `channel_stats()`'s (the training split's). Images of any size
        (`info.any_size`) are cropped and resized to the model's size."""
        augmentation = self.augmentation
        if augmentation == "auto":
            augmentation = ("random_resized_crop" if info.any_size
                            else "tutorial" if model_image_size else "pad_crop")
        normalization = self.normalization
        if normalization == "auto":
            normalization = "per_image" if augmentation == "tutorial" else "per_channel"
        flip = self.random_flip if self.random_flip is not None else info.name != "mnist"
        mean = std = None
        if normalization == "per_channel":
            if previous and previous.channel_mean and previous.channel_std:
                mean, std = previous.channel_mean, previous.channel_std
            else:
                mean, std = channel_stats()
        return preprocess.Preprocessing(
            augmentation, model_image_size or info.image_shape[0], normalization, mean, std,
            flip, translate=self.translate,
            crop_fraction=self.crop_fraction if info.any_size else None,
            random_crop_area=self.random_crop_area)
