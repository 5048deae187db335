"""A model from a package of your own and a folder of your own images, through the command
lines a user runs: train, resume, evaluate with TTA, export to TFLite, compare with a built-in
model; a package that is gone later is one line naming it."""

import json
import os
import re
import textwrap

import numpy as np
import pytest

from convnet.serving import formats, loaded_model

from fake_data import write_image_folder
from helpers import ENV, run_main

NETS = textwrap.dedent('''
    """A model of a package that is not convnet's."""
    import tensorflow as tf

    from convnet import layers
    from convnet.models import SequentialModel


    class Small(SequentialModel):
        default_name = "acme_small"

        def body_layers(self):
            return [layers.Conv2D(8, 3, activation=tf.nn.relu, wd=self.weight_decay, name="c1"),
                    layers.MaxPool(2, 2), layers.GlobalAvgPool(),
                    layers.Dense(self.num_classes, name="logits")]


    def small(num_classes=10, weight_decay=None):
        return Small(num_classes=num_classes, weight_decay=weight_decay)
''')
MODEL = "acme_nets.nets:small"
DATA = ("--data_source=synthetic", "--num_parallel_calls=2")


@pytest.fixture
def package(tmp_path, monkeypatch):
    """The package `acme_nets` in a directory of its own, on PYTHONPATH for the mains and on
    sys.path here."""
    root = tmp_path / "site"
    (root / "acme_nets").mkdir(parents=True)
    (root / "acme_nets" / "__init__.py").write_text("")
    (root / "acme_nets" / "nets.py").write_text(NETS)
    monkeypatch.syspath_prepend(str(root))
    return dict(ENV, PYTHONPATH=os.pathsep.join([str(root), ENV.get("PYTHONPATH", "")]))


def _ok(done):
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_a_model_of_your_own_package_gets_the_whole_machinery(tmp_path, package):
    run = str(tmp_path / "run")
    train = ("convnet.train", f"--model={MODEL}", *DATA, "--batch_size=32",
             "--save_checkpoint_steps=2", "--log_frequency=2", f"--train_dir={run}")
    _ok(run_main(*train, "--max_steps=4", env=package))
    resumed = _ok(run_main(*train, "--max_steps=6", env=package))
    assert f"resumed from {run}/ckpt-4 at step 4" in resumed and "step 6, loss" in resumed

    evaluated = _ok(run_main("convnet.eval", f"--checkpoint_dir={run}", "--run_once",
                             "--tta=flip", "--num_examples=300", *DATA,
                             f"--eval_dir={tmp_path / 'eval'}", env=package))
    assert re.search(r"precision @ 1 = [\d.]+ \(\d+ of 300 test examples; checkpoint step 6",
                     evaluated), evaluated

    export_dir = str(tmp_path / "tflite")
    _ok(run_main("convnet.export", f"--checkpoint_dir={run}", f"--export_dir={export_dir}",
                 "--format=tflite", env=package))
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    expected = loaded_model.load(run).logits(images).numpy()
    served = formats.run_tflite(os.path.join(export_dir, formats.TFLITE_FILE), images)
    np.testing.assert_allclose(served["logits"], expected, rtol=1e-4, atol=1e-4)

    out = str(tmp_path / "compare")
    _ok(run_main("convnet.compare", f"--models={MODEL}", "--max_steps=4",
                 f"--output_dir={out}", *DATA, "--eval_examples=200", env=package,
                 timeout=600))  # (a zoo model beside it: tests/reports/test_comparison.py)
    table = open(os.path.join(out, "comparison.md"), encoding="utf-8").read()
    assert f"| {MODEL} | {3 * 3 * 3 * 8 + 8 + 8 * 10 + 10:,} |" in table  # conv, dense

    gone = run_main("convnet.eval", f"--checkpoint_dir={run}", "--run_once", *DATA,
                    f"--eval_dir={tmp_path / 'eval2'}")  # without the package on the path
    assert gone.returncode == 1
    assert gone.stderr.strip().splitlines()[-1] == (
        f"error: --model={MODEL}: cannot import acme_nets.nets (No module named 'acme_nets'): "
        f"install the package that defines it, or put its directory on PYTHONPATH.")


@pytest.mark.slow
def test_a_fast_recipe_and_a_budget_serve_a_model_of_your_own(tmp_path, package):
    run = str(tmp_path / "run")
    done = _ok(run_main("convnet.train", "--recipe=resnet20_fast", f"--model={MODEL}", *DATA,
                        "--epoch_budget=0.05", f"--train_dir={run}", "--log_frequency=1",
                        env=package))
    # 0.05 epochs of 50,000 examples at the recipe's batch of 512: 5 steps, then the recipe's
    # evaluation with its test-time augmentation.
    assert "step 5, loss" in done and "step 6, loss" not in done
    assert re.search(r"precision @ 1 = [\d.]+ \(\d+ of 10000 test examples; step 5, raw "
                     r"weights, flip_translate TTA\)", done), done
    assert json.load(open(os.path.join(run, "run.json"), encoding="utf-8"))["model"] == MODEL


@pytest.mark.slow
def test_a_folder_of_images_trains_and_evaluates_every_test_image_once(tmp_path):
    data = str(tmp_path / "pets")
    write_image_folder(data, per_class=10, size=(16, 16))
    flags = ("--data_source=folder", f"--data_dir={data}", "--folder_test_fraction=0.3")
    run = str(tmp_path / "run")
    trained = _ok(run_main("convnet.train", "--model=lenet5", *flags, "--batch_size=7",
                           "--max_steps=3", f"--train_dir={run}"))
    assert "saved checkpoint" in trained
    evaluated = _ok(run_main("convnet.eval", f"--checkpoint_dir={run}", "--run_once", *flags,
                             f"--eval_dir={tmp_path / 'eval'}"))
    assert re.search(r"precision @ 1 = [\d.]+ \(\d+ of 9 test examples", evaluated)  # 3 x 3
    for name in ("cat", "dog", "emu"):
        assert re.search(rf"  {name} +[\d.]+ \(3\)", evaluated), evaluated  # per class, exact
    predicted = _ok(run_main("convnet.predict", f"--checkpoint_dir={run}", "--top_k=3",
                             os.path.join(data, "dog", "000.png")))
    assert "lenet5 model on pets" in predicted and re.search(r"1\. (cat|dog|emu) ", predicted)
