"""convnet.data.sources.shards: any source written as TFRecord shards with a manifest, read
back example for example; damaged shards named, set aside and skipped."""

import json
import os
import zlib

import numpy as np
import pytest

from convnet.data.sources import shards
from convnet.data.sources.arrays import ArraySource
from convnet.data.sources.spec import SourceSpec, make_source
from convnet.runtime.errors import DataError

from conftest import run_python


def _arrays(train=23, test=7, seed=0):
    rng = np.random.default_rng(seed)
    make = lambda n: (rng.integers(0, 256, size=[n, 6, 5, 3], dtype=np.uint8),  # noqa: E731
                      rng.integers(0, 4, size=[n]).astype(np.int32))
    return ArraySource(train=make(train), test=make(test), class_names=("a", "b", "c", "d"))


def _examples(source, split):
    return [(image, int(label)) for image, label in source.dataset(split).as_numpy_iterator()]


def test_the_shards_read_back_every_example_in_order_with_the_manifest(tmp_path):
    source = _arrays()
    manifest = shards.write(source, str(tmp_path), examples_per_shard=10, shuffle_seed=None)
    assert manifest["shuffle_seed"] is None
    assert [s["examples"] for s in manifest["splits"]["train"]["shards"]] == [10, 10, 3]
    assert manifest["splits"]["train"]["shards"][0]["file"] == "train-00000-of-00003.tfrecord"
    with open(tmp_path / shards.MANIFEST, encoding="utf-8") as f:
        assert json.load(f) == manifest
    assert (manifest["image_shape"], manifest["num_classes"], manifest["class_names"]) == (
        [6, 5, 3], 4, ["a", "b", "c", "d"])
    read = shards.ShardSource(str(tmp_path))
    assert (read.info.image_shape, read.info.class_names) == ((6, 5, 3), ("a", "b", "c", "d"))
    for split, count in (("train", 23), ("test", 7)):
        assert read.num_examples(split) == count
        ours, theirs = _examples(read, split), _examples(source, split)
        assert [label for _, label in ours] == [label for _, label in theirs]
        for (image, _), (expected, _) in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(image, expected)
    assert read.dataset("train").element_spec[0].shape == (6, 5, 3)
    same = make_source(SourceSpec("shards", str(tmp_path)))
    assert same.num_examples("test") == 7
    with pytest.raises(ValueError, match="has no 'valid' split"):
        read.dataset("valid")


def test_shards_are_written_in_a_seeded_permutation_of_the_split(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=[40, 4, 4, 3], dtype=np.uint8)
    labels = np.repeat(np.arange(4, dtype=np.int32), 10)  # class by class, as a folder is read
    source = ArraySource(train=(images, labels), test=(images[:3], labels[:3]))
    manifest = shards.write(source, str(tmp_path / "a"), examples_per_shard=12)
    assert manifest["shuffle_seed"] == 0
    assert [s["examples"] for s in manifest["splits"]["train"]["shards"]] == [12, 12, 12, 4]
    read = shards.ShardSource(str(tmp_path / "a"))
    written = _examples(read, "train")
    # The permutation of the split seeded (0, 'train'): example i at position order[i].
    order = np.random.default_rng([0, zlib.crc32(b"train")]).permutation(40)
    for position, (image, label) in enumerate(written):
        original = int(np.flatnonzero(order == position)[0])
        np.testing.assert_array_equal(image, images[original])
        assert label == labels[original]
    first_shard = [label for _, label in written[:12]]
    assert len(set(first_shard)) >= 3  # the classes mixed in every shard
    again = shards.write(source, str(tmp_path / "b"), examples_per_shard=12)
    assert again["splits"] == manifest["splits"]  # the same bytes (sha256) from the same seed
    other = shards.write(source, str(tmp_path / "c"), examples_per_shard=12, shuffle_seed=1)
    assert other["splits"]["train"]["shards"][0]["sha256"] != \
        manifest["splits"]["train"]["shards"][0]["sha256"]
    assert not [name for name in os.listdir(tmp_path / "a") if name.endswith(".tmp")]


