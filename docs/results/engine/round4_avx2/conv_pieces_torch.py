"""conv_pieces_tf.py's pieces in PyTorch (run with the peer's venv), channels_last, 2 threads,
milliseconds, min of 7: forward, input gradient, filter gradient, and both gradients in one
call (what autograd runs)."""

import time

import torch

SHAPES = [(32, 16), (16, 32), (8, 64)]


def best_ms(function) -> float:
    function()
    times = []
    for _ in range(7):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def main() -> None:
    torch.set_num_threads(2)
    last = torch.channels_last
    for size, channels in SHAPES:
        x = torch.randn(128, channels, size, size).to(memory_format=last)
        w = torch.randn(channels, channels, 3, 3).to(memory_format=last)
        g = torch.randn(128, channels, size, size).to(memory_format=last)

        def backward(mask, g=g, x=x, w=w):
            return torch.ops.aten.convolution_backward(
                g, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, mask)

        def forward(x=x, w=w):
            return torch.nn.functional.conv2d(x, w, padding=1)

        with torch.no_grad():
            print(f"torch {size}x{size}x{channels}: forward {best_ms(forward):.2f} "
                  f"input {best_ms(lambda: backward([True, False, False])):.2f} "
                  f"filter {best_ms(lambda: backward([False, True, False])):.2f} "
                  f"both {best_ms(lambda: backward([True, True, False])):.2f} ms", flush=True)


if __name__ == "__main__":
    main()
