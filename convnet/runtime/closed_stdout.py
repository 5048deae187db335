"""A main goes on when its stdout is closed early (`convnet.eval ... | head -3`, a `tee` that
died): the first write that finds the pipe gone points stdout at /dev/null, and the run still
writes its checkpoints, summaries and files; only the lines nobody reads are dropped.

Python's default is a BrokenPipeError at the next `print`, which would end a training
run or an evaluation before it wrote anything (SIGPIPE is ignored by Python, so the
write fails instead of killing the process).
"""

import os
import sys


class _ForgivingStdout:
    """`sys.stdout` whose write and flush turn a closed pipe into /dev/null once."""

    def __init__(self, stream):
        self._stream = stream

    def _to_devnull(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())  # the interpreter's last flush succeeds too
        finally:
            os.close(devnull)

    def write(self, text):
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._to_devnull()
            return len(text)

    def flush(self):
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._to_devnull()
            try:
                self._stream.flush()  # the buffered rest now goes to /dev/null
            except BrokenPipeError:
                pass

    def __getattr__(self, name):
        return getattr(self._stream, name)


def tolerate() -> None:
    """Makes `sys.stdout` forgive a closed pipe (once per process; mains only)."""
    if not isinstance(sys.stdout, _ForgivingStdout):
        sys.stdout = _ForgivingStdout(sys.stdout)
