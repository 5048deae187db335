"""What a dataset is: image shape, classes, split sizes; and the built-in datasets."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Static facts about a dataset that models and pipelines need.

    Attributes:
      name: dataset name, e.g. 'cifar10'.
      image_shape: (height, width, channels) of the stored uint8 images; height and
        width are None when they differ from image to image.
      num_classes: number of labels; labels are int32 in [0, num_classes).
      class_names: one name per label, or None.
      num_examples: examples per split, when known ahead of reading.
      any_size: the images keep their own sizes, which differ: `image_shape`'s height
        and width are those the model sees, and preprocessing brings each image to them
        (`convnet.data.sources.any_size.AnySizeSource`, `--image_size`).
    """
    name: str
    image_shape: tuple[int | None, int | None, int]
    num_classes: int
    class_names: tuple[str, ...] | None = None
    num_examples: dict[str, int] = dataclasses.field(default_factory=dict)
    any_size: bool = False

    def class_name(self, label: int) -> str:
        if self.class_names and 0 <= label < len(self.class_names):
            return self.class_names[label]
        return str(label)


CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")

# The label names of CIFAR-100's `meta` file (fine_label_names, coarse_label_names).
CIFAR100_FINE_CLASSES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
    "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
    "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
    "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox",
    "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom",
    "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road",
    "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake",
    "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone",
    "television", "tiger", "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale",
    "willow_tree", "wolf", "woman", "worm")
CIFAR100_COARSE_CLASSES = (
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates", "people",
    "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2")

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

_CIFAR_SPLITS = {"train": 50000, "test": 10000}
_MNIST_SPLITS = {"train": 60000, "test": 10000}

CIFAR10 = DatasetInfo("cifar10", (32, 32, 3), 10, CIFAR10_CLASSES, dict(_CIFAR_SPLITS))
CIFAR100 = DatasetInfo("cifar100", (32, 32, 3), 100, CIFAR100_FINE_CLASSES, dict(_CIFAR_SPLITS))
CIFAR100_COARSE = DatasetInfo("cifar100", (32, 32, 3), 20, CIFAR100_COARSE_CLASSES,
                              dict(_CIFAR_SPLITS))
MNIST = DatasetInfo("mnist", (28, 28, 1), 10, tuple(str(digit) for digit in range(10)),
                    dict(_MNIST_SPLITS))
FASHION_MNIST = DatasetInfo("fashion_mnist", (28, 28, 1), 10, FASHION_MNIST_CLASSES,
                            dict(_MNIST_SPLITS))

# 'fine': the dataset's classes (CIFAR-100: its 100 classes); 'coarse': CIFAR-100's 20 superclasses.
LABEL_MODES = ("fine", "coarse")
# What a run reads when --dataset and --label_mode are not given (the tutorial's).
DEFAULT_DATASET = "cifar10"
DEFAULT_LABEL_MODE = "fine"
_BUILT_IN: dict[str, dict[str, DatasetInfo]] = {
    "cifar10": {"fine": CIFAR10},
    "cifar100": {"fine": CIFAR100, "coarse": CIFAR100_COARSE},
    "mnist": {"fine": MNIST},
    "fashion_mnist": {"fine": FASHION_MNIST},
}
DATASETS = tuple(_BUILT_IN)


def dataset_info(name: str, label_mode: str = "fine") -> DatasetInfo:
    """The DatasetInfo of built-in dataset `name` labelled by `label_mode`.

    Raises:
      ValueError: unknown dataset or label mode, or 'coarse' for a dataset
        without coarse labels (all but cifar100).
    """
    if label_mode not in LABEL_MODES:
        raise ValueError(f"unknown --label_mode={label_mode!r}: choose from "
                         f"{', '.join(LABEL_MODES)}")
    if name not in _BUILT_IN:
        raise ValueError(f"unknown --dataset={name!r}: choose from {', '.join(DATASETS)} "
                         f"(or any tfds name with --data_source=tfds)")
    modes = _BUILT_IN[name]
    if label_mode not in modes:
        raise ValueError(f"--label_mode={label_mode} is not available for {name}, which has "
                         f"{' and '.join(modes)} labels only; coarse labels exist for cifar100.")
    return modes[label_mode]
