"""The airbench recipe's training pieces through the Trainer: the decoupled form, the data
initialisation at step 0 only, variable groups, lookahead in the checkpoint, evaluation after
each epoch and at the end with the time split, and the recipe flag files."""

import os
import re
import signal
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from absl import flags as absl_flags

from convnet import recipes, training
from convnet.data import pipeline
from convnet.nn import whitening
from convnet.optim import optimizers, schedules, variable_groups
from convnet.runtime import cli, options

import kill_harness

CONFIGS = recipes.DIRECTORY


def test_decoupled_form_equals_airbench_torch_sgd_on_a_summed_loss():
    lr, wd, momentum, batch = 11.5, 0.0153, 0.85, 1024
    # airbench: PyTorch SGD on the summed loss with lr / kilostep and weight_decay = wd' / lr'.
    kilostep = 1024 * (1 + 1 / (1 - momentum))
    torch_lr, torch_wd = lr / kilostep, (wd * batch / kilostep) / (lr / kilostep)
    mean_lr, loss_wd = optimizers.from_decoupled(lr, wd, momentum, batch_size=batch)
    # Same step: torch_lr * (sum of gradients + torch_wd * w)
    #          = mean_lr * (mean gradient + loss_wd * w).
    assert mean_lr == pytest.approx(torch_lr * batch) and mean_lr == pytest.approx(1.5)
    assert mean_lr * loss_wd == pytest.approx(torch_lr * torch_wd)
    with pytest.raises(ValueError, match="momentum"):
        optimizers.from_decoupled(lr, wd, 0.0, batch_size=batch)
    config = training.TrainConfig.from_settings(
        optimizer="sgd", momentum=momentum, learning_rate=lr, weight_decay=wd, batch_size=batch,
        decoupled_hyperparameters=True)
    assert (config.resolved_learning_rate, config.resolved_weight_decay) == (mean_lr, loss_wd)
    with pytest.raises(ValueError, match="decoupled_hyperparameters"):
        training.TrainConfig.from_settings(
            optimizer="adam", decoupled_hyperparameters=True).validate()


def _recipe(cifar_dir, train_dir, **overrides):
    values = dict(
        train_dir=str(train_dir), data_dir=cifar_dir, download=False, model="fast93",
        batch_size=8, epochs=2.0, optimizer="sgd", momentum=0.85, nesterov=True,
        decoupled_hyperparameters=True, learning_rate=11.5, weight_decay=0.0153,
        lr_schedule="warmup_linear", label_smoothing=0.2,
        variable_groups="beta:lr_scale=64;whiten.*bias:train_epochs=1",
        lookahead_every=2, lookahead_start_epoch=0.4, moving_average_decay=0.0,
        augmentation="translate_altflip", normalization="per_channel", num_parallel_calls=1,
        log_frequency=5, save_checkpoint_steps=5, eval_every_epoch=True, eval_at_end=True,
        tta="flip_translate")
    values.update(overrides)
    return training.TrainConfig.from_settings(**values)


