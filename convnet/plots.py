"""Line plots of (step, value) series against the training step, as PNG files.

Used by `convnet.reporting` and `convnet.comparing`. matplotlib (the Agg
backend, no display needed) is an optional extra (`convnet[plots]`), imported
on the first plot: without it, a plot is an error that says how to install it.
"""

from typing import Dict, Optional

from convnet.errors import ConvnetError
from convnet.events import Series


def plot_lines(lines: Dict[str, Series], ylabel: str, path: str,
               marker: Optional[str] = None) -> None:
    """One figure of several (step, value) series ({label: series}) against the training
    step, written to `path` as PNG; `marker`: a matplotlib marker on each point (e.g. "o")."""
    try:
        import matplotlib  # pylint: disable=import-outside-toplevel
    except ImportError as e:
        raise ConvnetError(f"plots need matplotlib ({e}): pip install 'convnet[plots]'") from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    figure, axes = plt.subplots(figsize=(8, 5))
    for label, series in lines.items():
        steps, values = zip(*series) if series else ((), ())
        axes.plot(steps, values, marker=marker, label=label)
    axes.set_xlim(left=0)
    axes.set_xlabel("training step")
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    if lines:
        axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
