"""convnet.benchmarking.round_timing: a figure's summary and timed rounds (structure, not
timings)."""

import pytest
import tensorflow as tf

from convnet.benchmarking import round_timing as timing


def test_figure_summary_and_bad_settings():
    figure = timing.Figure("step", "examples/sec", [4.0, 1.0, 3.0, 2.0])
    summary = figure.to_json()
    assert (summary["median"], summary["min"], summary["max"]) == (2.5, 1.0, 4.0)
    assert summary["q1"] == 1.75 and summary["q3"] == 3.25 and summary["values"] == [4, 1, 3, 2]
    assert timing.Figure("x", "u", [7.0]).to_json()["q1"] == 7.0
    with pytest.raises(ValueError, match="--repeats"):
        timing.timed_rounds(lambda: 1, 0)


def test_timed_rounds_warm_up_untimed_then_time_each_round():
    calls = []
    rates = timing.timed_rounds(lambda: calls.append("round") or 10, 3,
                                lambda: calls.append("warm-up"))
    assert calls == ["warm-up", "round", "round", "round"]
    assert len(rates) == 3 and all(rate > 0 for rate in rates)


def test_input_rates_returns_a_rate_a_round_and_the_first_batch():
    dataset = tf.data.Dataset.range(100).batch(4)
    rates, batch = timing.input_rates(dataset, 4, steps=2, repeats=3)
    assert len(rates) == 3 and all(rate > 0 for rate in rates)
    assert batch.numpy().tolist() == [0, 1, 2, 3]


def test_a_round_takes_more_steps_where_steps_steps_would_be_shorter_than_the_minimum():
    assert timing.steps_a_round(0.15, 4, 2.0) == 14  # ResNet-20 at batch 128 on 2 cores
    assert timing.steps_a_round(2.2, 4, 2.0) == 4  # fast93 at batch 2,000: as asked
    assert timing.steps_a_round(0.5, 4, 2.0) == 4  # exactly the minimum
    assert timing.steps_a_round(0.15, 4, 0.0) == 4  # off
