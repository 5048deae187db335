"""Progress lines: at most one every interval, percentages, time left, a final line."""

import pytest

from convnet.runtime import console


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _lines(capsys):
    return [line.split(": ", 1)[1] for line in capsys.readouterr().out.splitlines()]


def test_progress_logs_at_most_every_interval_then_a_final_line(capsys):
    clock = FakeClock()
    progress = console.Progress("downloading x.tar.gz", 50_000_000, unit="bytes",
                                interval_secs=5, clock=clock)
    for _ in range(10):  # 5 MB a second
        clock.now += 1
        progress.update(5_000_000)
    progress.done()
    assert _lines(capsys) == [
        "downloading x.tar.gz: 50% (25.0 of 50.0 MB, 5 s left)",
        "downloading x.tar.gz: 100% (50.0 of 50.0 MB)",
        "downloading x.tar.gz: done, 50.0 MB in 10.0 s",
    ]


def test_quick_work_logs_only_the_final_line_and_unknown_totals_show_the_count(capsys):
    clock = FakeClock()
    with console.Progress("evaluating", 10_000, unit="examples", clock=clock) as progress:
        progress.update(10_000)
    assert _lines(capsys) == ["evaluating: done, 10,000 examples in 0.0 s"]
    progress = console.Progress("reading", None, clock=clock, interval_secs=0)
    progress.update(3)
    assert _lines(capsys) == ["reading: 3"]
    with pytest.raises(RuntimeError), console.Progress("failing", 2, clock=clock):
        raise RuntimeError("no final line after an error")
    assert _lines(capsys) == []
