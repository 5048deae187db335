"""Probe v2: F(2x2,3x3) with explicit XLA-compiled transforms and their adjoints."""

import argparse
import os
import sys
import time

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../../.."))
from convnet.nn import ops

BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float32)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float32)
AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float32)
INTERNAL = tf.float32


def combine(mat, parts):
    """[sum_i mat[a, i] * parts[i] for each row a], skipping zeros, ±1 as add/sub."""
    out = []
    for row in mat:
        acc = None
        for coef, part in zip(row, parts, strict=True):
            if coef == 0:
                continue
            term = part if abs(coef) == 1 else part * float(abs(coef))
            if acc is None:
                acc = term if coef > 0 else -term
            else:
                acc = acc + term if coef > 0 else acc - term
        out.append(acc)
    return out


def _tiles(x, axis, count):
    """The 4 stride-2 slices (tile offsets 0..3) of x along axis, `count` tiles."""

    def s(k):
        index = [slice(None)] * 4
        index[axis] = slice(k, k + 2 * count, 2)
        return x[tuple(index)]

    return [s(k) for k in range(4)]


@tf.function(jit_compile=True)
def input_transform(x):
    """x [N, H, W, C] (H, W even) -> V [16, N*H/2*W/2, C] (B^T d B of each 4x4 tile)."""
    dtype = x.dtype
    n, h, w, c = x.shape
    xp = tf.pad(tf.cast(x, INTERNAL), [[0, 0], [1, 1], [1, 1], [0, 0]])
    rows = combine(BT, _tiles(xp, 1, h // 2))
    out = []
    for r in rows:
        out.extend(combine(BT, _tiles(r, 2, w // 2)))
    return tf.cast(tf.reshape(tf.stack(out), [16, -1, c]), dtype)


@tf.function(jit_compile=True)
def input_adjoint(v, n, h, w):
    """The adjoint of input_transform: dV [16, N*T, C] -> dX [N, H, W, C]."""
    dtype = v.dtype
    c = v.shape[-1]
    v = tf.reshape(tf.cast(v, INTERNAL), [4, 4, n, h // 2, w // 2, c])
    # per tile D = B dV B^T: rows then columns (B = BT^T).
    rows = combine(BT.T, [v[a] for a in range(4)])  # 4 x [4, n, th, tw, c] (index i)
    d = [combine(BT.T, [r[b] for b in range(4)]) for r in rows]  # d[i][j]: [n, th, tw, c]
    # overlap-add: padded position (2ty + i, 2tx + j); i = 2p + q.
    planes = []
    for q in range(2):
        for s_ in range(2):
            acc = 0
            for p in range(2):
                for t in range(2):
                    tile = d[2 * p + q][2 * t + s_]
                    acc = acc + tf.pad(tile, [[0, 0], [p, 1 - p], [t, 1 - t], [0, 0]])
            planes.append(acc)  # [n, th+1, tw+1, c], padded coords (2ty'+q, 2tx'+s)
    xp = tf.nn.depth_to_space(tf.concat(planes, -1), 2)  # [n, h+2, w+2, c]
    return tf.cast(xp[:, 1 : h + 1, 1 : w + 1], dtype)


@tf.function(jit_compile=True)
def output_transform(m, n, h, w):
    """M [16, N*T, K] -> Y [N, H, W, K] (A^T m A of each tile)."""
    dtype = m.dtype
    k = m.shape[-1]
    m = tf.reshape(tf.cast(m, INTERNAL), [4, 4, n, h // 2, w // 2, k])
    rows = combine(AT, [m[a] for a in range(4)])
    outs = []
    for r in rows:
        outs.extend(combine(AT, [r[b] for b in range(4)]))
    return tf.cast(tf.nn.depth_to_space(tf.concat(outs, -1), 2), dtype)


@tf.function(jit_compile=True)
def output_adjoint(y):
    """The adjoint of output_transform: dY [N, H, W, K] -> dM [16, N*T, K]."""
    dtype = y.dtype
    k = y.shape[-1]
    s = tf.nn.space_to_depth(tf.cast(y, INTERNAL), 2)
    parts = [s[..., i * k : (i + 1) * k] for i in range(4)]  # (dy, dx) row-major
    by_dy = [parts[0:2], parts[2:4]]
    rows = [combine(AT.T, [by_dy[0][dx], by_dy[1][dx]]) for dx in range(2)]  # rows[dx][a]
    out = []
    for a in range(4):
        out.extend(combine(AT.T, [rows[0][a], rows[1][a]]))
    return tf.cast(tf.reshape(tf.stack(out), [16, -1, k]), dtype)


@tf.custom_gradient
def v_of(x):
    n, h, w, _ = x.shape
    return input_transform(x), lambda dv: input_adjoint(dv, n, h, w)


def y_of(m, n, h, w):
    @tf.custom_gradient
    def f(m):
        return output_transform(m, n, h, w), lambda dy: output_adjoint(dy)

    return f(m)


def kernel_transform(w):
    g = tf.constant(G, tf.float32)
    u = tf.einsum("ai,ijck,bj->abck", g, tf.cast(w, tf.float32), g)
    return tf.cast(tf.reshape(u, [16, w.shape[2], w.shape[3]]), w.dtype)


def wino_conv(x, w):
    n, h, wd, c = x.shape
    return y_of(tf.matmul(v_of(x), kernel_transform(w)), n, h, wd)


def bench(fn, x, w, reps):
    @tf.function
    def step(x, w):
        with tf.GradientTape() as t:
            t.watch([x, w])
            y = fn(x, w)
            loss = tf.reduce_sum(tf.cast(y, tf.float32) * 1e-3)
        return t.gradient(loss, [x, w])

    step(x, w)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        r = step(x, w)
        r[0].numpy()
        times.append(time.perf_counter() - t0)
    return min(times)


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal([2, 6, 8, 5]), tf.float32)
    w = tf.constant(rng.standard_normal([3, 3, 5, 7]), tf.float32)
    with tf.GradientTape(persistent=True) as t:
        t.watch([x, w])
        ref = tf.nn.conv2d(x, w, 1, "SAME")
        got = wino_conv(x, w)
        up = tf.constant(rng.standard_normal(ref.shape), tf.float32)
        lr = tf.reduce_sum(ref * up)
        lg = tf.reduce_sum(got * up)
    print("fwd err", float(tf.reduce_max(tf.abs(ref - got))))
    for a, b in zip(t.gradient(lr, [x, w]), t.gradient(lg, [x, w]), strict=True):
        print("grad err", float(tf.reduce_max(tf.abs(a - b))))
    # Round 3 ran it bare (VGG-16's shapes in bfloat16); round 4 (AVX2, no bfloat16) ran
    # `--dtype=float32` with `--shapes=resnet` (the CIFAR ResNets' three 3x3 shapes) and vgg16.
    parser = argparse.ArgumentParser()
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    parser.add_argument("--shapes", default="vgg16", choices=["vgg16", "resnet"])
    parser.add_argument("index", nargs="*", type=int, help="a subset of the shapes, by position")
    args = parser.parse_args()
    shapes = {
        "vgg16": [
            (128, 32, 32, 64, 64),
            (128, 16, 16, 128, 128),
            (128, 8, 8, 256, 256),
            (128, 4, 4, 512, 512),
            (128, 2, 2, 512, 512),
        ],
        "resnet": [(128, 32, 32, 16, 16), (128, 16, 16, 32, 32), (128, 8, 8, 64, 64)],
    }[args.shapes]
    if args.index:
        shapes = [shapes[i] for i in args.index]
    dtype = tf.as_dtype(args.dtype)
    for n, h, wd, c, k in shapes:
        x = tf.cast(tf.constant(rng.standard_normal([n, h, wd, c]), tf.float32), dtype)
        w = tf.cast(tf.constant(rng.standard_normal([3, 3, c, k]) * 0.05, tf.float32), dtype)
        a = []
        b = []
        for _ in range(3):
            a.append(bench(lambda x, w: ops.conv2d(x, w), x, w, 5))
            b.append(bench(wino_conv, x, w, 5))
        print(
            f"{n}x{h}x{wd}x{c}->{k}: direct {min(a) * 1e3:.1f} ms  "
            f"winograd {min(b) * 1e3:.1f} ms  ratio {min(a) / min(b):.2f}",
            flush=True,
        )
