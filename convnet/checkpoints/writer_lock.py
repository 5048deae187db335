"""One writer per train_dir: an exclusive OS lock held by the training run for its whole life.

Two trainers on one train_dir (two terminals; a scheduler that retries a job
while the first attempt still runs) would write `ckpt-N` files under the same
names, two event files and one state file: two trajectories interleaved. So
`convnet.train` takes `fcntl.flock(LOCK_EX | LOCK_NB)` on `train_dir/writer.lock`
before it reads data or writes anything, and holds it until it ends. The kernel
releases such a lock when its process ends in any way (SIGKILL included), so a
killed run never leaves a stale lock: its rerun takes the lock at once.

The holder writes who it is into the file (pid, host, start time, command); a
second writer gets `TrainDirInUseError` naming them, having written nothing.
The file stays after the run (deleting it would race with a new holder); its
contents mean nothing unless its lock is held. Readers (eval, predict, export,
report, compare's evaluation) never take it. Under multi_worker only the chief
takes it (convnet.training).

Where locks are not honoured across machines (NFS mounted with `nolock` or
`local_lock`, and file systems that emulate locks per client), two runs on one
host still exclude each other, but runs on two hosts do not: `network_warning`
names such a mount, and the trainer prints it.
"""

import datetime
import errno
import fcntl
import json
import os
import shlex
import socket
import sys
import weakref

from convnet.runtime import console, paths
from convnet.runtime.errors import TrainDirInUseError

LOCK_FILE = "writer.lock"
# File systems whose locks may not reach other machines (Linux /proc/self/mountinfo types).
NETWORK_FILE_SYSTEMS = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "afs",
                        "glusterfs", "fuse.glusterfs", "lustre", "fuse.s3fs", "fuse.gcsfuse")


class TrainDirLock:
    """The held lock of one train_dir; `release()` (or the end of the process) frees it."""

    def __init__(self, train_dir: str, fd: int | None, problem: str | None = None):
        self.train_dir = train_dir
        self.problem = problem  # why no lock is held (a file system without locks), or None
        # Closing the last descriptor of the file releases the flock: on `release()`, or when
        # this object is garbage-collected unreleased (a Trainer dropped without close()).
        self._close = weakref.finalize(self, os.close, fd) if fd is not None else None

    @property
    def held(self) -> bool:
        return self._close is not None and self._close.alive

    def release(self) -> None:
        if self._close is not None:
            self._close()  # closes the descriptor once; later calls do nothing

    def __enter__(self) -> "TrainDirLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def holder_record() -> dict:
    """Who this process is: pid, host, start time (local, ISO 8601) and command line."""
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "started": datetime.datetime.now().isoformat(timespec="seconds"),
            "command": shlex.join([os.path.basename(sys.executable), *sys.argv])
            if sys.argv and sys.argv[0] else os.path.basename(sys.executable)}


def describe_holder(text: str) -> str:
    """The holder in words, from the lock file's text (anything: it may be half written)."""
    try:
        holder = json.loads(text)
        return (f"pid {int(holder['pid'])} on host {holder['host']}, started "
                f"{holder['started']} ({holder['command']})")
    except (ValueError, KeyError, TypeError):
        return "another process (it has not written its details yet)"


def _holder_pid(text: str) -> int | None:
    try:
        return int(json.loads(text)["pid"])
    except (ValueError, KeyError, TypeError):
        return None


def acquire(train_dir: str) -> TrainDirLock:
    """Takes the writer lock of `train_dir` (which must exist), or raises.

    Raises:
      TrainDirInUseError: another process holds it; the message names that process.
    """
    path = os.path.join(train_dir, LOCK_FILE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            os.close(fd)  # ENOLCK, EOPNOTSUPP: this file system offers no lock at all
            return TrainDirLock(train_dir, None, f"warning: {train_dir} cannot be locked "
                                f"({os.strerror(e.errno)}): nothing keeps a second training "
                                f"run out of it; start only one.")
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        os.close(fd)
        if _holder_pid(text) == os.getpid():
            raise TrainDirInUseError(
                f"--train_dir={train_dir} is held by another Trainer of this process: let its "
                f"train() end or call its close() before making a new one there.") from None
        holder = describe_holder(text)
        raise TrainDirInUseError(
            f"--train_dir={train_dir} is being written by another training run: {holder}. "
            f"Only one process may write a train_dir: wait for that run to end (or stop it), "
            f"or pass another --train_dir.") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder_record()) + "\n").encode("utf-8"), 0)
    except OSError:  # a full disk: the lock holds all the same, only the details are lost
        pass
    return TrainDirLock(train_dir, fd)


def _mount_of(path: str, mountinfo: str):
    """(file system type, mount options) of the mount holding `path`, from the text of
    /proc/self/mountinfo; None when no line covers it."""
    best = None
    for line in mountinfo.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 10:
            continue
        left, right = line.split(" - ", 1)
        mount_point = left.split()[4].replace("\\040", " ")
        fs_type, _source, super_options = (right.split() + ["", ""])[:3]
        options = left.split()[5] + "," + super_options
        inside = path == mount_point or path.startswith(mount_point.rstrip("/") + "/")
        if inside and (best is None or len(mount_point) >= len(best[0])):
            best = (mount_point, fs_type, options)
    return best[1:] if best else None


def network_warning(train_dir: str, mountinfo: str | None = None) -> str | None:
    """A line saying that `train_dir`'s file system may not honour the lock across machines
    (None on a local file system, or where the mounts cannot be read)."""
    if mountinfo is None:
        try:
            with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
                mountinfo = f.read()
        except OSError:
            return None
    mount = _mount_of(os.path.realpath(train_dir), mountinfo)
    if mount is None:
        return None
    fs_type, options = mount
    option_set = set(options.split(","))
    if fs_type.startswith("nfs") and ("nolock" in option_set or any(
            option.startswith("local_lock=") and option != "local_lock=none"
            for option in option_set)):
        return (f"warning: {train_dir} is on an NFS mount without network locks ({fs_type}, "
                f"{'nolock' if 'nolock' in option_set else 'local_lock'}): the one-writer lock "
                f"keeps out other runs on this host only; start no run of this train_dir on "
                f"another machine while this one runs.")
    if fs_type in NETWORK_FILE_SYSTEMS and not fs_type.startswith("nfs"):
        return (f"warning: {train_dir} is on a network file system ({fs_type}) whose locks may "
                f"not reach other machines: the one-writer lock surely keeps out other runs on "
                f"this host only.")
    return None


def hold(train_dir: str) -> TrainDirLock | None:
    """What the trainer calls first: creates `train_dir` if needed and takes its writer lock
    (`acquire`), printing a line where the lock cannot keep every other writer out; checks
    that the directory can be written. None for a remote path (gs://...: no OS lock there).

    Raises:
      TrainDirInUseError: another process trains in `train_dir`.
      OutputDirError: `train_dir` cannot be created or written.
    """
    if "://" in train_dir:
        console.log(f"warning: {train_dir} is not a local path: no lock keeps a second training "
                    f"run out of it; start only one.")
        return None
    if not os.path.isdir(train_dir):
        paths.ensure_writable_dir(train_dir, "--train_dir")
    try:
        lock = acquire(train_dir)
    except PermissionError:
        paths.ensure_writable_dir(train_dir, "--train_dir")  # names the problem
        raise
    for warning in (lock.problem, network_warning(train_dir)):
        if warning:
            console.log(warning)
    paths.ensure_writable_dir(train_dir, "--train_dir")
    return lock
