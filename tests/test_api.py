"""convnet.fit, convnet.evaluate, convnet.load: your own model and data through the whole
machinery from Python, checked against computations by hand; exceptions, never an exit."""

import json
import os

import numpy as np
import pytest

import convnet
from convnet.data.sources.arrays import ArraySource
from convnet.models.lenet import LeNet5
from convnet.runtime.errors import CheckpointError

CLASSES = ("red", "green", "blue")


def colour_arrays(count, seed):
    """uint8 [count, 16, 16, 3] images whose colour is the class (with noise), and labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=count)
    colours = np.eye(3)[labels] * 160 + 40
    images = np.clip(colours[:, None, None, :] + rng.normal(0, 30, (count, 16, 16, 3)), 0, 255)
    return images.astype(np.uint8), labels


def tiny_lenet(num_classes=10, weight_decay=None):
    """A factory of this module: recorded by its import path."""
    return LeNet5(num_classes=num_classes, weight_decay=weight_decay)


@pytest.fixture(scope="module")
def source():
    return ArraySource(name="colours", class_names=CLASSES, train=colour_arrays(96, 0),
                       test=colour_arrays(30, 1))


SETTINGS = dict(batch_size=16, optimizer="adam", learning_rate=3e-3, log_frequency=2,
                save_checkpoint_steps=3, num_parallel_calls=1, shuffle_buffer=16, seed=4,
                deterministic=True)


def test_fit_evaluate_and_load_a_model_and_data_of_your_own(tmp_path, source):
    train_dir = str(tmp_path / "run")
    result = convnet.fit(model=tiny_lenet, source=source, train_dir=train_dir, max_steps=6,
                         eval_at_end=True, **SETTINGS)
    assert result.step == 6 and result.train_dir == train_dir
    assert result.checkpoint == os.path.join(train_dir, "ckpt-6")
    assert np.isfinite(result.loss) and set(result.seconds) >= {"training", "evaluation"}
    record = json.load(open(os.path.join(train_dir, "run.json"), encoding="utf-8"))
    assert record["model"] == "test_api:tiny_lenet" and record["dataset"] == "colours"
    assert record["class_names"] == list(CLASSES) and record["image_shape"] == [16, 16, 3]
    assert record["data_source"] == "ArraySource"

    images, labels = source.arrays("test")
    raw = convnet.load(train_dir, use_ema=False)  # the weights the end's evaluation used
    by_hand = float(np.mean(raw.probabilities(images).argmax(axis=1) == labels))
    assert result.precision == pytest.approx(by_hand)
    averaged = convnet.load(train_dir)
    assert tuple(averaged.class_names) == CLASSES and averaged.step == 6
    scores = convnet.evaluate(train_dir, source=source, eval_dir=str(tmp_path / "eval"))
    assert scores.num_examples == 30  # each test example once
    np.testing.assert_array_equal(scores.class_count, np.bincount(labels, minlength=3))
    expected = float(np.mean(averaged.probabilities(images).argmax(axis=1) == labels))
    assert scores.precision == pytest.approx(expected)


def test_a_resumed_fit_ends_with_the_weights_of_an_uninterrupted_one(tmp_path, source):
    convnet.fit(model=tiny_lenet, source=source, train_dir=str(tmp_path / "a"), max_steps=3,
                **SETTINGS)
    resumed = convnet.fit(model=tiny_lenet, source=source, train_dir=str(tmp_path / "a"),
                          max_steps=6, **SETTINGS)
    whole = convnet.fit(model=tiny_lenet, source=source, train_dir=str(tmp_path / "b"),
                        max_steps=6, **SETTINGS)
    assert resumed.step == whole.step == 6
    for a, b in zip(convnet.load(str(tmp_path / "a")).model.variables,
                    convnet.load(str(tmp_path / "b")).model.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.name)


def test_a_factory_of_a_notebook_is_registered_by_its_name(tmp_path, source):
    def notebook_net(num_classes=10, weight_decay=None):
        return LeNet5(num_classes=num_classes, weight_decay=weight_decay)

    convnet.fit(model=notebook_net, source=source, train_dir=str(tmp_path / "n"), max_steps=1,
                **SETTINGS)
    assert json.load(open(tmp_path / "n" / "run.json", encoding="utf-8"))["model"] == \
        "notebook_net"
    assert convnet.load(str(tmp_path / "n")).step == 1  # registered in this process


def test_failures_raise_and_never_exit(tmp_path, source):
    with pytest.raises(ValueError, match="--batch_size must be positive"):
        convnet.fit(model=tiny_lenet, source=source, train_dir=str(tmp_path / "x"),
                    batch_size=0)
    with pytest.raises(ValueError, match="unknown --model='nosuch'"):
        convnet.fit(model="nosuch", train_dir=str(tmp_path / "y"))
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        convnet.load(str(tmp_path / "nothing"))
    with pytest.raises(ValueError, match="unknown TrainConfig setting.s. no_such_setting:"):
        convnet.fit(train_dir=str(tmp_path / "z"), no_such_setting=1)


def test_fit_evaluate_and_load_are_exported_and_visible_to_type_checkers():
    import ast
    import inspect

    from convnet import api
    assert {"fit", "evaluate", "load", "FitResult", "__version__"} == set(convnet.__all__)
    assert {"fit", "evaluate", "load", "FitResult"} <= set(dir(convnet))
    assert convnet.fit is api.fit and convnet.FitResult is api.FitResult
    # The names a type checker reads: `if TYPE_CHECKING: from convnet.api import ...`.
    tree = ast.parse(inspect.getsource(convnet))
    checked = {alias.name for node in ast.walk(tree) if isinstance(node, ast.If)
               and getattr(node.test, "id", None) == "TYPE_CHECKING"
               for statement in node.body if isinstance(statement, ast.ImportFrom)
               and statement.module == "convnet.api" for alias in statement.names}
    assert checked == {"fit", "evaluate", "load", "FitResult"}
    with pytest.raises(AttributeError, match="no attribute 'fitt'"):
        convnet.fitt  # noqa: B018
