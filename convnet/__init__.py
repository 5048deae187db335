"""convnet: a low-level TensorFlow 2 training library in the cuda-convnet style.

The public API (what research code may import, and what stays stable between releases):

  convnet.fit, convnet.evaluate, convnet.load   train, evaluate, load a trained model
                                                (convnet.api; FitResult)
  convnet.ops, convnet.layers                   the op vocabulary and the layers over it
  convnet.models                                the Model contract, the zoo, register,
                                                build_model
  convnet.data                                  the Source protocol, SourceSpec, pipelines;
                                                convnet.data.sources.arrays.ArraySource and
                                                convnet.data.sources.folder.FolderSource
  convnet.training.TrainConfig, convnet.evaluation.EvalConfig
                                                the settings (the flags of the mains)
  convnet.runtime.errors                        the exceptions

`fit`, `evaluate` and `load` are imported on first use, so `import convnet` stays light.
Importing convnet before tensorflow turns on TensorFlow's oneDNN kernels on every x86 CPU
(TF_ENABLE_ONEDNN_OPTS=1 unless set; convnet.runtime.onednn).
"""

from typing import TYPE_CHECKING

from convnet.runtime import onednn as _onednn
from convnet.runtime.version import __version__

_onednn.prefer()

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ imports them
    from convnet.api import FitResult, evaluate, fit, load

_API = ("fit", "evaluate", "load", "FitResult")  # convnet.api, imported on first use
__all__ = ["FitResult", "__version__", "evaluate", "fit", "load"]


def __getattr__(name):
    if name in _API:
        from convnet import api  # pylint: disable=import-outside-toplevel
        return getattr(api, name)
    raise AttributeError(f"module 'convnet' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_API})
