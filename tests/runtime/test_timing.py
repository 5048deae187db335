"""convnet.runtime.timing: seconds since process start, attributed to phases, with paused time left
out."""

import time

from convnet.runtime import timing

IMPORTED_AT = time.time()  # after the interpreter, pytest and TensorFlow (conftest) started


class FakeClock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def test_phases_count_from_the_origin_and_leave_paused_time_out():
    clock = FakeClock(100.0)
    phases = timing.Phases(origin=95.0, clock=clock)
    assert phases.running == "startup" and phases.total() == 0.0
    phases.start("data")  # startup: 95 -> 100
    clock.now = 103.5
    phases.start("training")
    clock.now = 110.0
    phases.start(None)  # paused: an evaluation that is not counted
    assert phases.running is None
    clock.now = 150.0
    phases.start("training")
    clock.now = 152.0
    phases.start("evaluation")
    assert phases.seconds == {"startup": 5.0, "data": 3.5, "training": 8.5}
    assert phases.paused == 40.0 and phases.total() == 17.0
    assert phases.summary() == "17.0 s: startup 5.0 s, data 3.5 s, training 8.5 s"


def test_pausing_twice_adds_up():
    clock = FakeClock(10.0)
    phases = timing.Phases(origin=10.0, clock=clock)
    phases.start(None)
    clock.now = 12.0
    phases.start(None)
    clock.now = 15.0
    phases.start("training")
    assert phases.paused == 5.0 and phases.seconds == {"startup": 0.0}


def test_process_start_is_before_this_module_was_imported(monkeypatch):
    start = timing.process_start()
    assert IMPORTED_AT - 3600 < start < IMPORTED_AT - 0.5  # importing TensorFlow takes > 0.5 s
    phases = timing.Phases()  # from process start: startup includes those imports
    phases.start("training")
    assert phases.seconds["startup"] > 0.5
    assert abs(phases.seconds["startup"] - (time.time() - start)) < 1.0

    def no_proc(*args, **kwargs):
        raise FileNotFoundError("/proc/self/stat")

    monkeypatch.setattr(timing, "open", no_proc, raising=False)  # not Linux: now
    before = time.time()
    assert before <= timing.process_start() <= time.time()


def test_a_resumed_run_carries_its_earlier_launches_as_the_first_phase():
    clock = FakeClock(100.0)
    phases = timing.Phases(origin=90.0, clock=clock)
    phases.start("data")  # startup: 90 -> 100
    phases.carry(812.25)
    phases.carry(800.0)  # set, not added: a second restore carries the same checkpoint's
    clock.now = 102.0
    assert phases.elapsed() == 812.0
    phases.start("training")
    assert list(phases.seconds) == [timing.EARLIER, "startup", "data"]
    assert phases.summary() == "812.0 s: earlier launches 800.0 s, startup 10.0 s, data 2.0 s"
