"""convnet.benchmarking.peak: the matmul peak keeps the fastest size (structure, not timings)."""

import numpy as np
import pytest

from convnet.benchmarking import peak


def test_matmul_peak_keeps_the_fastest_size():
    size, rates, medians = peak.matmul_peak((16, 32), 2)
    assert set(medians) == {16, 32} and medians[size] == max(medians.values())
    assert len(rates) == 2 and all(rate > 0 for rate in rates)
    assert medians[size] == pytest.approx(float(np.median(rates)))


def test_matmul_sizes_and_a_bad_size():
    assert peak.matmul_sizes(64) == (64,)
    assert peak.matmul_sizes(0) in (peak.GPU_MATMUL_SIZES, peak.CPU_MATMUL_SIZES)
    with pytest.raises(ValueError, match="--matmul_size"):
        peak.matmul_peak_rates(0, 1)