def test_a_damaged_shard_is_named_set_aside_and_skipped(tmp_path, capsys):
    shards.write(_arrays(), str(tmp_path), examples_per_shard=10)
    flipped = tmp_path / "train-00001-of-00003.tfrecord"
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other bytes
    flipped.write_bytes(bytes(data))
    truncated = tmp_path / "test-00000-of-00001.tfrecord"
    truncated.write_bytes(truncated.read_bytes()[:-5])
    read = shards.ShardSource(str(tmp_path))
    out = capsys.readouterr().out
    assert ("1 of 3 train shards of" in out and "train-00001-of-00003.tfrecord: checksum "
            "differs" in out and "10 examples skipped" in out), out
    assert "test-00000-of-00001.tfrecord: " in out and "bytes, not" in out, out
    assert (read.num_examples("train"), read.num_examples("test")) == (13, 0)
    assert len(_examples(read, "train")) == 13 and _examples(read, "test") == []
    assert (tmp_path / "train-00001-of-00003.tfrecord.damaged").exists()  # set aside, kept
    assert not flipped.exists()
    # Read again: the shard set aside is missing now, and still skipped.
    assert shards.ShardSource(str(tmp_path)).num_examples("train") == 13


def test_no_manifest_or_another_format_is_one_clear_error(tmp_path):
    with pytest.raises(DataError, match="manifest.json not found: write shards there first "
                                        r"\(python -m convnet.make_shards --output_dir="):
        shards.ShardSource(str(tmp_path))
    (tmp_path / shards.MANIFEST).write_text('{"format": "other"}')
    with pytest.raises(DataError, match="is not a convnet shard manifest"):
        shards.ShardSource(str(tmp_path))
    with pytest.raises(ValueError, match="holds shards already"):
        shards.write(_arrays(), str(tmp_path))
    with pytest.raises(ValueError, match="--data_source=shards needs --data_dir"):
        SourceSpec("shards")


@pytest.mark.slow
def test_make_shards_writes_photos_of_any_size_which_train_and_evaluate(tmp_path):
    from PIL import Image
    rng = np.random.default_rng(0)
    for split, count in (("train", 12), ("test", 4)):
        for name in ("cat", "dog"):
            os.makedirs(tmp_path / "photos" / split / name)
            for index in range(count // 2):
                size = [int(side) for side in rng.integers(24, 48, size=2)]  # differing sizes
                Image.fromarray(rng.integers(0, 256, size=[*size, 3], dtype=np.uint8)).save(
                    tmp_path / "photos" / split / name / f"{index}.png")
    out, run = str(tmp_path / "shards"), str(tmp_path / "run")
    made = run_python("from convnet import make_shards; make_shards.run()",
                      f"--output_dir={out}", "--data_source=folder", "--image_size=32",
                      f"--data_dir={tmp_path / 'photos'}", "--examples_per_shard=5")
    assert made.returncode == 0, made.stderr[-2000:]
    assert made.stdout.strip().endswith(
        "/manifest.json: photos, images of any size x3, 2 classes; train 12 in 3 shard(s), "
        "test 4 in 1 shard(s)"), made.stdout
    trained = run_python("from convnet import train; train.run()", "--data_source=shards",
                         f"--data_dir={out}", "--image_size=32", "--model=lenet5",
                         "--batch_size=4", "--max_steps=2", f"--train_dir={run}")
    assert trained.returncode == 0, trained.stderr[-2000:]
    record = json.loads(open(os.path.join(run, "run.json")).read())
    assert record["preprocessing"]["augmentation"] == "random_resized_crop"
    assert record["preprocessing"]["crop_fraction"] == 0.875
    evaluated = run_python("from convnet import eval as e; e.run()", "--data_source=shards",
                           f"--data_dir={out}", f"--checkpoint_dir={run}", "--run_once",
                           f"--eval_dir={tmp_path / 'eval'}", "--batch_size=4")
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]  # the size: the run's
    assert "precision @ 1 = " in evaluated.stdout + evaluated.stderr


def test_make_shards_says_what_it_wrote(tmp_path, capsys):
    from convnet import make_shards
    from convnet.data.config import DataConfig

    from fake_data import write_image_folder
    write_image_folder(str(tmp_path / "pets"), per_class=2)
    make_shards.main(make_shards.ShardConfig(output_dir=str(tmp_path / "out")),
                     DataConfig(data_source="folder", data_dir=str(tmp_path / "pets")))
    assert capsys.readouterr().out.strip().endswith(
        "/manifest.json: pets, images 8x8x3, 3 classes; train 3 in 1 shard(s), test 3 in 1 "
        "shard(s)")
