"""Bad input gets a clear error: each message names the problem and the way out.

One test per kind of bad input. Elsewhere: the download cases (MD5 mismatch,
404, offline, a transfer cut short) are in tests/data/sources/test_download.py, against a
server on 127.0.0.1; a truncated file and missing data through the real CLI in
tests/runtime/test_cli.py::test_bad_data_gets_one_clear_line.
"""

import errno
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from absl import flags as absl_flags

from convnet import evaluation, training
from convnet.checkpoints import files as checkpoint_files
from convnet.checkpoints import run_record
from convnet.data.sources import download
from convnet.data.sources.spec import SourceSpec, make_source
from convnet.evaluation import evaluator
from convnet.runtime import options, paths
from convnet.runtime.errors import BatchSizeError, CheckpointError, DataError, OutputDirError
from convnet.serving import checkpoint_export as export
from convnet.serving import loaded_model
from convnet.training import memory

import kill_harness
from conftest import RECORD_BYTES, write_cifar_files
from fake_data import write_cifar100_binary, write_cifar_python, write_mnist

HOW_TO_GET = ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz "
              "(MD5 c32a1d4ab5d03f1284b67883e8d87530) and extract it")


def _files(data_dir):
    return make_source(SourceSpec("files", str(data_dir), download=False))


def _train_config(train_dir, **overrides):
    values = dict(train_dir=str(train_dir), data_source="synthetic", max_steps=4, batch_size=8,
                  shuffle_buffer=16, log_frequency=2, save_checkpoint_steps=2,
                  num_parallel_calls=2)
    values.update(overrides)
    return training.TrainConfig.from_settings(**values)


def _eval_config(checkpoint_dir, **overrides):
    values = dict(checkpoint_dir=str(checkpoint_dir), eval_dir=str(checkpoint_dir) + "-eval",
                  data_source="synthetic", run_once=True, num_examples=8, batch_size=8,
                  num_parallel_calls=2)
    values.update(overrides)
    return evaluation.EvalConfig.from_settings(**values)


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
    with pytest.raises(ValueError, match="unknown --model='resnet99': choose from alexnet, .*, "
                                         "or give an import path package.module:factory"):
        training.Trainer(_train_config(tmp_path, model="resnet99"))
    with pytest.raises(ValueError, match="unknown --dataset='cifar11': choose from cifar10, "
                                         "cifar100, mnist, fashion_mnist"):
        training.Trainer(_train_config(tmp_path, dataset="cifar11"))


@pytest.mark.parametrize("name, value", [("batch_size", 0), ("max_steps", -1)])
def test_non_positive_batch_size_and_max_steps(tmp_path, name, value):
    options.define_flags(training.TrainConfig)
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
    run_record.write(str(train_dir), trainer.record)
    for step in (2, 4):
        trainer.state.step.assign(step)
        trainer.checkpoints.manager.save(checkpoint_number=step)
    return train_dir


@pytest.fixture
def train_dir(trained, tmp_path):
    """A copy of `trained` that the test may damage."""
    return shutil.copytree(trained, tmp_path / "train")


@pytest.mark.slow
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
    assert "variables of another shape: " in message and "[10] (here [100])" in message
    assert ("pass the --model, --dataset, --label_mode and --optimizer it was trained with"
            in message)


