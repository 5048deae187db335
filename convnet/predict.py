"""Classify image files: `python -m convnet.predict --checkpoint_dir=DIR [--top_k=5] a.png b.jpg`.

Each image (PNG or JPEG, any size, grey or colour) is brought to the dataset's
native shape as `convnet.serving.image_files.load_image` documents, preprocessed as in
evaluation and classified with the checkpoint's EMA weights (--nouse_ema: the
raw weights). Prints, per image, its k most probable classes:

    /tmp/cat.png
      1. cat          0.6421
      2. dog          0.1873

(The logic: `convnet.serving.prediction`.)
"""

from convnet.runtime import quiet_start  # noqa: F401  (first, before TensorFlow: hides its lines)

# isort: split

from convnet.runtime import cli
from convnet.serving import loaded_model
from convnet.serving import prediction as predict


def main(config: loaded_model.InferenceConfig, paths: list[str]) -> None:
    if not paths:
        raise ValueError("no image files given: python -m convnet.predict "
                         "--checkpoint_dir=DIR image.png [more.jpg ...]")
    predict.predict(config.checkpoint_dir, paths, config.top_k, use_ema=config.use_ema,
                    checkpoint_path=config.checkpoint, restore_fallback=config.restore_fallback)


def run() -> None:
    cli.run(main, loaded_model.InferenceConfig, takes_args=True)


if __name__ == "__main__":
    run()
