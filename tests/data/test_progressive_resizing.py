"""Progressive resizing's schedule (parse, stage ends, the size of each step) and its resize
against an independent numpy computation of the antialiased bilinear filter."""

import numpy as np
import pytest
import tensorflow as tf

from convnet.data import progressive_resizing
from convnet.data.progressive_resizing import Stage


def test_the_schedule_parses_into_stages_and_ends_at_rounded_up_epochs():
    stages = progressive_resizing.parse("25:4, 28:1.5")
    assert stages == (Stage(25, 4.0), Stage(28, 1.5))
    assert progressive_resizing.parse("") == ()
    ends = progressive_resizing.stage_ends(stages, 48.828125)  # 50,000 / 1,024
    assert ends == ((25, 196), (28, 269))  # ceil(4 x 48.83), ceil(5.5 x 48.83)
    sizes = [progressive_resizing.size_at(ends, step) for step in (0, 195, 196, 268, 269, 10**6)]
    assert sizes == [25, 25, 28, 28, None, None]


@pytest.mark.parametrize("text,message", [
    ("25", "is not SIZE:EPOCHS"), ("a:4", "is not SIZE:EPOCHS"), ("25:x", "is not SIZE:EPOCHS"),
    ("0:4", "size must be >= 1"), ("25:0", "epochs must be > 0"), ("25:-1", "epochs must be > 0"),
])
def test_a_bad_schedule_is_refused_with_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=f"--progressive_resizing: .*{message}"):
        progressive_resizing.parse(text)


def _antialiased_bilinear_weights(in_size: int, out_size: int) -> np.ndarray:
    """[out, in]: a triangle filter widened by in/out (when shrinking), centred on each output
    pixel's centre in input coordinates, normalised to sum to 1 over the input pixels."""
    scale = out_size / in_size
    width = max(1.0, 1.0 / scale)  # the triangle's half-width, in input pixels
    weights = np.zeros((out_size, in_size))
    for i in range(out_size):
        centre = (i + 0.5) / scale - 0.5
        for x in range(in_size):
            weights[i, x] = max(0.0, 1.0 - abs(x - centre) / width)
        weights[i] /= weights[i].sum()
    return weights


@pytest.mark.parametrize("in_size,out_size", [(32, 25), (32, 16), (7, 5)])
def test_resize_is_the_antialiased_bilinear_filter_of_numpy(in_size, out_size):
    images = np.random.default_rng(0).normal(size=(3, in_size, in_size, 2)).astype(np.float32)
    rows = _antialiased_bilinear_weights(in_size, out_size)
    expected = np.einsum("ih,jw,bhwc->bijc", rows, rows, images)
    got = progressive_resizing.resize(tf.constant(images), out_size)
    assert got.dtype == tf.float32 and got.shape == (3, out_size, out_size, 2)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_resize_to_the_same_size_is_the_identity_and_keeps_bfloat16():
    images = tf.random.stateless_normal([2, 8, 8, 3], seed=[1, 2])
    np.testing.assert_allclose(progressive_resizing.resize(images, 8).numpy(), images.numpy(),
                               atol=1e-6)
    assert progressive_resizing.resize(tf.cast(images, tf.bfloat16), 5).dtype == tf.bfloat16
