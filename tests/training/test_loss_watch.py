"""LossWatch: non-finite and diverging losses stop or warn as --nan_policy says."""

import pytest

from convnet.runtime.errors import DivergedLossError, NonFiniteLossError
from convnet.training.loss_watch import MAX_SKIPPED_IN_A_ROW, LossWatch


def _watch(policy, max_loss=10.0):
    return LossWatch(max_loss, policy, lambda step: 0.1, last_checkpoint=lambda: "train/ckpt-5")


def test_stop_raises_at_a_non_finite_or_diverged_loss_naming_the_last_checkpoint():
    with pytest.raises(NonFiniteLossError, match="ckpt-5, is intact") as error:
        _watch("stop").check(12, float("nan"), False, skipped=0, applied=1, trailing=0)
    assert error.value.step == 12
    with pytest.raises(DivergedLossError, match="above --max_loss=10"):
        _watch("stop").check(12, 11.0, True, skipped=0, applied=10, trailing=0)
    _watch("stop").check(12, 9.9, True, skipped=0, applied=10, trailing=0)  # below: nothing


def test_skip_batch_warns_once_and_gives_up_after_too_many_skips_in_a_row(capsys):
    watch = _watch("skip_batch")
    watch.check(10, 11.0, True, skipped=0, applied=10, trailing=0)
    watch.check(20, 12.0, True, skipped=0, applied=10, trailing=0)
    assert capsys.readouterr().out.count("training is diverging") == 1
    watch.check(30, 2.0, True, skipped=3, applied=7,
                trailing=1)  # 3 skipped, the last one after the last update
    assert watch.skipped_in_a_row == 1
    watch.check(40, float("nan"), False, skipped=10, applied=0, trailing=10)
    assert watch.skipped_in_a_row == 11
    with pytest.raises(NonFiniteLossError):
        watch.check(50, float("nan"), False, skipped=MAX_SKIPPED_IN_A_ROW, applied=0,
                    trailing=MAX_SKIPPED_IN_A_ROW)
