"""TFRecord shards of any source, and the source that reads them back (`--data_source=shards`).

`write(source, output_dir)` turns any `Source` (an image folder, numpy arrays, a tfds split,
a built-in dataset) into shards, once: `SPLIT-00000-of-00008.tfrecord` files of at most
`examples_per_shard` examples each, every example a `tf.train.Example` with the image's raw
uint8 bytes, its shape and its label, and `manifest.json` beside them:

    {"format": "convnet-shards", "version": 1, "name": ..., "image_shape": [H, W, C],
     (H and W null for images of any size, each stored at its own),
     "num_classes": K, "class_names": [...] or null, "shuffle_seed": S or null,
     "splits": {"train": {"examples": N, "shards": [{"file": ..., "examples": n,
                                                      "bytes": b, "sha256": ...}, ...]}}}

`write` puts each split of known size in a seeded random order first (`shuffle_seed`), so
that every shard is a uniform sample of it. `ShardSource(directory)` reads them in manifest
order (`dataset`), or any order of its shards from any example on (`read_shards`: the
training pipeline streams them in a new order each epoch). Before reading, each shard is checked
against the manifest (present, of its size, and with `verify`, of its SHA-256): a damaged one
is named in one line, set aside (renamed `FILE.damaged`, never deleted) and skipped, its
examples counted out of the split's size. A directory without a readable manifest is a
DataError saying how to write one.
"""

import hashlib
import itertools
import json
import os
import zlib
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from convnet.data.info import DatasetInfo
from convnet.data.sources.base import Source
from convnet.runtime import console
from convnet.runtime.errors import DataError

