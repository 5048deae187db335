"""Watching the training loss: a non-finite or diverging loss stops or warns, as --nan_policy
says."""

from collections.abc import Callable

from convnet.runtime import console
from convnet.runtime.errors import DivergedLossError, NonFiniteLossError

NAN_POLICIES = ("stop", "skip_batch")
# --nan_policy=skip_batch gives up after this many non-finite batches in a row.
MAX_SKIPPED_IN_A_ROW = 100


class LossWatch:
    """Checks each round's loss.

    Args:
      max_loss: a finite loss above it is divergence (warned once; 'stop' raises).
      nan_policy: 'stop' (raise at a non-finite or diverged loss) or
        'skip_batch' (batches with non-finite gradients were skipped; raise after
        MAX_SKIPPED_IN_A_ROW in a row).
      learning_rate: step -> learning rate, for the messages.
      last_checkpoint: () -> the newest checkpoint (or None), for the messages.
    """

    def __init__(self, max_loss: float, nan_policy: str, learning_rate: Callable[[int], float],
                 *, last_checkpoint: Callable[[], str | None]):
        self.max_loss, self.nan_policy = max_loss, nan_policy
        self.learning_rate, self.last_checkpoint = learning_rate, last_checkpoint
        self.skipped_in_a_row, self.warned = 0, False

    def check(self, step: int, loss: float, finite: bool, *, skipped: int, applied: int,
              trailing: int) -> None:
        """`loss` is the round's last (`finite` or not) at `step`; of its batches `applied`
        were applied and `skipped` not, `trailing` of them after the last applied one.

        Raises:
          NonFiniteLossError, DivergedLossError: as the policy says.
        """
        stop = self.nan_policy == "stop"
        if not finite and stop:
            raise NonFiniteLossError(step, loss, self._lr(step), self.last_checkpoint())
        if finite and loss > self.max_loss:
            if stop:
                raise DivergedLossError(step, loss, self.max_loss, self._lr(step),
                                        self.last_checkpoint())
            if not self.warned:
                console.log(f"warning: loss is {loss:.4g} at step {step}, above "
                            f"--max_loss={self.max_loss:g}: training is diverging "
                            f"(--nan_policy=stop stops here; this warning is not repeated)")
                self.warned = True
        self.skipped_in_a_row = self.skipped_in_a_row + skipped if not applied else trailing
        if skipped:
            console.log(f"step {step}: skipped {skipped} batch(es) with a non-finite "
                        f"loss or gradients")
            if self.skipped_in_a_row >= MAX_SKIPPED_IN_A_ROW:
                raise NonFiniteLossError(step, loss, self._lr(step), self.last_checkpoint())

    def _lr(self, step: int) -> float:
        return float(self.learning_rate(step))
