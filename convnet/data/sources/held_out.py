"""--validation_examples=K: the last K examples of a source's training split held out.

`HeldOutSource(source, K)` is a source (convnet.data.sources.base's three members)
whose 'train' split is the first N - K training examples, in the same order,
and whose 'validation' split is the last K; other splits are the source's. The
training pipeline, its channel statistics and its epoch length see only
'train', so training never sees a validation example.
"""

import dataclasses

import tensorflow as tf

VALIDATION = "validation"


class HeldOutSource:
    """`source` with its last `count` training examples moved to a 'validation' split."""

    def __init__(self, source, count: int):
        total = source.num_examples("train")
        if not total:
            raise ValueError(f"--validation_examples needs a training split of known size; "
                             f"{source.info.name}'s is not known ahead of reading")
        if not 0 < count < total:
            raise ValueError(f"--validation_examples={count} must be in [1, {total - 1}]: the "
                             f"training split of {source.info.name} has {total} examples")
        self.source, self.count, self.train_count = source, count, total - count
        self.info = dataclasses.replace(source.info, num_examples={
            **source.info.num_examples, "train": total - count, VALIDATION: count})

    def num_examples(self, split: str) -> int:
        if split == "train":
            return self.train_count
        if split == VALIDATION:
            return self.count
        return self.source.num_examples(split)

    def dataset(self, split: str) -> tf.data.Dataset:
        if split == "train":
            return self.source.dataset("train").take(self.train_count)
        if split == VALIDATION:
            return self.source.dataset("train").skip(self.train_count)
        return self.source.dataset(split)
