"""Errors: the cleaned first line of a TensorFlow error, and the stop-on-signal message."""

import signal

import tensorflow as tf

from convnet.runtime.errors import Interrupted, tf_error_line


def test_tf_error_line_drops_function_node_and_op_decorations():
    error = tf.errors.InvalidArgumentError(
        None, None, "{{function_node __wrapped__DecodePng}} Invalid PNG data, size 3. "
                    "[Op:DecodePng]\nmore detail")
    assert tf_error_line(error) == "Invalid PNG data, size 3"
    assert tf_error_line(ValueError("a" * 500), limit=10) == "a" * 10
    assert tf_error_line(ValueError()) == "ValueError"


def test_interrupted_says_which_signal_the_step_and_how_to_resume():
    error = Interrupted(signal.SIGTERM, 120, "train/ckpt-120")
    assert str(error) == ("SIGTERM received: stopped at step 120 after saving train/ckpt-120; "
                          "run the same command to resume.")
    assert error.signum == signal.SIGTERM and error.step == 120
