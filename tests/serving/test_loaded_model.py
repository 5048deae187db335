"""convnet.serving.loaded_model and image_files: restoring a train_dir for inference, and image
files made into its inputs.

The train_dirs are written directly (tests/helpers.py's write_train_dir: model, EMA = raw / 2,
step 7 and run.json), so that no test pays for a training step's tracing.
"""

import json

import numpy as np
import pytest
import tensorflow as tf

from convnet.data import info as data_info
from convnet.runtime.errors import CheckpointError, DataError
from convnet.serving import image_files, loaded_model

from helpers import random_image, write_image, write_train_dir


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory):
    return write_train_dir(tmp_path_factory.mktemp("train"))


def test_load_restores_ema_weights_and_the_runs_preprocessing(train_dir):
    directory, model, ema, preprocessing = train_dir
    loaded = loaded_model.load(directory)
    assert loaded.step == 7 and loaded.checkpoint_path.endswith("ckpt-7")
    assert loaded.preprocessing == preprocessing and loaded.image_shape == (32, 32, 3)
    assert loaded.class_names[3] == "cat" and loaded.use_ema
    for shadow, variable in zip(ema.shadows, loaded.model.trainable_variables, strict=True):
        np.testing.assert_array_equal(variable.numpy(), shadow.numpy())
    raw = loaded_model.load(directory, use_ema=False)
    for original, variable in zip(model.trainable_variables, raw.model.trainable_variables,
                                  strict=True):
        np.testing.assert_array_equal(variable.numpy(), original.numpy())


def test_logits_apply_the_evaluation_preprocessing(train_dir):
    directory, _, _, preprocessing = train_dir
    loaded = loaded_model.load(directory)
    images = random_image([3, 32, 32, 3])
    expected = loaded.model(tf.stack([preprocessing.evaluate(image) for image in images]))
    np.testing.assert_allclose(loaded.logits(images).numpy(), expected.numpy(), rtol=1e-5,
                               atol=1e-5)
    probabilities = loaded.probabilities(images)
    assert probabilities.shape == (3, 10) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_missing_run_json_or_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint found in .*: train first"):
        loaded_model.load(str(tmp_path))  # nothing there (no run.json without checkpoints: see
        # test_bad_input.py::test_eval_without_run_json_says_so_or_waits_for_it_in_loop_mode)
    (tmp_path / "run.json").write_text(json.dumps({"model": "cifar10", "num_classes": 10}))
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        loaded_model.load(str(tmp_path))


def test_match_channels_drops_alpha_and_converts():
    said = []
    rgba = tf.constant(random_image([4, 4, 4]))
    np.testing.assert_array_equal(image_files.match_channels(rgba, 3, "x", log=said.append),
                                  rgba[..., :3])
    grey_alpha = tf.constant(random_image([4, 4, 2]))
    rgb = image_files.match_channels(grey_alpha, 3, "y", log=said.append)
    np.testing.assert_array_equal(rgb, np.repeat(grey_alpha[..., :1], 3, axis=-1))
    assert said == ["note: x: dropped its alpha channel",
                    "note: y: dropped its alpha channel; converted grayscale to RGB for a "
                    "3-channel model"]


def test_fit_size_keeps_the_aspect_ratio_and_takes_the_centre():
    # A 32x96 image: red | green | blue thirds. Its centre 32x32 window is all green.
    image = np.zeros([32, 96, 3], np.uint8)
    for third in range(3):
        image[:, 32 * third:32 * (third + 1), third] = 255
    centre = image_files.fit_size(tf.constant(image), 32, 32).numpy()
    assert centre.shape == (32, 32, 3)
    np.testing.assert_array_equal(centre[..., 1], 255)
    assert centre[..., [0, 2]].max() == 0
    np.testing.assert_array_equal(image_files.fit_size(tf.constant(image[:, :32]), 32, 32),
                                  image[:, :32])
    assert image_files.fit_size(tf.constant(random_image([3, 500, 3])), 32, 32).shape == (32, 32, 3)


