"""Lines on stdout: timestamped messages, and the progress of long work.

`log` prints in the tutorial's format (`2016-...: step 120, loss = ...`);
`Progress` logs how far long work without other log lines has got (downloads,
reading and decoding data, channel statistics, evaluation).
"""

import datetime
import time
from collections.abc import Callable


def log(message: str) -> None:
    print(f"{datetime.datetime.now():%Y-%m-%d %H:%M:%S}: {message}", flush=True)


# Progress lines are plain log lines (no '\r'), so they read the same in a terminal and a log file.
PROGRESS_INTERVAL_SECS = 5.0


class Progress:
    """Logs `what: 45% (22.5 of 50.0 MB, 12 s left)` at most every `interval_secs`.

    Usage:
      progress = Progress("downloading x.tar.gz", total_bytes, unit="bytes")
      for chunk in chunks:
          progress.update(len(chunk))
      progress.done()  # `downloading x.tar.gz: done, 50.0 MB in 12.3 s`

    or `with Progress(...) as progress:`, which calls `done()` when the block
    ends without an exception. No line is printed before `interval_secs` have
    passed, so quick work logs only its final line.

    Args:
      what: what is being done, the start of every line.
      total: the count at completion, or None (or 0) when unknown: lines then
        show the count alone.
      unit: what is counted, e.g. 'examples', 'files'; 'bytes' shows megabytes.
      interval_secs: the least time between two progress lines.
      clock: seconds as a float (tests pass a fake one).
    """

    def __init__(self, what: str, total: int | None, unit: str = "",
                 *, interval_secs: float = PROGRESS_INTERVAL_SECS,
                 clock: Callable[[], float] = time.monotonic):
        if interval_secs < 0:
            raise ValueError(f"interval_secs must be >= 0, got {interval_secs}")
        self.what, self.total, self.unit = what, total or None, unit
        self.interval_secs, self._clock = interval_secs, clock
        self.count = 0
        self._start = self._last_line = clock()

    def _amount(self, count: float) -> str:
        if self.unit == "bytes":
            return f"{count / 1e6:.1f}"
        return f"{count:,}"

    @property
    def _unit(self) -> str:
        unit = "MB" if self.unit == "bytes" else self.unit
        return f" {unit}" if unit else ""

    def line(self) -> str:
        """The progress line for the current count (without the timestamp)."""
        if not self.total:
            return f"{self.what}: {self._amount(self.count)}{self._unit}"
        percent = int(100 * self.count / self.total)
        amount = f"{self._amount(self.count)} of {self._amount(self.total)}{self._unit}"
        elapsed = self._clock() - self._start
        if 0 < self.count < self.total and elapsed > 0:
            left = (self.total - self.count) * elapsed / self.count
            amount += f", {left:.0f} s left"
        return f"{self.what}: {percent}% ({amount})"

    def update(self, n: int = 1) -> None:
        """Adds `n` to the count; logs a line if `interval_secs` passed since the last one."""
        self.count += n
        now = self._clock()
        if now - self._last_line >= self.interval_secs:
            self._last_line = now
            log(self.line())

    def done(self) -> None:
        """Logs the final line: `what: done, <count> in <seconds> s`."""
        elapsed = self._clock() - self._start
        log(f"{self.what}: done, {self._amount(self.count)}{self._unit} in {elapsed:.1f} s")

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.done()
