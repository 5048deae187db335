"""The run record: run.json round trips, earlier releases' files load, resumes are checked."""

import json
import os
import shutil

import numpy as np
import pytest

from convnet import evaluation, training
from convnet.checkpoints import run_record
from convnet.data import preprocess
from convnet.runtime.errors import CheckpointError, DamagedFileError
from convnet.serving import loaded_model

from helpers import REPO

# A train_dir written by convnet 0.1.0 (the release before the run record): lenet5 on
# synthetic MNIST, 3 SGD steps of batch 4; expected.npz holds its inference output then.
RELEASE_0_1_0 = os.path.join(REPO, "tests", "fixtures", "release_0_1_0")


def _config(tmp_path, **overrides):
    values = dict(train_dir=str(tmp_path / "train"), data_source="synthetic", max_steps=2,
                  batch_size=4, model="lenet5", dataset="mnist", optimizer="sgd",
                  shuffle_buffer=8, log_frequency=2, save_checkpoint_steps=2,
                  num_parallel_calls=1)
    values.update(overrides)
    return training.TrainConfig.from_settings(**values)


def _old_train_dir(tmp_path) -> str:
    directory = str(tmp_path / "old")
    shutil.copytree(RELEASE_0_1_0, directory)
    return directory


def test_a_record_round_trips_through_json():
    record = run_record.RunRecord(
        model="fast93", dataset="cifar100", num_classes=20, label_mode="coarse", image_size=32,
        image_channels=3, max_steps=539, optimizer="sgd", data_source="files", batch_size=1024,
        preprocessing=preprocess.Preprocessing("translate_altflip", 32, "per_channel",
                                               (1.0, 2.0, 3.0), (4.0, 5.0, 6.0), True),
        settings={"learning_rate": 11.5, "seed": 3})
    again = run_record.RunRecord.from_json(json.loads(json.dumps(record.to_json())))
    assert again == record
    assert again.dataset_info().num_classes == 20 and again.version == record.version


def test_an_earlier_release_file_loads_with_the_missing_fields_none():
    with open(os.path.join(RELEASE_0_1_0, "run.json"), encoding="utf-8") as f:
        data = json.load(f)
    record = run_record.RunRecord.from_json(data)
    assert (record.model, record.dataset, record.num_classes) == ("lenet5", "mnist", 10)
    assert record.batch_size is None and record.settings == {} and record.version is None
    assert record.preprocessing.channel_mean == tuple(data["preprocessing"]["channel_mean"])
    # Older still: no label mode and no preprocessing (CIFAR-100 with 20 classes is coarse).
    oldest = run_record.RunRecord.from_json({"model": "cifar10", "dataset": "cifar100",
                                             "num_classes": 20})
    assert oldest.resolved_label_mode() == "coarse"
    assert oldest.dataset_info().class_name(0) == "aquatic_mammals"
    tutorial = oldest.preprocessing_for(24, 32)
    assert (tutorial.augmentation, tutorial.image_size) == ("tutorial", 24)


def test_a_file_not_written_by_convnet_is_a_clear_error(tmp_path):
    (tmp_path / "run.json").write_text('{"epochs": 3}')
    with pytest.raises(CheckpointError, match="not written by convnet.train"):
        run_record.read(str(tmp_path))
    (tmp_path / "run.json").write_text("{")
    with pytest.raises(DamagedFileError, match=r"run.json is damaged \(not JSON: Expecting .*\)\. "
                                              r"Training writes it again: rerun"):
        run_record.read(str(tmp_path))


@pytest.mark.slow
def test_the_release_0_1_0_checkpoint_restores_evaluates_and_resumes(tmp_path):
    directory = _old_train_dir(tmp_path)
    expected = np.load(os.path.join(RELEASE_0_1_0, "expected.npz"))
    loaded = loaded_model.load(directory)
    assert loaded.step == 3 and loaded.record.model == "lenet5"
    np.testing.assert_allclose(loaded.probabilities(expected["images"]),
                               expected["probabilities"], rtol=1e-5, atol=1e-7)
    result = evaluation.Evaluator(evaluation.EvalConfig.from_settings(
        checkpoint_dir=directory, eval_dir=str(tmp_path / "eval"), data_source="synthetic",
        run_once=True, num_examples=8, batch_size=8, num_parallel_calls=1)).run()
    assert result.step == 3 and result.num_examples == 8
    resumed = training.Trainer(_config(tmp_path, train_dir=directory, max_steps=4))
    assert resumed.setup.preprocessing == loaded.preprocessing  # the stored statistics are kept
    assert resumed.train() == 4
    assert run_record.read(directory).batch_size == 4  # rewritten in this release's form


@pytest.mark.slow
def test_a_run_records_its_settings_and_flags(tmp_path):
    config = _config(tmp_path, learning_rate=0.05, seed=7)
    assert training.train(config, flags_text="--model=lenet5\n--seed=7\n") == 2
    record = run_record.read(config.train_dir)
    assert record.batch_size == 4 and record.settings["learning_rate"] == 0.05
    assert record.settings["seed"] == 7
    assert record.training_settings() == json.loads(json.dumps(config.settings()))
    assert not set(run_record.SETTINGS_IN_FIELDS) & set(record.settings)  # each written once
    with open(os.path.join(config.train_dir, run_record.FLAGS_FILE), encoding="utf-8") as f:
        assert f.read() == "--model=lenet5\n--seed=7\n"


@pytest.mark.slow
def test_a_resume_with_another_batch_size_or_model_is_refused(tmp_path):
    training.Trainer(_config(tmp_path)).train()
    with pytest.raises(CheckpointError, match=r"batch_size=4 \(asked for 8\).*--batch_size=4"):
        training.Trainer(_config(tmp_path, batch_size=8, max_steps=4)).train()
    with pytest.raises(CheckpointError, match=r"model='lenet5' \(asked for 'baseline'\)"):
        training.Trainer(_config(tmp_path, model="baseline", max_steps=4)).train()
    assert training.Trainer(_config(tmp_path, max_steps=4)).train() == 4