def test_corrupt_checkpoint_names_the_file_and_the_way_back(train_dir):
    # --norestore_fallback: the strict stop (the fallback: tests/checkpoints/test_restore.py).
    data = train_dir / "ckpt-4.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:1000])
    with pytest.raises(CheckpointError) as error:
        training.Trainer(_train_config(train_dir, max_steps=6, restore_fallback=False)).train()
    message = str(error.value)
    assert f"{data} is truncated or corrupt" in message
    assert ('To resume from the previous checkpoint, delete (or move away) '
            'ckpt-4.data-00000-of-00001 and ckpt-4.index and set model_checkpoint_path: "ckpt-2" '
            f'in {train_dir / "checkpoint"}') in message
    (train_dir / "ckpt-4.index").write_bytes(os.urandom(300))  # a garbage index, in evaluation
    with pytest.raises(CheckpointError, match=r"ckpt-4\.index is corrupt \(.*\)\. To resume "):
        evaluation.Evaluator(_eval_config(train_dir, restore_fallback=False)).run()
    # Following the advice: deleting the files alone is not enough, and says so ...
    for name in ("ckpt-4.index", "ckpt-4.data-00000-of-00001"):
        os.remove(train_dir / name)
    with pytest.raises(CheckpointError, match=r"names .*ckpt-4, but .*ckpt-4\.index is missing\. "
                                              r"To resume from the previous checkpoint, set "
                                              r'model_checkpoint_path: "ckpt-2"'):
        training.Trainer(_train_config(train_dir, max_steps=6, restore_fallback=False)).train()
    # ... and pointing the state file at the previous checkpoint resumes from it.
    (train_dir / "checkpoint").write_text('model_checkpoint_path: "ckpt-2"\n')
    resumed = training.Trainer(_train_config(train_dir, max_steps=6, restore_fallback=False))
    assert resumed.restore() == 2


# --- a --data_dir that is a file, or holds another dataset ---------------------