def test_a_non_image_file_is_a_clear_error_naming_it(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(DataError, match=f"{text} is not an image TensorFlow can decode"):
        image_files.load_images([str(text)], (32, 32, 3))
    with pytest.raises(DataError, match=f"image file {tmp_path / 'gone.png'} does not exist"):
        image_files.read_image(str(tmp_path / "gone.png"))


def test_logits_with_test_time_augmentation(train_dir):
    loaded = loaded_model.load(train_dir[0])
    images = np.random.default_rng(3).integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    plain, mirrored = loaded.logits(images), loaded.logits(images[:, :, ::-1])
    np.testing.assert_allclose(loaded.logits(images, "flip").numpy(),
                               0.5 * (plain.numpy() + mirrored.numpy()), rtol=1e-5, atol=1e-6)
    assert loaded.logits(images, "flip_translate").shape == (3, loaded.num_classes)


def test_load_a_given_checkpoint_path_rather_than_the_latest(train_dir, tmp_path):
    directory, model, ema, _ = train_dir
    other = str(tmp_path / "other-9")
    tf.train.Checkpoint(step=tf.Variable(9, dtype=tf.int64), model=model, ema=ema).write(other)
    loaded = loaded_model.load(directory, checkpoint_path=other)
    assert loaded.step == 9 and loaded.checkpoint_path == other
    assert loaded.record.model == "cifar10"


def test_properties_and_preprocess_follow_the_run(train_dir):
    directory, _, _, preprocessing = train_dir
    loaded = loaded_model.load(directory)
    assert loaded.num_classes == 10 and loaded.class_names == list(data_info.CIFAR10_CLASSES)
    images = random_image([2, 32, 32, 3], seed=5)
    preprocessed = loaded.preprocess(tf.constant(images))
    assert preprocessed.dtype == tf.float32 and preprocessed.shape == (2, 24, 24, 3)
    for image, result in zip(images, preprocessed, strict=True):
        np.testing.assert_allclose(result.numpy(), preprocessing.evaluate(image).numpy(),
                                   rtol=1e-6, atol=1e-6)


def test_match_channels_makes_grey_for_one_channel_models_and_refuses_the_rest(capsys):
    said = []
    rgb = random_image([4, 4, 3], seed=1)
    grey = image_files.match_channels(tf.constant(rgb), 1, "z", log=said.append).numpy()
    expected = rgb.astype(np.float64) @ [0.2989, 0.5870, 0.1140]  # ITU-R 601-2 luma
    assert grey.shape == (4, 4, 1) and grey.dtype == np.uint8
    np.testing.assert_allclose(grey[..., 0], expected, atol=1.0)
    assert said == ["note: z: converted RGB to grayscale for a 1-channel model"]
    same = image_files.match_channels(tf.constant(rgb), 3, "w", log=said.append)
    np.testing.assert_array_equal(same, rgb)
    assert len(said) == 1  # nothing converted, nothing said
    with pytest.raises(DataError, match=r"^v has 1 channels; the model takes 4\.$"):
        image_files.match_channels(tf.constant(grey), 4, "v", log=said.append)
    image_files.match_channels(tf.constant(random_image([4, 4, 4])), 3, "u", log=None)
    assert capsys.readouterr().out == ""


def test_fit_size_enlarges_a_small_image():
    image = np.full([16, 8, 3], 77, np.uint8)  # shorter side 8 -> 32: 64x32, centre 32x32
    fitted = image_files.fit_size(tf.constant(image), 32, 32)
    assert fitted.dtype == tf.uint8 and fitted.shape == (32, 32, 3)
    np.testing.assert_array_equal(fitted.numpy(), 77)


def test_read_image_decodes_png_exactly_and_refuses_a_directory(tmp_path):
    image = random_image([5, 7, 3], seed=2)
    written = write_image(tmp_path / "a.png", image)
    np.testing.assert_array_equal(image_files.read_image(written), image)
    with pytest.raises(DataError, match=f"^{tmp_path} is a directory: pass image files"):
        image_files.read_image(str(tmp_path))


def test_load_images_brings_each_file_to_the_native_shape(tmp_path):
    said = []
    grey = write_image(tmp_path / "grey.png", np.full([48, 64, 1], 200, np.uint8))
    colour = write_image(tmp_path / "colour.png", random_image([32, 32, 3], seed=3))
    batch = image_files.load_images([grey, colour], (32, 32, 3), log=said.append)
    assert batch.shape == (2, 32, 32, 3) and batch.dtype == np.uint8
    np.testing.assert_array_equal(batch[0], 200)
    np.testing.assert_array_equal(batch[1], random_image([32, 32, 3], seed=3))
    assert said == [f"note: {grey}: converted grayscale to RGB for a 3-channel model"]
    with pytest.raises(DataError, match=r"^no image files given: pass one or more PNG or JPEG "):
        image_files.load_images([], (32, 32, 3))


def test_a_run_without_a_moving_average_loads_its_raw_weights(tmp_path):
    """--moving_average_decay=0 in run.json: the shadows only follow the weights; the raw
    weights are used and `use_ema` says so (eval, predict and export label them "raw")."""
    directory, model, _, _ = write_train_dir(tmp_path)
    record = json.loads((tmp_path / "run.json").read_text())
    record["settings"] = {"moving_average_decay": 0.0}
    (tmp_path / "run.json").write_text(json.dumps(record))
    loaded = loaded_model.load(directory)  # use_ema=True asked
    assert not loaded.use_ema
    for original, variable in zip(model.trainable_variables, loaded.model.trainable_variables,
                                  strict=True):
        np.testing.assert_array_equal(variable.numpy(), original.numpy())
    record["settings"] = {"moving_average_decay": 0.99}
    (tmp_path / "run.json").write_text(json.dumps(record))
    assert loaded_model.load(directory).use_ema