MANIFEST = "manifest.json"
FORMAT, VERSION = "convnet-shards", 1
EXAMPLES_PER_SHARD = 10_000
# Each TFRecord file is read through a buffer of this many bytes: TensorFlow's default (256 KiB),
# given so that opening a shard does not log that it is unspecified.
READ_BUFFER_BYTES = 256 * 1024
DAMAGED_SUFFIX = ".damaged"
_FEATURES = {"image": tf.io.FixedLenFeature([], tf.string),
             "shape": tf.io.FixedLenFeature([3], tf.int64),
             "label": tf.io.FixedLenFeature([], tf.int64)}


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _example(image, label) -> bytes:
    feature = {
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image.tobytes()])),
        "shape": tf.train.Feature(int64_list=tf.train.Int64List(value=list(image.shape))),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)]))}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write(source: Source, output_dir: str, *, examples_per_shard: int = EXAMPLES_PER_SHARD,
          splits: tuple[str, ...] = ("train", "test"), shuffle_seed: int | None = 0) -> dict:
    """Writes the `splits` of `source` as TFRecord shards and `manifest.json` (written last:
    a directory with a manifest is complete) into `output_dir`; returns the manifest.

    With `shuffle_seed` (not None), each split of known size is written in the order of a
    permutation seeded (shuffle_seed, split), so that every shard is a uniform sample of it
    (a folder is read class by class): a second pass on disk, memory one shard. The manifest
    records the seed (`shuffle_seed`, null: the source's order).

    Raises:
      ValueError: `examples_per_shard` < 1, or `output_dir` already holds a manifest.
    """
    if examples_per_shard < 1:
        raise ValueError(f"--examples_per_shard must be positive, got {examples_per_shard}")
    manifest_path = os.path.join(output_dir, MANIFEST)
    if os.path.exists(manifest_path):
        raise ValueError(f"{manifest_path} exists: {output_dir} holds shards already (remove "
                         f"it, or write to another --output_dir)")
    os.makedirs(output_dir, exist_ok=True)
    info = source.info
    # Images of any size (AnySizeSource, a folder's photos) are written at their own sizes.
    image_shape = [None, None, info.image_shape[-1]] if info.any_size else list(info.image_shape)
    manifest = {"format": FORMAT, "version": VERSION, "name": info.name,
                "image_shape": image_shape, "num_classes": info.num_classes,
                "class_names": list(info.class_names) if info.class_names else None,
                "shuffle_seed": shuffle_seed, "splits": {}}
    for split in splits:
        manifest["splits"][split] = _write_split(source, split, output_dir,
                                                 examples_per_shard=examples_per_shard,
                                                 seed=shuffle_seed)
        entry = manifest["splits"][split]
        console.log(f"wrote {entry['examples']:,} {split} examples in {len(entry['shards'])} "
                    f"shard(s) to {output_dir}")
    with open(manifest_path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
    os.replace(manifest_path + ".tmp", manifest_path)
    return manifest


def _write_split(source: Source, split: str, output_dir: str, *, examples_per_shard: int,
                 seed: int | None) -> dict:
    """Writes `split` as shards of `examples_per_shard`, named SPLIT-0000i.tfrecord.tmp while
    written, then SPLIT-0000i-of-0000n.tfrecord; with `seed` (and a split of known size), in
    the order of a seeded permutation of the whole split (`_shuffled`), else as the source
    gives it (memory: one example at a time)."""
    total = source.num_examples(split)
    if seed is not None and total:
        written = _shuffled(source, split, output_dir, total=total,
                            examples_per_shard=examples_per_shard, seed=seed)
    else:
        if seed is not None:
            console.log(f"the {split} split's size is not known ahead of reading: written in "
                        f"the source's order, not shuffled")
        written = _in_order(source, split, output_dir, examples_per_shard=examples_per_shard)
    shards = []
    for index, (path, count) in enumerate(written):
        name = f"{split}-{index:05d}-of-{len(written):05d}.tfrecord"
        os.replace(path, os.path.join(output_dir, name))
        final = os.path.join(output_dir, name)
        shards.append({"file": name, "examples": count, "bytes": os.path.getsize(final),
                       "sha256": _sha256(final)})
    return {"examples": sum(count for _, count in written), "shards": shards}


def _in_order(source: Source, split: str, output_dir: str,
              *, examples_per_shard: int) -> list[tuple[str, int]]:
    """The examples of `split` in source order into temporary shards: [(path, count)]."""
    written: list[tuple[str, int]] = []
    writer, in_shard = None, 0
    try:
        for image, label in source.dataset(split).as_numpy_iterator():
            if writer is None or in_shard == examples_per_shard:
                if writer is not None:
                    writer.close()
                path = os.path.join(output_dir, f"{split}-{len(written):05d}.tfrecord.tmp")
                writer, in_shard = tf.io.TFRecordWriter(path), 0
                written.append((path, 0))
            writer.write(_example(image, label))
            in_shard += 1
            written[-1] = (written[-1][0], in_shard)
    finally:
        if writer is not None:
            writer.close()
    return written


def _shuffled(source: Source, split: str, output_dir: str,
              *, total: int, examples_per_shard: int, seed: int) -> list[tuple[str, int]]:
    """The `total` examples of `split` into temporary shards in the order of a permutation
    of [0, total) seeded (seed, split): [(path, count)].

    Two passes, memory one shard: example i is appended to the bucket file of the shard its
    position `order[i]` falls in, as it is read; then each bucket is read back, put in
    position order and written as its shard. Every shard holds a uniform sample of the split
    (a folder's classes mixed), and the shards' concatenation is the permuted split."""
    order = np.random.default_rng([seed, zlib.crc32(split.encode())]).permutation(total)
    shard_of = order // examples_per_shard
    count = int(shard_of.max()) + 1
    buckets = [os.path.join(output_dir, f"{split}-{index:05d}.bucket.tmp")
               for index in range(count)]
    writers = [tf.io.TFRecordWriter(path) for path in buckets]
    read = 0
    try:
        for image, label in source.dataset(split).as_numpy_iterator():
            if read == total:
                raise DataError(f"the {split} split gave more than the {total:,} examples "
                                f"it said it holds: write it with --noshuffle")
            writers[shard_of[read]].write(_example(image, label))
            read += 1
    finally:
        for writer in writers:
            writer.close()
    if read != total:
        raise DataError(f"the {split} split gave {read:,} examples, not the {total:,} it said "
                        f"it holds: write it with --noshuffle")
    written = []
    for index, bucket in enumerate(buckets):
        records = list(tf.data.TFRecordDataset(bucket, buffer_size=READ_BUFFER_BYTES)
                       .as_numpy_iterator())
        # The bucket's records in reading order are those of examples i with shard_of[i] ==
        # index, in increasing i; their positions, order[i], sorted give the shard's order.
        positions = order[shard_of == index]
        path = os.path.join(output_dir, f"{split}-{index:05d}.tfrecord.tmp")
        with tf.io.TFRecordWriter(path) as writer:
            for at in np.argsort(positions, kind="stable"):
                writer.write(records[at])
        os.remove(bucket)
        written.append((path, len(records)))
    return written


def read_record_shards(files: list[str], sizes: list[int], order, *, skip,
                       decode: Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]]
                       ) -> tf.data.Dataset:
    """The records of TFRecord `files` (`sizes` records each) in the order `order` (int [n],
    indices into `files`, a tensor or not), the first `skip` records of the first dropped, as
    (split index int64 [], decode(record)): the index counts records through `files` in
    their own order. Files skipped whole are never opened. (`ShardSource` and `TfdsSource`'s
    `read_shards`.)"""
    paths = tf.constant(files or [""], tf.string)
    starts = tf.constant(([0] + list(itertools.accumulate(sizes)))[:-1] or [0], tf.int64)
    order = tf.cast(order, tf.int64)
    skips = tf.concat([[tf.cast(skip, tf.int64)], tf.zeros_like(order)[1:]], 0)

    def shard(index, skipped):
        records = tf.data.TFRecordDataset(paths[index], buffer_size=READ_BUFFER_BYTES)
        return records.skip(skipped).enumerate(starts[index] + skipped)

    return (tf.data.Dataset.from_tensor_slices((order, skips)).flat_map(shard)
            .map(lambda index, record: (index, decode(record)),
                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=True))


