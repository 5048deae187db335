"""What a dataset is: image shape, classes, split sizes."""

import dataclasses
from typing import Dict, Optional, Tuple


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Static facts about a dataset that models and pipelines need.

    Attributes:
      name: dataset name, e.g. 'cifar10'.
      image_shape: (height, width, channels) of the stored uint8 images.
      num_classes: number of labels; labels are int32 in [0, num_classes).
      class_names: one name per label, or None.
      num_examples: examples per split, when known ahead of reading.
    """
    name: str
    image_shape: Tuple[int, int, int]
    num_classes: int
    class_names: Optional[Tuple[str, ...]] = None
    num_examples: Dict[str, int] = dataclasses.field(default_factory=dict)

    def class_name(self, label: int) -> str:
        if self.class_names and 0 <= label < len(self.class_names):
            return self.class_names[label]
        return str(label)


CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")

CIFAR10 = DatasetInfo(
    name="cifar10",
    image_shape=(32, 32, 3),
    num_classes=10,
    class_names=CIFAR10_CLASSES,
    num_examples={"train": 50000, "test": 10000},
)