@pytest.mark.slow
def test_the_recipe_trains_initialises_once_freezes_by_epoch_and_resumes(tmp_path, cifar_dir,
                                                                         capsys):
    data_dir, arrays = cifar_dir  # 40 training images: 5 steps an epoch at batch 8
    trainer = training.Trainer(_recipe(data_dir, tmp_path / "train",
                                       progressive_resizing="25:0.4"))
    assert trainer.max_steps == 10
    assert trainer.setup.groups.train_until_steps.count(5) == 1  # the whitening bias, 1 epoch
    assert trainer.setup.groups.lr_scales.count(64.0) == 6  # the six BatchNorm betas
    assert trainer.setup.image_sizes == ((25, 2),)  # 0.4 epochs on 25x25 images: steps 0-1
    assert trainer.train() == 10
    # Steps 0-1 on 25x25 images, then 32x32; the frozen whitening bias: from step 5 on, a
    # trace of the step without its gradient.
    step = trainer.train_step
    assert set(step._rounds) == {(step.trained(0), 25), (step.trained(0), None),
                                 (step.trained(5), None)}
    out = capsys.readouterr().out
    assert "initialised fast93 from the first 40 training images" in out
    assert re.search(r": training on 25x25 images until step 2 \(--progressive_resizing\)\n"
                     r".*: training on full-size 32x32 images from step 2\n", out), out
    # The frozen whitening kernel is the whitening of the training images, preprocessed.
    images = next(iter(pipeline.eval_dataset(trainer.source, "train", 40,
                                             settings=trainer.setup.input_settings)))[0]
    kernel = [v for v in trainer.state.model.variables
              if "whiten" in v.name and "kernel" in v.name][0]
    np.testing.assert_allclose(kernel.numpy(), whitening.patch_whitening_kernel(images), rtol=1e-4,
                               atol=1e-5)
    epochs = re.findall(r": epoch (\d) \(step (\d+)\): precision @ 1 = 0\.\d{4} \((\d+) of 10 "
                        r"test examples\)", out)
    assert epochs == [("1", "5", epochs[0][2]), ("2", "10", epochs[1][2])]
    final = re.search(r": precision @ 1 = (0\.\d{3}) \((\d+) of 10 test examples; step 10, raw "
                      r"weights, flip_translate TTA\)", out)
    assert final, out
    split = re.search(r": time to accuracy ([\d.]+) s: startup ([\d.]+) s, data ([\d.]+) s, "
                      r"initialisation ([\d.]+) s, training ([\d.]+) s, input shutdown ([\d.]+) s, "
                      r"evaluation ([\d.]+) s "
                      r"\(from process start", out)
    assert split, out
    parts = list(map(float, split.groups()[1:]))  # each, and the total, rounded to 0.1 s
    assert float(split.group(1)) == pytest.approx(sum(parts), abs=0.05 * (len(parts) + 1) + 1e-9)
    # The checkpoint holds the lookahead averages, the step and the frozen kernel.
    latest = tf.train.latest_checkpoint(str(tmp_path / "train"))
    reader = tf.train.load_checkpoint(latest)
    names = reader.get_variable_to_shape_map()
    assert any(name.startswith("lookahead/") for name in names)
    # Whitening bias: trained during epoch 1 (steps 1-5) only; resuming changes nothing of it
    # and does not initialise again.
    bias = [v for v in trainer.state.model.trainable_variables if "whiten" in v.name][0]
    frozen_bias, kernel_value = bias.numpy().copy(), kernel.numpy().copy()
    resumed = training.Trainer(_recipe(data_dir, tmp_path / "train", epochs=2.4))
    assert resumed.train() == 12
    out = capsys.readouterr().out
    assert "initialised" not in out and "resumed from" in out
    resumed_bias = [v for v in resumed.state.model.trainable_variables if "whiten" in v.name][0]
    np.testing.assert_array_equal(resumed_bias.numpy(), frozen_bias)
    resumed_kernel = [v for v in resumed.state.model.variables
                      if "whiten" in v.name and "kernel" in v.name][0]
    np.testing.assert_array_equal(resumed_kernel.numpy(), kernel_value)


def test_a_size_the_model_cannot_take_is_refused_before_training(tmp_path, cifar_dir):
    # fast93's pools: 24x24 -> 23 -> 11 -> 5 -> 2, too small for its 3x3 head pool.
    with pytest.raises(ValueError, match=r"--progressive_resizing=25:1,24:1: --model=fast93 "
                                         r"cannot take 24x24 inputs \(.+\); choose sizes it "
                                         r"accepts \(its full size is 32\)"):
        training.Trainer(_recipe(cifar_dir[0], tmp_path / "train", eval_every_epoch=False,
                                 progressive_resizing="25:1,24:1"))
    assert not os.path.exists(tmp_path / "train" / "run.json")


def test_a_variable_group_matching_nothing_is_refused(tmp_path, cifar_dir):
    with pytest.raises(ValueError, match=r"'gamma' matches no trainable variable of "
                                         r"--model=fast93"):
        training.Trainer(_recipe(cifar_dir[0], tmp_path / "train", variable_groups="gamma:"
                                 "lr_scale=2", eval_every_epoch=False))


@pytest.mark.parametrize("name", ["fast93", "fast94"])
def test_the_recipe_flag_files_parse_into_a_valid_config(name):
    options.define_flags(training.TrainConfig)
    try:
        absl_flags.FLAGS(["train", f"--flagfile={os.path.join(CONFIGS, name + '.flags')}"])
        config = options.from_flags(training.TrainConfig)
    finally:
        absl_flags.FLAGS.unparse_flags()  # back to the defaults for the other tests
    config.validate()
    assert (config.model, config.data.batch_size, config.tta) == (name, 1024, "flip_translate")
    assert config.resolved_learning_rate == pytest.approx(1.5)
    assert config.epochs == {"fast93": 11.0, "fast94": 9.9}[name]


# What the Muon recipes train on 25x25 images first in each precision (their precision files).
RESIZING = {("fast94_muon", "float32"): "25:5", ("fast94_muon", "mixed_bfloat16"): "",
            ("fast93_muon", "float32"): "25:3", ("fast93_muon", "mixed_bfloat16"): ""}


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
@pytest.mark.parametrize("name,width,epochs", [("fast94_muon", 256, 8.0),
                                                ("fast93_muon", 128, 8.0)])