def test_data_dir_that_is_a_file(tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not data\n")
    for allow_download in (True, False):  # refused before any download, or "does not exist"
        with pytest.raises(DataError) as error:
            make_source(SourceSpec("files", str(a_file), download=allow_download))
        assert str(error.value) == (
            f"--data_dir={a_file} is a file, not a directory: pass the directory holding the "
            f"CIFAR-10 binary files (or its parent), or a new directory to download them into.")
    with pytest.raises(DataError, match=re.escape(
            f"--data_dir={a_file / 'sub'} is inside {a_file}, which is a file, not a directory")):
        make_source(SourceSpec("files", str(a_file / "sub")))
    data_file = tmp_path / "cifar-10-batches-bin" / "data_batch_1.bin"  # a data file itself
    write_cifar_files(str(data_file.parent), train_per_file=1, test=1)
    with pytest.raises(DataError, match=re.escape(
            f"is a file, not a directory: pass the directory holding it, "
            f"--data_dir={data_file.parent}.")):
        make_source(SourceSpec("files", str(data_file), dataset="cifar100"))
    with pytest.raises(DataError, match=r"^cannot download the CIFAR-10 binary files into "
                                        r"/proc/convnet_test_x/cifar-10-batches-bin: \[Errno 2\] "):
        make_source(SourceSpec("files", "/proc/convnet_test_x"))  # nor one that cannot be created


def test_data_dir_holding_another_dataset_is_named_before_any_download(tmp_path, monkeypatch):
    def no_download(url, path):
        raise AssertionError(f"tried to download {url}")

    monkeypatch.setattr(download, "fetch", no_download)
    way_out = "to read them, or a --data_dir holding the {} files (or a new directory to " \
              "download them into)."
    cases = [  # (writer, data source, dataset asked for, what is there, flag, asked for)
        (write_cifar_files, "files", "mnist", "CIFAR-10 binary", "--dataset=cifar10", "MNIST IDX"),
        (write_mnist, "files", "cifar10", "MNIST IDX or Fashion-MNIST IDX",
         "--dataset=mnist or --dataset=fashion_mnist", "CIFAR-10 binary"),
        (write_cifar100_binary, "files", "cifar10", "CIFAR-100 binary", "--dataset=cifar100",
         "CIFAR-10 binary"),
        (write_cifar_python, "cifar_binary", "cifar10", "CIFAR-10 python",
         "--data_source=files", "CIFAR-10 binary"),
    ]
    for number, (writer, data_source, dataset, found, flag, wanted) in enumerate(cases):
        data_dir = tmp_path / str(number)
        writer(str(data_dir))
        with pytest.raises(DataError) as error:
            make_source(SourceSpec(data_source, str(data_dir), dataset=dataset))
        assert str(error.value) == (f"{data_dir} holds {found} files, not {wanted}: pass {flag} "
                                    f"{way_out.format(wanted)}")
    # A parent of several datasets' directories is fine (a download would go beside them);
    # when the data is missing, the message says what is there.
    parent = tmp_path / "data"
    write_cifar_files(str(parent / "cifar-10-batches-bin"), train_per_file=1, test=1)
    with pytest.raises(DataError, match=re.escape(
            f"MNIST data not found: {parent} holds no MNIST IDX files (CIFAR-10 binary files "
            f"are in {parent / 'cifar-10-batches-bin'}: --dataset=cifar10 reads them).")):
        make_source(SourceSpec("files", str(parent), download=False, dataset="mnist"))


# --- a --train_dir / --eval_dir / --export_dir that cannot be created or written -----

def test_output_dir_that_cannot_be_created_or_written(tmp_path, monkeypatch):
    def never_built(*args, **kwargs):
        raise AssertionError("the directory is checked before the data and model are built")

    monkeypatch.setattr(training.TrainingSetup, "__init__", never_built)
    monkeypatch.setattr(evaluation, "Evaluator", never_built)
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    with pytest.raises(OutputDirError) as error:
        training.train(_train_config(a_file / "train"))
    assert str(error.value) == (f"cannot create --train_dir={a_file / 'train'}: {a_file} is a "
                                f"file, not a directory. Pass another --train_dir (a directory; "
                                f"it is created if missing).")
    with pytest.raises(OutputDirError) as error:
        training.train(_train_config("/proc/convnet_test_x"))
    assert str(error.value) == ("cannot create --train_dir=/proc/convnet_test_x: [Errno 2] No "
                                "such file or directory. Pass a --train_dir in a place you can "
                                "write to.")
    with pytest.raises(OutputDirError, match=r"^cannot create --eval_dir=/proc/convnet_test_x/e: "
                                             r"\[Errno 2\] No such file or directory\."):
        evaluation.evaluate(_eval_config(tmp_path, eval_dir="/proc/convnet_test_x/e"))
    with pytest.raises(OutputDirError, match=re.escape(
            f"cannot create the directory of --export_dir={a_file / 'x' / 'export'}: {a_file} "
            f"is a file")):  # before looking for a checkpoint, which is not there either
        export.export(str(tmp_path / "no_checkpoints"), str(a_file / "x" / "export"))

    def read_only(*args, **kwargs):  # root writes through chmod: fake the file system's refusal
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.path.join(kwargs["dir"], "x"))

    monkeypatch.setattr(paths.tempfile, "mkstemp", read_only)
    with pytest.raises(OutputDirError) as error:
        training.train(_train_config(tmp_path / "mounted_read_only"))
    assert str(error.value) == (f"cannot write in --train_dir={tmp_path / 'mounted_read_only'}: "
                                f"[Errno 30] Read-only file system. Pass a --train_dir in a place "
                                f"you can write to.")


# --- a --batch_size too large ------------------------------------------------------
# (The estimate itself, convnet.training.memory: tests/training/test_memory.py.)

def test_trainer_refuses_a_huge_batch_before_building_the_pipeline(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 8 * 2 ** 30)
    monkeypatch.setattr(memory, "on_accelerator", lambda: False)
    with pytest.raises(BatchSizeError) as error:
        training.Trainer(_train_config(tmp_path, batch_size=100_000_000))
    # 24x24x3 crops; the tutorial model's activations: 76,618 values an example.
    assert str(error.value) == (
        "--batch_size=100000000 is larger than the 50,000 examples of the cifar10 training split "
        "(each batch would hold some examples more than once) and needs about 29.8 TiB of memory "
        "(3 input batches 1.9 TiB; activations 27.9 TiB, 76,618 float32 values an example), but "
        "8.0 GiB is available: use --batch_size=26252 or less.")


# --- convnet.eval without run.json ---------------------------------------------------

