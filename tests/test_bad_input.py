"""Bad input gets a clear error: each message names the problem and the way out.

One test per kind of bad input. Elsewhere: the download cases (MD5 mismatch,
404, offline, a transfer cut short) are in test_data_download.py, against a
server on 127.0.0.1; a truncated file and missing data through the real CLI in
test_cli.py::test_bad_data_gets_one_clear_line.
"""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from absl import flags as absl_flags

from convnet import checkpointing, evaluation, flags, training
from convnet.data import pipeline
from convnet.errors import CheckpointError, DataError
from conftest import RECORD_BYTES, write_cifar_files

HOW_TO_GET = ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz "
              "(MD5 c32a1d4ab5d03f1284b67883e8d87530) and extract it")


def _files(data_dir):
    return pipeline.make_source("files", str(data_dir), allow_download=False)


def _train_config(train_dir, **overrides):
    values = dict(train_dir=str(train_dir), data_source="synthetic", max_steps=4, batch_size=8,
                  shuffle_buffer=16, log_frequency=2, save_checkpoint_steps=2,
                  num_parallel_calls=2)
    values.update(overrides)
    return training.TrainConfig(**values)


def _eval_config(checkpoint_dir, **overrides):
    values = dict(checkpoint_dir=str(checkpoint_dir), eval_dir=str(checkpoint_dir) + "-eval",
                  data_source="synthetic", run_once=True, num_examples=8, batch_size=8,
                  num_parallel_calls=2)
    values.update(overrides)
    return evaluation.EvalConfig(**values)


# --- data ------------------------------------------------------------------

def test_missing_data_dir(tmp_path):
    with pytest.raises(DataError) as error:
        _files(tmp_path / "nowhere")
    message = str(error.value)
    assert f"CIFAR-10 data not found: {tmp_path / 'nowhere'} does not exist" in message
    assert HOW_TO_GET in message and "--data_dir" in message and "--download" in message


def test_empty_data_dir(tmp_path):
    with pytest.raises(DataError) as error:
        _files(tmp_path)
    assert f"{tmp_path} is empty" in str(error.value) and HOW_TO_GET in str(error.value)


def test_truncated_file_names_the_file_and_the_record_size(tmp_path):
    data_dir = tmp_path / "cifar-10-batches-bin"
    write_cifar_files(str(data_dir), train_per_file=3, test=2)
    with open(data_dir / "data_batch_2.bin", "r+b") as f:
        f.truncate(RECORD_BYTES * 2 + 7)
    with pytest.raises(DataError) as error:
        training.Trainer(_train_config(tmp_path / "train", data_source="files",
                                       data_dir=str(data_dir), download=False))
    message = str(error.value)
    assert f"{data_dir / 'data_batch_2.bin'} is 6,153 bytes, not a whole number of 3,073-byte " \
           f"CIFAR-10 binary records (2 records and 7 bytes over)" in message
    assert f"delete the CIFAR-10 binary files in {data_dir} and rerun with --download" in message
    assert HOW_TO_GET in message


def test_file_that_is_not_cifar(tmp_path):
    data_dir = tmp_path / "cifar-10-batches-bin"
    write_cifar_files(str(data_dir), train_per_file=2, test=2)
    (data_dir / "test_batch.bin").write_text("<html>404 Not Found</html>\n")  # right name, text
    with pytest.raises(DataError, match="is 27 bytes, not a whole number of 3,073-byte") as error:
        _files(data_dir).dataset("test")
    assert "not CIFAR-10 binary data" in str(error.value) and HOW_TO_GET in str(error.value)
    # Random bytes of a whole number of records: the label bytes give it away.
    np.random.default_rng(0).integers(0, 256, RECORD_BYTES * 3, np.uint8).tofile(
        str(data_dir / "test_batch.bin"))
    with pytest.raises(DataError) as error:
        _files(data_dir).dataset("test")
    message = str(error.value)
    assert "test_batch.bin holds a label byte of" in message
    assert "CIFAR-10 binary label bytes are 0..9: this is not CIFAR-10 binary data" in message
    assert "rerun with --download" in message and HOW_TO_GET in message


# --- flags and configuration -----------------------------------------------

def test_unknown_model_and_dataset(tmp_path):
    flags.define_train_flags()
    with pytest.raises(absl_flags.IllegalFlagValueError,
                       match=r"flag --model=resnet99: value should be one of <alexnet\|"):
        absl_flags.FLAGS(["convnet.train", "--model=resnet99"])
    with pytest.raises(ValueError, match="unknown --model='resnet99': choose from alexnet, "):
        training.Trainer(_train_config(tmp_path, model="resnet99"))
    with pytest.raises(ValueError, match="unknown --dataset='cifar11': choose from cifar10, "
                                         "cifar100, mnist, fashion_mnist"):
        training.Trainer(_train_config(tmp_path, dataset="cifar11"))


