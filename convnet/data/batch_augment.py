"""Batch augmentation ops: airbench's translation and alternating flip, drawn by stateless hashing.

These work on whole uint8 [B, H, W, C] batches, one vectorized call a batch
(`Preprocessing.train_batch` of 'translate_altflip', the airbench recipe's),
for input pipelines that must keep up with ~1,000-image steps on a few CPU
cores. Their per-example random values still come from per-example stateless
seeds: the shift of the example at stream position i from (seed, i), the
first flip of training example j from (seed, j), drawn with `stateless_hash`
(SplitMix64, vectorized), so a batch is the same whatever batch size,
parallelism or resume point produced it.
"""

import tensorflow as tf

# SplitMix64 (Steele, Lea & Flood 2014; java.util.SplittableRandom): output k of the
# generator keyed by `key` is mix(key + (k + 1) * GOLDEN_GAMMA). It passes BigCrush, and
# it is plain uint64 arithmetic, so it runs vectorized over any number of counters.
_GOLDEN_GAMMA = 0x9E3779B97F4A7C15
_MIX_MULTIPLIERS = (0xBF58476D1CE4E5B9, 0x94D049BB133111EB)
# Streams of `stateless_hash` keyed by the same seed: one per kind of random value.
FLIP_STREAM, SHIFT_STREAM = 1, 2


def _mix64(z: tf.Tensor) -> tf.Tensor:
    """SplitMix64's finalizer: a bijection of uint64 that mixes every bit into every bit."""
    first, second = (tf.constant(m, tf.uint64) for m in _MIX_MULTIPLIERS)

    def shift(x, n):
        return tf.bitwise.right_shift(x, tf.constant(n, tf.uint64))

    z = (z ^ shift(z, 30)) * first
    z = (z ^ shift(z, 27)) * second
    return z ^ shift(z, 31)


def _as_uint64(x) -> tf.Tensor:
    return tf.bitcast(tf.cast(x, tf.int64), tf.uint64)


def stateless_hash(seed, counters, stream: int) -> tf.Tensor:
    """uint64 random bits for each of `counters`: a pure function of (seed, stream, counter).

    Output `counter` of a SplitMix64 generator keyed by (seed, stream); `counters`
    is any int tensor (e.g. example indices or stream positions), `seed` an int
    scalar. Uniform over [0, 2^64) for practical purposes.
    """
    gamma = tf.constant(_GOLDEN_GAMMA, tf.uint64)
    key = _mix64(_mix64(_as_uint64(seed) + gamma) + _as_uint64(stream) * gamma)
    return _mix64(key + (_as_uint64(counters) + tf.constant(1, tf.uint64)) * gamma)


def alternating_flips(seed, example_indices, epochs) -> tf.Tensor:
    """bool [n]: airbench's alternating flip of each (example index, epoch).

    Example j is flipped with probability 1/2 in epoch 0 (a coin drawn from
    (seed, j)), then the other way in every following epoch: flip =
    first_flip(j) XOR (epoch mod 2). Every example is thus seen both ways
    in any two consecutive epochs.
    """
    top_bit = tf.bitwise.right_shift(stateless_hash(seed, example_indices, FLIP_STREAM),
                                     tf.constant(63, tf.uint64))
    first = tf.equal(top_bit, tf.constant(1, tf.uint64))
    return tf.math.logical_xor(first, tf.equal(tf.math.floormod(
        tf.cast(epochs, tf.int64), 2), 1))


def random_offsets(seed, positions, pad: int) -> tf.Tensor:
    """int32 [n, 2]: (row, column) crop offsets, each uniform in [0, 2 * pad], from (seed,
    position).

    Offset o of a reflect-padded image is a translation by o - pad in [-pad, pad].
    """
    choices = 2 * pad + 1
    bits = tf.bitwise.right_shift(stateless_hash(seed, positions, SHIFT_STREAM),
                                  tf.constant(11, tf.uint64))  # 53 bits: modulo bias < 2^-47
    shift = tf.cast(tf.math.floormod(bits, tf.constant(choices * choices, tf.uint64)), tf.int32)
    return tf.stack([shift // choices, shift % choices], axis=1)


def _reflect(index: tf.Tensor, size) -> tf.Tensor:
    """Index into [0, size) of `index` in [-(size - 1), 2 * (size - 1)] under REFLECT padding
    (np.pad mode='reflect': the edge is not repeated, -1 -> 1, size -> size - 2)."""
    last = size - 1
    return last - tf.abs(last - tf.abs(index))


def translate_and_flip(images: tf.Tensor, offsets: tf.Tensor, flips: tf.Tensor,
                       *, pad: int) -> tf.Tensor:
    """Each image's window at `offsets` of its REFLECT-padded self, mirrored where `flips`.

    Args:
      images: [B, H, W, C], any dtype (uint8 in the pipeline: a quarter of the bytes).
      offsets: int32 [B, 2], (row, column) in [0, 2 * pad].
      flips: bool [B], mirror the window left-right.
      pad: reflect padding a side; must be below H and W.

    Returns:
      [B, H, W, C] of the dtype of `images`: out[b] = window[b][:, ::-1] if
      flips[b] else window[b], window[b] = reflect_pad(images[b])[r:r + H, c:c + W].
      The padding, the shift and the flip are folded into the indices of one
      gather of pixels: the padded batch is never built (on a 2-core CPU, a
      MirrorPad of the batch cost more than this whole function).
    """
    height, width = images.shape[1], images.shape[2]
    if pad < 0 or (height is not None and pad >= height) or (width is not None and pad >= width):
        raise ValueError(f"translation pad must be in [0, image side), got {pad} for "
                         f"{height}x{width} images")
    shape = tf.shape(images)
    height = height if height is not None else shape[1]
    width = width if width is not None else shape[2]
    offsets = tf.cast(offsets, tf.int32)
    rows = _reflect(offsets[:, :1] - pad + tf.range(height)[None, :], height)  # [B, H]
    columns = tf.where(flips[:, None], tf.reverse(tf.range(width), [0])[None, :],
                       tf.range(width)[None, :])
    columns = _reflect(columns + offsets[:, 1:] - pad, width)  # [B, W]
    pixels = ((tf.range(shape[0])[:, None, None] * height + rows[:, :, None]) * width
              + columns[:, None, :])  # [B, H, W] into the batch's pixels
    channels = images.shape[3] if images.shape[3] is not None else shape[3]
    return tf.gather(tf.reshape(images, [-1, channels]), pixels)