def test_eval_without_run_json_says_so_or_waits_for_it_in_loop_mode(train_dir, monkeypatch,
                                                                    capsys):
    record = run_record.read(str(train_dir))
    os.remove(train_dir / "run.json")
    message = (f"no run.json in {train_dir}: point --checkpoint_dir at a train_dir written by "
               f"convnet.train (it records the model and dataset there).")
    with pytest.raises(CheckpointError) as error:
        evaluation.Evaluator(_eval_config(train_dir))
    assert str(error.value) == message
    with pytest.raises(CheckpointError) as error:
        loaded_model.load(str(train_dir))
    assert str(error.value) == message
    assert evaluation.evaluate(_eval_config(train_dir, model="cifar10")).step == 4  # the flags

    sleeps = []

    def trainer_starts(seconds):
        sleeps.append(seconds)
        run_record.write(str(train_dir), record)

    monkeypatch.setattr(evaluator.time, "sleep", trainer_starts)
    capsys.readouterr()
    result = evaluation.evaluate(_eval_config(train_dir, run_once=False, eval_interval_secs=7))
    assert sleeps[0] == 7 and result.step == 4
    assert capsys.readouterr().out.count(
        f": waiting for {train_dir / 'run.json'} (written by convnet.train when it starts)\n") == 1


# --- Ctrl-C ----------------------------------------------------------------------------

@pytest.mark.slow
def test_ctrl_c_is_acknowledged_mid_round_and_a_second_stops_at_once(tmp_path):
    """A checkpoint at step ROUND - 1, so the run resumed from it saves ckpt-ROUND after one step
    and then starts a round of ROUND steps (far longer than the test): the signals land in it."""
    data_dir = kill_harness.write_data(str(tmp_path / "data"))
    train_dir = str(tmp_path / "train")
    round_steps = 1_000_000
    trainer = training.Trainer(training.TrainConfig.from_settings(
        train_dir=train_dir, model="lenet5", dataset="mnist", data_dir=data_dir, download=False,
        batch_size=8, num_parallel_calls=1, shuffle_buffer=64, optimizer="sgd", momentum=0.9))
    run_record.write(train_dir, trainer.record)
    trainer.state.step.assign(round_steps - 1)
    trainer.checkpoints.manager.save(checkpoint_number=round_steps - 1)
    trainer.close()  # its writer lock: the training process below takes it
    saved = os.path.join(train_dir, f"ckpt-{round_steps}")
    extra = [f"--log_frequency={round_steps}", f"--save_checkpoint_steps={round_steps}"]
    process = kill_harness.Process(kill_harness.train_command(
        train_dir, data_dir, max_steps=3 * round_steps, extra=extra))
    try:
        deadline = time.monotonic() + kill_harness.LIFE_TIMEOUT_SECS
        while True:
            line = process.readline(deadline)
            assert line is not None, process.tail()
            if line.endswith(f"saved checkpoint {saved}"):
                break
        time.sleep(2)  # the next round starts within a millisecond of that line; be generous
        process.popen.send_signal(signal.SIGINT)
        acknowledged = process.readline(time.monotonic() + 120) or ""
        assert acknowledged.endswith(": SIGINT received: saving a checkpoint at the end of this "
                                     "round of steps (SIGINT again to stop at once)"), \
            process.tail()
        assert process.popen.poll() is None  # still inside its round
        process.popen.send_signal(signal.SIGINT)
        status = process.drain(timeout=120)
    finally:
        process.close()
    assert status == 130, process.tail()
    assert process.lines[-1].endswith(
        f": second SIGINT: stopping now without saving; the last checkpoint, {saved}, is intact: "
        f"run the same command to resume from it."), process.tail()
    assert "Traceback" not in "\n".join(process.lines)
    assert checkpoint_files.latest_checkpoint(train_dir) == saved
    assert int(kill_harness.read_checkpoint(saved)[kill_harness.STEP_KEY]) == round_steps
