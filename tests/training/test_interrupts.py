"""convnet.training.interrupts: SIGTERM/SIGINT acknowledged by a watcher thread, in this very
process.

The signals are sent to the test process itself, inside `stop_on_signals` (whose handlers
catch them); the exit of a second SIGINT is recorded instead of taken. Through a training
subprocess, mid-round:
test_bad_input.py::test_ctrl_c_is_acknowledged_mid_round_and_a_second_stops_at_once.
"""

import os
import signal
import threading

import pytest

from convnet.training import interrupts

WAIT_SECS = 10.0


def _wakeup_fd():
    fd = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(fd)
    return fd


def _watchers():
    return [t for t in threading.enumerate() if t.name == "convnet-signal-watcher"]


class Recorder:
    """Records calls (of request_stop or os._exit) and lets the test wait for the next one."""

    def __init__(self):
        self.calls = []
        self._event = threading.Event()

    def __call__(self, value):
        self.calls.append(value)
        self._event.set()

    def wait(self):
        assert self._event.wait(WAIT_SECS), "the watcher thread did not act on the signal"
        self._event.clear()


@pytest.fixture
def exits(monkeypatch):
    exit_now = Recorder()
    monkeypatch.setattr(interrupts.os, "_exit", exit_now)
    return exit_now


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_first_signal_requests_a_stop_and_says_so(signum, exits, capsys):
    request_stop = Recorder()
    with interrupts.stop_on_signals(request_stop):
        os.kill(os.getpid(), signum)
        request_stop.wait()
    assert request_stop.calls == [signum] and exits.calls == []
    assert capsys.readouterr().out.endswith(
        f": {signal.Signals(signum).name} received: saving a checkpoint at the end of this round "
        f"of steps (SIGINT again to stop at once)\n")


def test_further_sigterms_are_ignored_and_a_second_sigint_exits_130(exits, capsys):
    request_stop = Recorder()
    with interrupts.stop_on_signals(request_stop, lambda: "/runs/a/ckpt-500"):
        os.kill(os.getpid(), signal.SIGTERM)
        request_stop.wait()
        os.kill(os.getpid(), signal.SIGTERM)  # handled before the SIGINT that follows it
        os.kill(os.getpid(), signal.SIGINT)
        exits.wait()
    assert request_stop.calls == [signal.SIGTERM]
    assert exits.calls == [interrupts.SECOND_SIGINT_EXIT] == [130]
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].endswith(
        ": second SIGINT: stopping now without saving; the last checkpoint, /runs/a/ckpt-500, "
        "is intact: run the same command to resume from it.")


def test_a_second_sigint_before_any_checkpoint_says_so(exits, capsys):
    def no_checkpoint_yet():
        raise OSError("train_dir not readable")  # naming the checkpoint is a courtesy

    request_stop = Recorder()
    with interrupts.stop_on_signals(request_stop, no_checkpoint_yet):
        os.kill(os.getpid(), signal.SIGINT)
        request_stop.wait()
        os.kill(os.getpid(), signal.SIGINT)
        exits.wait()
    assert exits.calls == [130]
    assert capsys.readouterr().out.endswith(
        ": second SIGINT: stopping now without saving; no checkpoint had been written yet.\n")


def test_the_previous_handlers_and_wakeup_fd_are_restored():
    before = {s: signal.getsignal(s) for s in interrupts.SIGNALS}
    fd_before = _wakeup_fd()
    with interrupts.stop_on_signals(lambda signum: None):
        assert all(signal.getsignal(s) is not before[s] for s in interrupts.SIGNALS)
        assert _wakeup_fd() != fd_before and len(_watchers()) == 1
    assert {s: signal.getsignal(s) for s in interrupts.SIGNALS} == before
    assert _wakeup_fd() == fd_before and _watchers() == []


def test_outside_the_main_thread_it_does_nothing():
    before = {s: signal.getsignal(s) for s in interrupts.SIGNALS}
    seen = []

    def in_a_thread():
        with interrupts.stop_on_signals(lambda signum: None):
            seen.append(({s: signal.getsignal(s) for s in interrupts.SIGNALS}, _watchers()))

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join(WAIT_SECS)
    assert seen == [(before, [])]
