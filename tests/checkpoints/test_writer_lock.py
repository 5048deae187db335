"""One writer per train_dir (convnet.checkpoints.writer_lock): a second trainer is refused before it
reads or writes anything; a killed holder's lock is gone at once; readers never take it."""

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from convnet import training
from convnet.checkpoints import writer_lock
from convnet.runtime import distribute
from convnet.runtime.errors import TrainDirInUseError

from helpers import REPO

TRAIN = [sys.executable, "-m", "convnet.train", "--model=lenet5", "--data_source=synthetic",
         "--batch_size=16", "--log_frequency=1", "--save_checkpoint_steps=2"]


def _snapshot(directory):
    """Every path under `directory` with its size and modification time (ns)."""
    found = {}
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = os.path.join(root, name)
            info = os.stat(path)
            found[os.path.relpath(path, directory)] = (info.st_size, info.st_mtime_ns)
    found["."] = os.stat(directory).st_mtime_ns
    return found


def _wait_for(predicate, what, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _holder_pid(train_dir):
    try:
        with open(os.path.join(train_dir, writer_lock.LOCK_FILE), encoding="utf-8") as f:
            return json.load(f)["pid"]
    except (OSError, ValueError, KeyError):
        return None


@pytest.mark.slow
def test_a_second_trainer_is_refused_and_writes_nothing_and_a_killed_holder_resumes_at_once(
        tmp_path):
    train_dir = str(tmp_path / "dup")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    first = subprocess.Popen(TRAIN + ["--max_steps=1000000", f"--train_dir={train_dir}"],
                             cwd=REPO, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        # Let it save a checkpoint, then freeze it: it holds the lock and writes nothing more.
        _wait_for(lambda: os.path.exists(os.path.join(train_dir, "ckpt-2.index")),
                  "the first trainer's first checkpoint")
        assert _holder_pid(train_dir) == first.pid
        first.send_signal(signal.SIGSTOP)
        before = _snapshot(train_dir)
        second = subprocess.run(TRAIN + ["--max_steps=60", f"--train_dir={train_dir}"], cwd=REPO,
                                env=env, capture_output=True, text=True, timeout=300)
        assert second.returncode == 1
        assert second.stdout == ""  # it read no data, built no model, said nothing else
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert lines[0].startswith(f"error: --train_dir={train_dir} is being written by another "
                                   f"training run: pid {first.pid} on host "
                                   f"{socket.gethostname()}, started ")
        assert "python -m convnet.train --model=lenet5" in lines[0] or \
            "convnet/train.py --model=lenet5" in lines[0]
        assert "Only one process may write a train_dir" in lines[0]
        assert _snapshot(train_dir) == before  # nothing written, not even a time changed
        # A SIGKILLed holder leaves no stale lock: the rerun takes over at once.
        first.kill()
        first.wait(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    # The rerun (here in this process) takes the lock at once and resumes.
    config = training.TrainConfig.from_settings(
        train_dir=train_dir, model="lenet5", data_source="synthetic", batch_size=16,
        log_frequency=1, save_checkpoint_steps=2)
    with training.Trainer(dataclasses.replace(config, max_steps=6)) as resumed:
        assert _holder_pid(train_dir) == os.getpid()  # the rerun's record
        start = resumed.restore()
        assert start >= 2 and resumed.train() == 6


def test_a_lock_held_by_another_process_is_named_and_freed_when_it_dies(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys
            sys.argv = ["convnet-train", "--train_dir={tmp_path}"]
            sys.path.insert(0, {REPO!r})
            from convnet.checkpoints import writer_lock
            lock = writer_lock.acquire({str(tmp_path)!r})
            print("held", flush=True)
            sys.stdin.read()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(TrainDirInUseError) as error:
            writer_lock.acquire(str(tmp_path))
        message = str(error.value)
        assert f"pid {holder.pid} on host {socket.gethostname()}, started " in message
        assert f"convnet-train --train_dir={tmp_path})" in message
    finally:
        holder.kill()
        holder.wait()
    with writer_lock.acquire(str(tmp_path)) as lock:  # the kernel freed it with the process
        assert lock.held
        record = json.loads((tmp_path / writer_lock.LOCK_FILE).read_text())
        assert record["pid"] == os.getpid() and record["host"] == socket.gethostname()
    assert not lock.held


@pytest.mark.slow
def test_two_trainers_of_one_process_on_one_train_dir(tmp_path):
    config = training.TrainConfig.from_settings(train_dir=str(tmp_path / "t"), model="lenet5",
                                                data_source="synthetic", max_steps=2, batch_size=8,
                                                save_checkpoint_steps=2)
    first = training.Trainer(config)
    with pytest.raises(TrainDirInUseError, match="held by another Trainer of this process: let "
                                                 "its train\\(\\) end or call its close\\(\\)"):
        training.Trainer(config)
    assert first.train() == 2  # train() releases the lock at its end
    with training.Trainer(config) as second:
        assert second.train() == 2
    # A Trainer that fails while it is made releases the lock too.
    with pytest.raises(ValueError, match="--variable_groups"):
        training.Trainer(config.with_settings(variable_groups="nope:"))
    training.Trainer(config).close()


def test_a_lock_dropped_without_release_frees_the_train_dir_when_collected(tmp_path):
    import gc
    lock = writer_lock.hold(str(tmp_path))
    assert lock.held
    with pytest.raises(TrainDirInUseError):
        writer_lock.hold(str(tmp_path))
    del lock
    gc.collect()  # the finalizer closed the descriptor: the kernel released the flock
    again = writer_lock.hold(str(tmp_path))
    assert again.held
    again.release()
    again.release()  # a second release does nothing
    assert not again.held


def test_the_holder_described_from_whatever_the_file_holds():
    record = {"pid": 7, "host": "h", "started": "2026-12-02T10:00:00", "command": "python x"}
    assert writer_lock.describe_holder(json.dumps(record)) == \
        "pid 7 on host h, started 2026-12-02T10:00:00 (python x)"
    for text in ("", "\x00\x01garbage", '{"pid": "x"}', "[]"):
        assert writer_lock.describe_holder(text) == \
            "another process (it has not written its details yet)"


MOUNTINFO = textwrap.dedent("""\
    22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
    40 22 0:50 / /mnt/nfs rw,relatime shared:2 - nfs4 server:/export rw,vers=4.2,local_lock=none
    41 22 0:51 / /mnt/nolock rw,relatime shared:3 - nfs server:/x rw,vers=3,nolock,local_lock=all
    42 22 0:52 / /mnt/flock rw,relatime shared:4 - nfs4 server:/y rw,local_lock=flock
    43 22 0:53 / /mnt/smb rw,relatime shared:5 - cifs //server/share rw
    44 40 0:54 / /mnt/nfs/scratch rw,relatime shared:6 - tmpfs tmpfs rw
    45 22 0:55 / /mnt/with\\040space rw shared:7 - nfs server:/z rw,nolock
""")


@pytest.mark.parametrize("path, expected", [
    ("/home/me/train", None),
    ("/mnt/nfs/run", None),  # NFS with network locks (lockd)
    ("/mnt/nfs/scratch/run", None),  # a local mount inside it
    ("/mnt/nolock/run", "NFS mount without network locks (nfs, nolock)"),
    ("/mnt/flock/run", "NFS mount without network locks (nfs4, local_lock)"),
    ("/mnt/smb/run", "network file system (cifs) whose locks may not reach other machines"),
    ("/mnt/with space/run", "NFS mount without network locks (nfs, nolock)"),
])
def test_a_mount_that_does_not_honour_locks_across_machines_is_named(path, expected,
                                                                      monkeypatch):
    monkeypatch.setattr(os.path, "realpath", lambda p: p)
    warning = writer_lock.network_warning(path, MOUNTINFO)
    if expected is None:
        assert warning is None
    else:
        assert warning.startswith(f"warning: {path} is on ") and expected in warning


@pytest.mark.parametrize("tf_config, chief", [
    (None, True),
    ({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}, True),
    ({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}, False),
    ({"cluster": {"chief": ["c:0"], "worker": ["a:1"]}, "task": {"type": "worker", "index": 0}},
     False),
    ({"cluster": {"chief": ["c:0"], "worker": ["a:1"]}, "task": {"type": "chief", "index": 0}},
     True),
])
def test_under_multi_worker_only_the_chief_takes_the_lock(tf_config, chief):
    environ = {} if tf_config is None else {"TF_CONFIG": json.dumps(tf_config)}
    assert distribute.is_chief_task("multi_worker", environ) is chief
    assert distribute.is_chief_task("mirrored", environ) is True
