"""Batched, prefetched `tf.data` pipelines of a source's examples, for training and evaluation.

What a pipeline does besides the source and the batch size is an `InputSettings`
(preprocessing, parallel calls, shuffle buffer, seed), the same for every input
pipeline of a run.

Training: the split's uint8 examples, cached in memory -> a seeded permutation
each epoch -> per-example seed from the running example index -> `Preprocessing.train` with
`num_parallel_calls` -> batch (remainder dropped) -> prefetch; it can start at
any example, so a resumed run continues the same stream. Batch augmentations
('translate_altflip'): the same stream of uint8 examples, each with its split
index, epoch and stream position, cut into batches by slicing whole permuted
epochs -> `Preprocessing.train_batch` once a batch -> prefetch. A split larger than
memory (`InputSettings.cache` False) is streamed instead: each epoch in windows of
`shuffle_buffer` examples, each window permuted with its own seed, then as above; a
source of shards in a new shard order each epoch, SHARD_CYCLE shards interleaved.
Images of any size (`AnySizeSource`) are held and windowed as ragged batches.

Evaluation: every example of the split once, in order -> `Preprocessing.evaluate`
-> batch (last batch may be short) -> prefetch.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from convnet.data import preprocess
from convnet.data.sources.base import Source
from convnet.runtime import console

# The tutorial's shuffle queue held at least 40% of an epoch (20,000 examples).
SHUFFLE_BUFFER = 20000
EPOCH_LIMIT = 2 ** 40  # "endless"
# A streamed source of shards is read this many shards at a time, one example of each in turn
# (a parallel interleave).
SHARD_CYCLE = 4


@dataclasses.dataclass(frozen=True)
class InputSettings:
    """How a run turns a source's examples into model inputs, in every input pipeline.

    Attributes:
      preprocessing: augmentation and normalization (preprocess.Preprocessing).
      num_parallel_calls: `Dataset.map` parallelism; tf.data.AUTOTUNE (-1) lets tf.data choose.
      shuffle_buffer: training examples shuffled together: the buffer of a source of unknown
        size, the window of a streamed split (`cache` False); a split held in memory is
        permuted whole, epoch by epoch.
      seed: the training stream's seed (order and augmentation).
      cache: hold the training split in memory and permute it whole each epoch (True), or
        stream it from the source in windows of `shuffle_buffer` examples, each permuted with
        a seed of its own each epoch (False: the memory of a window only, for splits larger
        than memory).
    """
    preprocessing: preprocess.Preprocessing = preprocess.Preprocessing()
    num_parallel_calls: int = 16
    shuffle_buffer: int = SHUFFLE_BUFFER
    seed: int = 0
    cache: bool = True

    def __post_init__(self):
        if self.num_parallel_calls <= 0 and self.num_parallel_calls != tf.data.AUTOTUNE:
            raise ValueError(f"--num_parallel_calls must be positive or -1 (autotune), "
                             f"got {self.num_parallel_calls}")


def train_dataset(source: Source, batch_size: int, settings: InputSettings = InputSettings(),
                  *, start_example: int = 0, num_shards: int = 1,
                  shard_index: int = 0) -> tf.data.Dataset:
    """Endless batches of (float32 [batch, size, size, C], int32 [batch]) augmented examples.

    The stream is a pure function of `seed`: epoch e is the (shard's) training
    split in the order of a permutation drawn from seed (seed, e) (a full
    shuffle; `shuffle_buffer` is used only for sources of unknown size), and
    example i of the stream is augmented with seed (seed, i). `start_example`
    starts the stream that many examples in (steps done times examples a
    step), so a resumed run sees exactly the examples and distortions an
    uninterrupted run would have seen next. `num_shards`/`shard_index` give
    each input pipeline of a distributed run a disjoint part of the split.

    With a batch augmentation (`preprocessing.batched`), the uint8 examples are
    batched first (the same examples in the same order), each with its index in
    the whole training split, its epoch and its stream position (index *
    num_shards + shard_index, as in the seeds above), and
    `Preprocessing.train_batch` augments each batch in one call, each example
    as a pure function of (seed, split index, epoch, stream position).
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    return _stops_promptly(_train_batches(source, batch_size, settings, start_example=start_example,
                                          num_shards=num_shards, shard_index=shard_index))


def _stops_promptly(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """`dataset` without tf.data's autotuning thread.

    With autotuning on, deleting an iterator waits for that thread's current sleep (its
    period grows to a minute): a run ended 16-58 s after its last step on this project's
    machines. With it off, AUTOTUNE prefetch buffers and map parallelism stay where
    tf.data starts them, which does not slow the step here: --num_parallel_calls sets the
    parallelism, and the bench's figure 3 (step fed by the pipeline) measures it.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def _train_batches(source: Source, batch_size: int, settings: InputSettings,
                   *, start_example: int, num_shards: int, shard_index: int) -> tf.data.Dataset:
    """`train_dataset`'s batches."""
    preprocessing, seed = settings.preprocessing, settings.seed
    if not 0 <= shard_index < num_shards:
        raise ValueError(f"shard_index must be in [0, {num_shards}), got {shard_index}")
    examples = source.dataset("train")
    total = source.num_examples("train")
    if preprocessing.batched:
        if not _same_size(examples):
            raise ValueError(f"--augmentation={preprocessing.augmentation} augments batches of "
                             f"images of one size, and the images of {source.info.name} differ "
                             f"in size: use --augmentation=random_resized_crop (auto does "
                             f"with --image_size).")
        if not total:
            raise ValueError(f"--augmentation={preprocessing.augmentation} needs the size of the "
                             f"training split (its alternating flip counts epochs), and this "
                             f"source does not know it: use --data_source=files or tfds.")
        examples = examples.enumerate()  # (split index, (image, label)), before sharding
    if num_shards > 1:
        examples = examples.shard(num_shards, shard_index)
        total = total and len(range(shard_index, total, num_shards))
    if total and not settings.cache:  # larger than memory: streamed, epoch by epoch
        return _streamed_batches(source, examples, total=total, batch_size=batch_size,
                                 settings=settings,
                                 start_example=start_example,
                                 num_shards=num_shards, shard_index=shard_index)
    if preprocessing.batched:
        return _batch_augmented(examples, total, batch_size, settings=settings,
                                start_example=start_example,
                                num_shards=num_shards, shard_index=shard_index)
    if total:
        stream = _permuted_epochs(examples, total, seed, start_example=start_example)
    else:  # size unknown: a buffer shuffle, replayed from its start
        stream = (examples.shuffle(max(1, settings.shuffle_buffer), seed=seed,
                                   reshuffle_each_iteration=True)
                  .repeat().skip(start_example))

    augment = _example_augmenter(preprocessing, seed)
    return (stream.enumerate(start=start_example)
            .map(lambda index, example: augment(index * num_shards + shard_index, *example),
                 num_parallel_calls=settings.num_parallel_calls)
            .batch(batch_size, drop_remainder=True)
            .prefetch(tf.data.AUTOTUNE))


def _batch_augmented(examples: tf.data.Dataset, total: int, batch_size: int,
                     *, settings: InputSettings, start_example: int, num_shards: int,
                     shard_index: int) -> tf.data.Dataset:
    """`_permuted_epochs`' stream of (split index, (image, label)) examples, as batches
    augmented by `Preprocessing.train_batch`.

    Each epoch is permuted whole (as `_permuted_epochs` does, with the same
    order) together with each example's stream position and epoch, and
    `rebatch` cuts batches across epoch boundaries by slicing: no per-example
    step anywhere.
    """
    seed, preprocessing = settings.seed, settings.preprocessing
    first_epoch, offset = divmod(start_example, total)
    whole_split = _whole_split(examples, total)

    def epoch(number):
        order = _epoch_order(total, seed, number)
        first = tf.where(number == first_epoch, tf.constant(offset, tf.int64), 0)
        kept = order[first:]
        positions = number * total + tf.range(first, total, dtype=tf.int64)
        return whole_split.map(lambda indices, example: (
            positions * num_shards + shard_index, tf.fill(tf.shape(positions), number),
            tf.gather(indices, kept), tf.gather(example[0], kept), tf.gather(example[1], kept)))

    return (tf.data.Dataset.range(first_epoch, EPOCH_LIMIT).flat_map(epoch)
            .rebatch(batch_size, drop_remainder=True)
            .map(_batch_augmenter(preprocessing, seed),
                 num_parallel_calls=settings.num_parallel_calls)
            .prefetch(tf.data.AUTOTUNE))


def _streamed_batches(source: Source, examples: tf.data.Dataset, *, total: int, batch_size: int,
                      settings: InputSettings, start_example: int, num_shards: int,
                      shard_index: int) -> tf.data.Dataset:
    """`train_dataset`'s batches without holding the split: each epoch's examples cut into
    windows of `shuffle_buffer`, window w of epoch e permuted by a stateless shuffle seeded
    (seed, e, w), so memory holds a window, not the split. A source of shards (its
    `shard_sizes` a list: `Source`'s docstring) is read in a new order of its shards each
    epoch, seeded (seed, e), SHARD_CYCLE shards at a time in parallel, interleaved one
    example of each in turn; another source in its own order.

    The stream is a pure function of the seed, and starts `start_example` in (epoch
    start_example // total, that many examples into it) as the cached one does. Examples
    carry (split index, epoch, stream position) as in `_batch_augmented`, so batch
    augmentations work on the stream too. A resume opens the shards of the group holding the
    start of its window, each where the interleave had left it (`_resumed_round_robin`), and
    the groups after it: shards before it are never opened. Another source is read (and
    dropped) from its epoch's start."""
    seed, preprocessing = settings.seed, settings.preprocessing
    first_epoch, offset = divmod(start_example, total)
    buffer = max(1, min(settings.shuffle_buffer, total))
    epoch_seed = lambda number: tf.cast(seed, tf.int64) * 1_000_003 + number  # noqa: E731

    def permuted(number, window, element):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(tf.shape(element[0])[0]), seed=tf.stack([epoch_seed(number), window]))
        return tf.nest.map_structure(lambda values: tf.gather(values, order), element)

    def windows(number, indexed, *, first_window=0, first_example=0):
        """`indexed` ((split index, (image, label)) examples of epoch `number`, from window
        `first_window`, example `first_example` of the epoch, on) permuted window by window,
        as (stream position, epoch, split index, image, label)."""
        shuffled = (_stacked(indexed, buffer).enumerate(first_window)
                    .map(lambda window, element: permuted(number, window, element))
                    .unbatch().map(_dense))
        return shuffled.enumerate(first_example).map(lambda i, element: (
            (number * total + i) * num_shards + shard_index, number, element[0],
            element[1][0], element[1][1]))

    shard_sizes = getattr(source, "shard_sizes", None)
    sizes = shard_sizes("train") if shard_sizes and num_shards == 1 else None
    if sizes is not None:
        sizes = np.asarray(sizes)

        def shard_order(number):  # window ids are >= 0: (epoch seed, -1) is the shards'
            return tf.random.experimental.stateless_shuffle(
                tf.range(len(sizes), dtype=tf.int64), seed=tf.stack([epoch_seed(number), -1]))

        def epoch(number):
            order = shard_order(number)
            groups = tf.data.Dataset.range(0, len(sizes), SHARD_CYCLE).map(
                lambda first: order[first:first + SHARD_CYCLE])
            return windows(number, groups.flat_map(
                lambda group: _interleaved(source, group, tf.zeros_like(group))))

        # The first epoch from the start of the window holding `offset`: the group of shards
        # holding it, each shard from where the interleave had left it, then the next groups.
        first_window = offset // buffer
        begin = first_window * buffer
        order = shard_order(first_epoch).numpy()
        groups = [order[i:i + SHARD_CYCLE] for i in range(0, len(order), SHARD_CYCLE)]
        ends = np.cumsum([sizes[group].sum() for group in groups])
        at = int(np.searchsorted(ends, begin, side="right"))
        shards, skips = _resumed_round_robin(
            groups[at], sizes[groups[at]], begin - (int(ends[at - 1]) if at else 0))
        resumed = _interleaved(source, shards, skips)
        for group in groups[at + 1:]:
            resumed = resumed.concatenate(_interleaved(source, group, np.zeros_like(group)))
        first = windows(tf.constant(first_epoch, tf.int64), resumed,
                        first_window=first_window, first_example=begin).skip(offset - begin)
        stream = first.concatenate(
            tf.data.Dataset.range(first_epoch + 1, EPOCH_LIMIT).flat_map(epoch))
    else:
        if not preprocessing.batched:
            examples = examples.enumerate()  # the split index (the batched path numbered them)
        stream = (tf.data.Dataset.range(first_epoch, EPOCH_LIMIT)
                  .flat_map(lambda number: windows(number, examples)).skip(offset))
    if preprocessing.batched:
        return (stream.batch(batch_size, drop_remainder=True)
                .map(_batch_augmenter(preprocessing, seed),
                     num_parallel_calls=settings.num_parallel_calls)
                .prefetch(tf.data.AUTOTUNE))

    augment = _example_augmenter(preprocessing, seed)
    return (stream.map(lambda position, _epoch, _index, image, label:
                       augment(position, image, label),
                       num_parallel_calls=settings.num_parallel_calls)
            .batch(batch_size, drop_remainder=True)
            .prefetch(tf.data.AUTOTUNE))


def _interleaved(source: Source, shards, skips) -> tf.data.Dataset:
    """The training shards `shards` (int64 [n <= SHARD_CYCLE]) of a source of shards, shard i
    from its example skips[i] on, read in parallel and interleaved one example of each in turn
    (the order of `tf.data.Dataset.interleave`, deterministic)."""
    return tf.data.Dataset.from_tensor_slices(
        (tf.cast(shards, tf.int64), tf.cast(skips, tf.int64))).interleave(
        lambda shard, skip: source.read_shards("train", tf.reshape(shard, [1]), skip),
        cycle_length=SHARD_CYCLE, block_length=1, num_parallel_calls=SHARD_CYCLE,
        deterministic=True)


def _resumed_round_robin(shards: np.ndarray, sizes: np.ndarray, done: int
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Where a round robin over `shards` (of `sizes` examples, one of each in turn, an
    emptied shard dropped) stands after `done` examples: the shards still to read, in the
    order that continues it, and the examples each has given (`_interleaved`'s arguments).

    After R full rounds the shards have given min(size, R) each; `done` falls in round R,
    where the first `done - sum(min(size, R))` of the shards longer than R have given one
    more."""
    rounds = 0
    while np.minimum(sizes, rounds + 1).sum() <= done:
        rounds += 1
    given = np.minimum(sizes, rounds)
    longer = np.flatnonzero(sizes > rounds)
    extra = done - int(given.sum())
    given[longer[:extra]] += 1
    turn = np.concatenate([longer[extra:], longer[:extra]])  # the next shard first
    left = turn[given[turn] < sizes[turn]]
    return shards[left], given[left]


def _example_augmenter(preprocessing: preprocess.Preprocessing, seed: int):
    """(stream position int64 [], image, label) -> (augmented float32 image, label): the
    example at that position of the training stream augmented with seed (seed, position),
    so any example's augmentation is fixed by the seed alone, cached or streamed."""
    def augment(position, image, label):
        return preprocessing.train(image, tf.stack([tf.cast(seed, tf.int64), position])), label
    return augment


def _batch_augmenter(preprocessing: preprocess.Preprocessing, seed: int):
    """(positions, epochs, split indices int64 [batch], images uint8 [batch, H, W, C],
    labels) -> (augmented float32 images, labels) by `Preprocessing.train_batch`; the
    positions, epochs and indices seed each example's augmentation and alternating flip."""
    def augment(positions, epochs, indices, images, labels):  # noqa: PLR0917 (Dataset.map passes them by position)
        return preprocessing.train_batch(images, seed, indices, epochs=epochs,
                                         positions=positions), labels
    return augment


def _whole_split(examples: tf.data.Dataset, total: int) -> tf.data.Dataset:
    """One element, every one of the `total` `examples` batched, cached in memory.

    Its cache is complete as soon as the element is produced: `batch(2)` asks for a
    second element, so the cache (and any cache upstream) sees the end of its input
    at once. A plain `cache()` is finished only when an epoch's end asks for more,
    and TensorFlow discards a cache left unfinished (a run stopped inside its first
    epoch) with a warning ("did not fully read the dataset being cached").
    """
    return _stacked(examples, total).cache().batch(2).unbatch()


def _same_size(examples: tf.data.Dataset) -> bool:
    """Whether every element of `examples` has the same shape (all images one size)."""
    return all(spec.shape.is_fully_defined() for spec in tf.nest.flatten(examples.element_spec))


def _stacked(examples: tf.data.Dataset, count: int) -> tf.data.Dataset:
    """`examples` batched `count` at a time; images that differ in size as RaggedTensors
    (uint8 [count, (H), (W), C]), which `_dense` turns back into images once unbatched."""
    return examples.batch(count) if _same_size(examples) else examples.ragged_batch(count)


def _dense(*element):
    """`element` with each RaggedTensor (an image of `_stacked`'s ragged batches) dense."""
    dense = tf.nest.map_structure(
        lambda value: value.to_tensor() if isinstance(value, tf.RaggedTensor) else value,
        element)
    return dense if len(dense) > 1 else dense[0]

def _epoch_order(total: int, seed: int, number: tf.Tensor) -> tf.Tensor:
    """The order of epoch `number`: a stateless permutation of [0, total) seeded (seed, number)."""
    return tf.random.experimental.stateless_shuffle(
        tf.range(total), seed=tf.stack([tf.cast(seed, tf.int64), number]))


def _permuted_epochs(examples: tf.data.Dataset, total: int, seed: int,
                     *, start_example: int) -> tf.data.Dataset:
    """Epoch after epoch of `examples` (`total` of them), epoch e in the order of a
    stateless permutation seeded with (seed, e), starting `start_example` in."""
    first_epoch, offset = divmod(start_example, total)
    whole_split = _whole_split(examples, total)

    def epoch(number):
        order = _epoch_order(total, seed, number)
        return whole_split.flat_map(lambda images, labels: tf.data.Dataset.from_tensor_slices(
            (tf.gather(images, order), tf.gather(labels, order))).map(_dense))

    return tf.data.Dataset.range(first_epoch, EPOCH_LIMIT).flat_map(epoch).skip(offset)


def eval_dataset(source: Source, split: str, batch_size: int,
                 *, settings: InputSettings = InputSettings(),
                 num_examples: int | None = None) -> tf.data.Dataset:
    """Each example of `split` exactly once: (float32 [b, size, size, C], int32 [b]).

    `settings` as in `train_dataset` (its shuffle buffer and seed are unused).
    With `num_examples`, only the first that many examples of the split.
    """
    preprocessing = settings.preprocessing
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    examples = source.dataset(split)
    if num_examples is not None:
        examples = examples.take(num_examples)
    return (examples
            .map(lambda image, label: (preprocessing.evaluate(image), label),
                 num_parallel_calls=settings.num_parallel_calls)
            .batch(batch_size)
            .prefetch(tf.data.AUTOTUNE))


def channel_stats(source: Source,
                  split: str = "train") -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of `split`, on the [0, 255] scale."""
    total = squares = None
    count = 0
    progress = console.Progress(f"computing the channel statistics of the {split} split",
                                source.num_examples(split), unit="examples")
    for images, labels in _stacked(source.dataset(split), 5000):
        if isinstance(images, tf.RaggedTensor):  # images of any size
            images = images.flat_values
        pixels = images.numpy().reshape(-1, images.shape[-1]).astype(np.float64)
        total = pixels.sum(0) if total is None else total + pixels.sum(0)
        squares = (pixels ** 2).sum(0) if squares is None else squares + (pixels ** 2).sum(0)
        count += len(pixels)
        progress.update(len(labels))
    progress.done()
    if not count:
        raise ValueError(f"split {split!r} is empty: cannot compute channel statistics")
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean ** 2, 1e-12))
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)
