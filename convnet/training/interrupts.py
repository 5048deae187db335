"""SIGTERM/SIGINT acknowledged at once, even while the main thread is inside TensorFlow.

Python runs a signal handler only when the main thread returns to the
interpreter, so during a long `tf.function` call (a round of training steps)
Ctrl-C went unanswered until the round ended, and a second Ctrl-C could not
stop the run either. `stop_on_signals` instead has the C-level handler write
the signal number to a pipe (`signal.set_wakeup_fd`) that a small daemon thread
reads; TensorFlow releases the GIL inside its ops, so the thread runs at once:

- the first SIGTERM or SIGINT: logs `<SIG> received: saving a checkpoint at
  the end of this round of steps (SIGINT again to stop at once)` and calls
  `request_stop(signum)`; the training loop saves and stops after the round;
- a second SIGINT: logs one line naming the last checkpoint (intact: every
  checkpoint is written atomically, so an exit at any moment loses only the
  steps since it) and ends the process at once with `os._exit(130)` (128 +
  SIGINT), after flushing stdout and stderr;
- further SIGTERMs are ignored: the stop is already under way.

The Python-level handlers stay installed (and do nothing), so SIGINT never
raises KeyboardInterrupt meanwhile; the previous handlers and wakeup fd are
restored when the block ends. Only the main thread can install handlers:
elsewhere the block does nothing.
"""

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable

from convnet.runtime import console

SIGNALS = (signal.SIGTERM, signal.SIGINT)
# Exit status of the second SIGINT, as a shell reports a process killed by SIGINT.
SECOND_SIGINT_EXIT = 128 + signal.SIGINT


def _ignore(signum, frame):  # pylint: disable=unused-argument
    """The Python-level handler: the watcher thread does the work."""


class _Watcher:
    """Reads signal numbers from the wakeup pipe in a daemon thread and acts on them."""

    def __init__(self, read_fd: int, request_stop: Callable[[int], None],
                 last_checkpoint: Callable[[], str | None]):
        self._read_fd = read_fd
        self._request_stop = request_stop
        self._last_checkpoint = last_checkpoint
        self.received: int | None = None
        self.thread = threading.Thread(target=self._run, name="convnet-signal-watcher",
                                       daemon=True)

    def _run(self) -> None:
        while True:
            try:
                data = os.read(self._read_fd, 64)
            except OSError:
                return
            if not data:  # the write end was closed: the block ended
                return
            for signum in data:
                if signum in SIGNALS:
                    self._handle(signum)

    def _handle(self, signum: int) -> None:
        if self.received is None:
            self.received = signum
            self._request_stop(signum)
            console.log(f"{signal.Signals(signum).name} received: saving a checkpoint at the end "
                        f"of this round of steps (SIGINT again to stop at once)")
        elif signum == signal.SIGINT:
            self._stop_now()

    def _stop_now(self) -> None:
        try:
            path = self._last_checkpoint()
        except Exception:  # noqa: BLE001 -- saying which checkpoint is a courtesy
            path = None
        kept = (f"the last checkpoint, {path}, is intact: run the same command to resume from it"
                if path else "no checkpoint had been written yet")
        console.log(f"second SIGINT: stopping now without saving; {kept}.")
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(SECOND_SIGINT_EXIT)  # pylint: disable=protected-access


@contextlib.contextmanager
def stop_on_signals(request_stop: Callable[[int], None],
                    last_checkpoint: Callable[[], str | None] = lambda: None):
    """Within the block, SIGTERM/SIGINT call `request_stop(signum)` at once (see the module
    docstring); a second SIGINT exits with 130, naming `last_checkpoint()`."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)  # the C handler must never block
    watcher = _Watcher(read_fd, request_stop, last_checkpoint)
    previous_handlers = {}
    previous_fd = None
    try:
        previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        previous_handlers = {s: signal.signal(s, _ignore) for s in SIGNALS}
        watcher.thread.start()
        yield
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
        if previous_fd is not None:
            signal.set_wakeup_fd(previous_fd)
        os.close(write_fd)  # the watcher reads end-of-file and returns
        if watcher.thread.is_alive():
            watcher.thread.join(timeout=5)
        os.close(read_fd)
