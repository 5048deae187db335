"""Write a dataset as TFRecord shards: `python -m convnet.make_shards --output_dir=DIR` with the
data flags of the source to shard (`--data_source=folder --data_dir=photos/`, a built-in
dataset's files, tfds); then train on them with `--data_source=shards --data_dir=DIR`.

The shards and their manifest (counts per split, class names, image shape, each shard's
size and SHA-256): `convnet.data.sources.shards`.
"""

from convnet.runtime import quiet_start  # noqa: F401  (first, before TensorFlow: hides its lines)

# isort: split
import dataclasses

from convnet.data.config import DataConfig
from convnet.data.sources import shards
from convnet.data.sources.spec import make_source
from convnet.runtime import cli
from convnet.runtime.options import check, option


@dataclasses.dataclass
class ShardConfig:
    """The settings of `convnet.make_shards` (its flags; the data flags name the source)."""
    output_dir: str | None = option(None, "Directory to write the shards and manifest.json "
                                    "into (created; must not hold a manifest).",
                                    required=True)
    examples_per_shard: int = option(shards.EXAMPLES_PER_SHARD,
                                     "Examples in each shard (the last holds the rest).",
                                     lower_bound=1)
    splits: tuple[str, ...] = option(("train", "test"), "Splits to write.")
    shuffle: bool = option(True, "Write each split in a seeded random order (--shuffle_seed), "
                           "so that every shard is a uniform sample of it, classes mixed (a "
                           "folder is read class by class): what streamed training "
                           "(--cache=none) needs. A second pass on disk; memory: one shard.")
    shuffle_seed: int = option(0, "Seed of --shuffle's order.")


def main(config: ShardConfig, data: DataConfig) -> None:
    check(config)
    data.validate()
    if data.data_source == "shards":
        raise ValueError("--data_source=shards reads shards: name the source to shard")
    source = make_source(data.source_spec())
    manifest = shards.write(source, config.output_dir,
                            examples_per_shard=config.examples_per_shard,
                            splits=tuple(config.splits),
                            shuffle_seed=config.shuffle_seed if config.shuffle else None)
    counts = ", ".join(f"{split} {entry['examples']:,} in {len(entry['shards'])} shard(s)"
                       for split, entry in manifest["splits"].items())
    height, width, channels = manifest["image_shape"]
    shape = (f"{height}x{width}x{channels}" if height and width
             else f"of any size x{channels}")
    print(f"{config.output_dir}/{shards.MANIFEST}: {manifest['name']}, images {shape}, "
          f"{manifest['num_classes']} classes; {counts}", flush=True)


def run() -> None:
    cli.run(main, ShardConfig, DataConfig)


if __name__ == "__main__":
    run()
