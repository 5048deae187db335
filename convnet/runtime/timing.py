"""Wall time from process start, split into named phases (time to accuracy).

Time to accuracy is counted as the record-holders count it: everything from
process start (interpreter and TensorFlow start-up included) to the final
accuracy. `Phases` attributes the time since process start to the phase that
was running: 'startup' until the first `start`, then each named phase until
the next `start`; `pause` stops the clock for work that is not counted (an
evaluation after each epoch). A resumed run first `carry`s what its earlier launches had
counted up to the checkpoint it resumed from.
"""

import os
import time

# The phase of the seconds a resumed run counted before this launch.
EARLIER = "earlier launches"


def process_start() -> float:
    """`time.time()` at which this process started (Linux: /proc; else: now)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        return time.time() - uptime + start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.time()


class Phases:
    """Seconds a phase, from process start; `start(name)` ends the running phase."""

    def __init__(self, origin: float | None = None, clock=time.time):
        self._clock = clock
        self._origin = process_start() if origin is None else origin
        self.seconds: dict[str, float] = {}
        self._running: str | None = "startup"
        self._since = self._origin
        self.paused = 0.0

    def carry(self, seconds: float) -> None:
        """Counts `seconds` of earlier launches (a resumed run's: convnet.checkpoints.
        counted_time) as the first phase, 'earlier launches'."""
        self.seconds = {EARLIER: seconds, **{k: v for k, v in self.seconds.items()
                                             if k != EARLIER}}

    def start(self, name: str | None) -> None:
        """Ends the running phase and starts `name` (None: the clock pauses)."""
        now = self._clock()
        if self._running is not None:
            self.seconds[self._running] = self.seconds.get(self._running, 0.0) + now - self._since
        else:
            self.paused += now - self._since
        self._running, self._since = name, now

    @property
    def running(self) -> str | None:
        return self._running

    def now(self) -> float:
        """The clock's time (seconds; `time.time` unless another clock was given)."""
        return self._clock()

    def elapsed(self) -> float:
        """Seconds counted so far, the running phase's included (paused time excluded)."""
        running = self._clock() - self._since if self._running is not None else 0.0
        return self.total() + running

    def total(self) -> float:
        """Seconds counted so far (paused time excluded)."""
        return sum(self.seconds.values())

    def summary(self) -> str:
        """E.g. '612.3 s: startup 5.1 s, data 3.2 s, training 590.0 s'."""
        parts = ", ".join(f"{name} {value:.1f} s" for name, value in self.seconds.items())
        return f"{self.total():.1f} s: {parts}"