def read_manifest(directory: str) -> dict:
    """The manifest of a shard directory; DataError when it is missing or not one."""
    path = os.path.join(directory, MANIFEST)
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise DataError(f"{path} not found: write shards there first (python -m "
                        f"convnet.make_shards --output_dir={directory} and the data flags "
                        f"of the source to shard)") from None
    except (OSError, ValueError) as e:
        raise DataError(f"{path} is not readable JSON ({e}): write the shards again") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DataError(f"{path} is not a convnet shard manifest (no \"format\": \"{FORMAT}\")")
    if manifest.get("version") != VERSION:
        raise DataError(f"{path} is version {manifest.get('version')} of the shard format; "
                        f"this convnet reads version {VERSION}: write the shards again")
    return manifest


class ShardSource(Source):
    """The examples of a shard directory (see the module docstring).

    Args:
      directory: where `write` put the shards and the manifest.
      verify: check each shard's SHA-256 against the manifest (its size is always checked).
    """

    def __init__(self, directory: str, *, verify: bool = True):
        self.directory = directory
        self.manifest = read_manifest(directory)
        self._shards: dict[str, list[str]] = {}
        self._sizes: dict[str, list[int]] = {}
        sizes = {}
        for split, entry in self.manifest["splits"].items():
            good, lost = self._checked(split, entry["shards"], verify)
            self._shards[split] = [os.path.join(directory, s["file"]) for s in good]
            self._sizes[split] = [s["examples"] for s in good]
            sizes[split] = sum(self._sizes[split])
            if lost:
                console.log(f"{len(lost)} of {len(entry['shards'])} {split} shards of "
                            f"{directory} are damaged ({', '.join(lost)}): set aside as "
                            f"*{DAMAGED_SUFFIX}, {entry['examples'] - sizes[split]:,} examples "
                            f"skipped; write the shards again to have them back")
        names = self.manifest.get("class_names")
        self.info = DatasetInfo(self.manifest["name"], tuple(self.manifest["image_shape"]),
                                self.manifest["num_classes"], tuple(names) if names else None,
                                sizes)

    def _checked(self, split, shards, verify):
        good, lost = [], []
        for shard in shards:
            path = os.path.join(self.directory, shard["file"])
            problem = None
            if not os.path.exists(path):
                problem = "missing"
            elif os.path.getsize(path) != shard["bytes"]:
                problem = f"{os.path.getsize(path):,} bytes, not {shard['bytes']:,}"
            elif verify and _sha256(path) != shard["sha256"]:
                problem = "checksum differs"
            if problem is None:
                good.append(shard)
                continue
            lost.append(f"{shard['file']}: {problem}")
            if os.path.exists(path):
                os.replace(path, path + DAMAGED_SUFFIX)
        return good, lost

    def num_examples(self, split: str) -> int:
        self._split(split)
        return self.info.num_examples[split]

    def _split(self, split: str) -> list[str]:
        if split not in self._shards:
            raise ValueError(f"{self.directory} has no {split!r} split (it has "
                             f"{', '.join(self._shards)})")
        return self._shards[split]

    def dataset(self, split: str) -> tf.data.Dataset:
        """(uint8 [H, W, C], int32 []) pairs of `split`, shard after shard, in written order."""
        files = self._split(split)
        records = tf.data.TFRecordDataset(tf.constant(files, tf.string),
                                         buffer_size=READ_BUFFER_BYTES) if files else \
            tf.data.Dataset.from_tensor_slices(tf.constant([], tf.string))
        return records.map(self._decode, num_parallel_calls=tf.data.AUTOTUNE,
                           deterministic=True)

    def shard_sizes(self, split: str) -> list[int]:
        """The examples of each readable shard of `split`, in manifest order."""
        self._split(split)
        return list(self._sizes[split])

    def read_shards(self, split: str, order, skip=0) -> tf.data.Dataset:
        """The examples of `split`'s shards `order` (int [n], indices into `shard_sizes`), in
        that order, without the first `skip` examples of the first: (split index int64 [],
        (uint8 [H, W, C], int32 [])), the split index that of `dataset`'s order. Shards
        skipped whole are never opened: a resumed stream reads from where it stopped."""
        return read_record_shards(self._split(split), self._sizes[split], order, skip=skip,
                                  decode=self._decode)

    def _decode(self, record):
        example = tf.io.parse_single_example(record, _FEATURES)
        image = tf.reshape(tf.io.decode_raw(example["image"], tf.uint8), example["shape"])
        image.set_shape(self.info.image_shape)
        return image, tf.cast(example["label"], tf.int32)
