"""Errors that name the problem and the way out.

Each is a `ValueError` or `RuntimeError` subclass so that callers who do not
know convnet can still catch them; the mains print the message without a
traceback and exit non-zero.
"""


class ConvnetError(Exception):
    """Base class of the errors convnet raises for problems a user can fix."""


class DataError(ConvnetError, ValueError):
    """Missing, truncated or malformed input data."""


class CheckpointError(ConvnetError, ValueError):
    """A checkpoint that is missing or does not match the model asked for."""


class NonFiniteLossError(ConvnetError, RuntimeError):
    """Training produced a NaN or infinite loss; the bad update was not applied."""

    def __init__(self, step: int, loss: float, learning_rate: float, last_checkpoint):
        self.step, self.loss, self.learning_rate = step, loss, learning_rate
        self.last_checkpoint = last_checkpoint
        where = (f"the last good checkpoint, {last_checkpoint}, is intact"
                 if last_checkpoint else "no checkpoint had been written yet")
        super().__init__(
            f"loss is {loss} at step {step} (learning rate {learning_rate:g}); training stopped "
            f"before applying that update and {where}. Lower --learning_rate, check the input "
            f"data, or resume from the checkpoint with a different --seed.")