def test_the_muon_recipes_are_airbench94_muon_in_convnet_terms(name, width, epochs, precision):
    options.define_flags(training.TrainConfig)
    recipes.define_recipe_flag()
    try:  # --recipe as the mains read it: its file, then its file for the run's precision
        absl_flags.FLAGS(recipes.expand(["train", f"--recipe={name}", f"--precision={precision}"],
                                        cli.run_precision))
        config = options.from_flags(training.TrainConfig)
    finally:
        absl_flags.FLAGS.unparse_flags()
    config.validate()
    assert config.compute.precision == precision
    assert (config.data.batch_size, config.epochs, config.optim.lookahead_every) == (
        2000, epochs, 0)
    # airbench94_muon: summed loss over 2,000; head lr 0.67 on W with logits = W x / width;
    # biases 0.053; Muon 0.24; the SGD variables shrink by 2e-6 x 2,000 a step.
    # convnet: mean loss, logits = U x / 9, so U = W x 9 / width.
    head_rate = 0.67 * 2000 * (9 / width) ** 2
    assert config.resolved_learning_rate == pytest.approx(head_rate, rel=1e-4)
    assert config.resolved_learning_rate * config.resolved_weight_decay == pytest.approx(
        2e-6 * 2000, rel=1e-4)
    groups = {g.pattern: g for g in variable_groups.parse(config.optim.variable_groups)}
    muon_group = groups["group.*kernel"]
    assert (muon_group.optimizer, muon_group.momentum, muon_group.nesterov,
            muon_group.decay_scale) == ("muon", 0.6, True, 0.0)
    assert muon_group.lr_scale * head_rate == pytest.approx(0.24, rel=1e-4)
    assert config.augment.progressive_resizing == RESIZING[name, precision]
    for bias in ("beta", "whiten.*bias"):
        assert groups[bias].lr_scale * head_rate == pytest.approx(0.053 * 2000, rel=1e-3)
    assert groups["whiten.*bias"].train_epochs == 3
    schedule = config.optim.make_schedule(schedules.Epochs(50_000, 2000), 200)
    assert [float(schedule(s)) / head_rate for s in (0, 100, 200)] == pytest.approx(
        [1.0, 0.5, 0.0], abs=1e-5)


# --- SIGKILL in the middle of a --deterministic recipe run --------------------------------


def _recipe_command(data_dir, train_dir):
    return [sys.executable, "-m", "convnet.train",
            f"--flagfile={os.path.join(CONFIGS, 'fast93.flags')}", f"--data_dir={data_dir}",
            "--nodownload", f"--train_dir={train_dir}",
            "--batch_size=8", "--epochs=4", "--save_checkpoint_steps=5", "--log_frequency=1",
            # Muon on the conv filters and bfloat16 too: each resumes exactly.
            "--variable_groups=group.*kernel:optimizer=muon,momentum=0.6,nesterov=1,"
            "lr_scale=0.02,decay_scale=0;beta:lr_scale=64;whiten.*bias:train_epochs=1",
            "--precision=mixed_bfloat16",
            "--progressive_resizing=25:2.4",  # steps 0-11 on 25x25 images: across the resume
            "--lookahead_every=2", "--lookahead_start_epoch=1", "--deterministic",
            "--noeval_at_end", "--num_parallel_calls=1"]


@pytest.mark.slow
def test_a_killed_deterministic_recipe_run_ends_bitwise_equal_to_an_uninterrupted_one(
        tmp_path, cifar_dir):
    data_dir = cifar_dir[0]  # 40 images: 5 steps an epoch, 20 steps in all
    whole = kill_harness.Process(_recipe_command(data_dir, tmp_path / "whole"))
    try:
        assert whole.drain() == 0, whole.tail()
    finally:
        whole.close()
    killed = kill_harness.Process(_recipe_command(data_dir, tmp_path / "killed"))
    try:
        deadline = time.monotonic() + kill_harness.LIFE_TIMEOUT_SECS
        while True:  # past the checkpoint at step 10 (inside the lookahead), then SIGKILL
            line = killed.readline(deadline)
            assert line is not None, killed.tail()
            if re.search(r": step 12, loss = ", line):
                break
        killed.popen.send_signal(signal.SIGKILL)
        killed.popen.wait()
    finally:
        killed.close()
    rerun = kill_harness.Process(_recipe_command(data_dir, tmp_path / "killed"))
    try:
        assert rerun.drain() == 0, rerun.tail()
    finally:
        rerun.close()
    assert any(re.search(r": resumed from .*ckpt-10 at step 10$", line) for line in rerun.lines)
    assert not any("initialised" in line for line in rerun.lines)  # restored, not redone
    final_whole = kill_harness.read_checkpoint(tf.train.latest_checkpoint(str(tmp_path / "whole")))
    final_killed = kill_harness.read_checkpoint(
        tf.train.latest_checkpoint(str(tmp_path / "killed")))
    assert int(final_whole[kill_harness.STEP_KEY]) == 20
    assert any("lookahead" in name for name in final_whole)
    assert any(name.startswith("optimizer/parts/") for name in final_whole)  # Muon and SGD
    assert kill_harness.different_tensors(final_whole, final_killed) == []