@pytest.mark.parametrize("name, value", [("batch_size", 0), ("max_steps", -1)])
def test_non_positive_batch_size_and_max_steps(tmp_path, name, value):
    flags.define_train_flags()
    with pytest.raises(absl_flags.IllegalFlagValueError,
                       match=f"flag --{name}={value}: {value} is not a positive integer"):
        absl_flags.FLAGS(["convnet.train", f"--{name}={value}"])
    with pytest.raises(ValueError, match=f"--{name} must be positive, got {value}"):
        training.Trainer(_train_config(tmp_path, **{name: value}))
    if name == "batch_size":
        with pytest.raises(ValueError, match="--batch_size must be positive, got 0"):
            evaluation.Evaluator(_eval_config(tmp_path, batch_size=0))


# --- checkpoints -----------------------------------------------------------

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A train_dir of the tutorial model with ckpt-2 and ckpt-4, as a run writes them
    (without the training steps, to keep the tests fast)."""
    train_dir = tmp_path_factory.mktemp("run") / "train"
    trainer = training.Trainer(_train_config(train_dir))
    checkpointing.write_run_config(str(train_dir), trainer.run_config)
    for step in (2, 4):
        trainer.step.assign(step)
        trainer.manager.save(checkpoint_number=step)
    return train_dir


@pytest.fixture
def train_dir(trained, tmp_path):
    """A copy of `trained` that the test may damage."""
    return shutil.copytree(trained, tmp_path / "train")


def test_eval_without_a_checkpoint_through_the_cli(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "convnet.eval", "--run_once", f"--checkpoint_dir={empty}",
         f"--eval_dir={tmp_path / 'eval'}", "--data_source=synthetic"],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES=""))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert (f"error: no checkpoint found in {empty}: train first (python -m convnet.train "
            f"--train_dir={empty}) or point --checkpoint_dir at a train_dir.") in done.stderr


def test_checkpoint_of_another_model_or_number_of_classes(train_dir):
    with pytest.raises(CheckpointError) as error:  # run.json says what the run is
        evaluation.Evaluator(_eval_config(train_dir, model="baseline"))
    assert (f"{train_dir} holds checkpoints of another run: model='cifar10' (asked for "
            f"'baseline'). Pass the matching flags (--model=cifar10) to use that run, or a new "
            f"--train_dir/--checkpoint_dir for this one.") == str(error.value)
    os.remove(train_dir / "run.json")  # the variables themselves must not fit either
    with pytest.raises(CheckpointError) as error:
        training.Trainer(_train_config(train_dir, dataset="cifar100", max_steps=6)).train()
    message = str(error.value)
    assert f"cannot restore {train_dir / 'ckpt-4'}: it does not fit the model built here" in message
    assert "shape (10,)" in message and "(100,)" in message
    assert ("pass the --model, --dataset, --label_mode and --optimizer it was trained with"
            in message)


def test_corrupt_checkpoint_names_the_file_and_the_way_back(train_dir):
    data = train_dir / "ckpt-4.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:1000])
    with pytest.raises(CheckpointError) as error:
        training.Trainer(_train_config(train_dir, max_steps=6)).train()
    message = str(error.value)
    assert f"{data} is truncated or corrupt" in message
    assert ('To resume from the previous checkpoint, delete (or move away) '
            'ckpt-4.data-00000-of-00001 and ckpt-4.index and set model_checkpoint_path: "ckpt-2" '
            f'in {train_dir / "checkpoint"}') in message
    (train_dir / "ckpt-4.index").write_bytes(os.urandom(300))  # a garbage index, in evaluation
    with pytest.raises(CheckpointError, match=r"ckpt-4\.index is corrupt \(.*\)\. To resume "):
        evaluation.Evaluator(_eval_config(train_dir)).run()
    # Following the advice: deleting the files alone is not enough, and says so ...
    for name in ("ckpt-4.index", "ckpt-4.data-00000-of-00001"):
        os.remove(train_dir / name)
    with pytest.raises(CheckpointError, match=r"names .*ckpt-4, but .*ckpt-4\.index is missing\. "
                                              r"To resume from the previous checkpoint, set "
                                              r'model_checkpoint_path: "ckpt-2"'):
        training.Trainer(_train_config(train_dir, max_steps=6)).train()
    # ... and pointing the state file at the previous checkpoint resumes from it.
    (train_dir / "checkpoint").write_text('model_checkpoint_path: "ckpt-2"\n')
    assert training.Trainer(_train_config(train_dir, max_steps=6)).restore() == 2
