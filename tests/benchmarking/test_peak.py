"""convnet.benchmarking.peak: interleaved rounds, the maximum, paired rounds (structure, not
timings)."""

import pytest
import tensorflow as tf

from convnet.benchmarking import peak


def test_the_peak_is_the_maximum_over_shapes_and_rounds(monkeypatch):
    matmul = peak.MatmulPeak([(16, 16), (64, 16)], tf.float32)
    order = []
    for chain in matmul.chains:  # a round's FLOPs, in the order the rounds run
        real = chain.round
        monkeypatch.setattr(chain, "round",
                            lambda real=real, shape=chain.shape: order.append(shape) or real())
    matmul.measure(3)
    assert order == [(16, 16), (64, 16)] * 3  # interleaved: every shape once a round
    assert set(matmul.by_shape) == {(16, 16), (64, 16)}
    assert len(matmul.round_rates) == 3 and all(rate > 0 for rate in matmul.round_rates)
    assert matmul.peak == max(matmul.by_shape.values()) == max(matmul.round_rates)
    assert matmul.by_shape[matmul.best_shape] == matmul.peak
    assert matmul.paired_round() > 0 and order[-1] == matmul.best_shape


def test_a_round_counts_2_m_k_squared_flops_a_matmul():
    chain = peak._Chain((32, 8), tf.float32, "/device:CPU:0")
    assert chain.round() == 2 * 32 * 8 * 8 * chain.count


def test_shapes_and_bad_settings():
    assert peak.matmul_shapes(64) == ((64, 64),)
    assert peak.matmul_shapes(0) in (peak.GPU_MATMUL_SHAPES, peak.CPU_MATMUL_SHAPES)
    assert [peak.shape_name(s) for s in ((512, 512), (8192, 512))] == ["512", "8192x512"]
    with pytest.raises(ValueError, match="--matmul_size"):
        peak.matmul_shapes(-1)
    with pytest.raises(ValueError, match="positive"):
        peak._Chain((0, 4), tf.float32, "/device:CPU:0")
    with pytest.raises(ValueError, match="--repeats"):
        peak.MatmulPeak([(8, 8)]).measure(0)
    with pytest.raises(ValueError, match="one shape"):
        peak.MatmulPeak([])
