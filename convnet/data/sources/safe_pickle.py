"""Unpickling that cannot run code: plain data and numpy arrays only.

`pickle.load` on an untrusted file calls whatever its globals name (a crafted
`__reduce__` runs `os.system`). `load` uses an Unpickler whose `find_class`
returns only the few callables numpy arrays are pickled with and refuses every
other global before anything is called. Lists, dicts, tuples, strings, bytes and
numbers need no global and pass.
"""

import pickle
from collections.abc import Callable
from typing import Any

import numpy as np

from convnet.runtime.errors import DataError


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """`codecs.encode` as protocol 0-2 pickles use it to rebuild bytes, for latin-1 only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refusing codecs.encode({type(text).__name__}, {encoding!r})")
    return text.encode("latin1")


# numpy pickles an array as _reconstruct(ndarray, shape, dtype) + state, or with
# protocol 5 as _frombuffer(buffer, dtype, shape, order); the module is
# numpy.core before numpy 2 and numpy._core since.
_RECONSTRUCT = np.zeros(1).__reduce__()[0]
_FROMBUFFER = np.zeros(1).__reduce_ex__(5)[0]
ALLOWED_GLOBALS: dict[tuple[str, str], Callable[..., Any]] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("codecs", "encode"): _latin1_encode,
    ("_codecs", "encode"): _latin1_encode,
}


class ForbiddenGlobalError(pickle.UnpicklingError):
    """The pickle names a global outside ALLOWED_GLOBALS."""


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that resolves only ALLOWED_GLOBALS."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise ForbiddenGlobalError(f"{module}.{name}") from None


def load(path: str, encoding: str = "bytes",
         how_to_replace: str = "Download it again from the official address.") -> Any:
    """Unpickles `path` allowing only plain data and numpy arrays.

    Args:
      path: pickle file.
      encoding: how Python 2 `str` objects are decoded; 'bytes' (the CIFAR
        convention) keeps them as bytes, so keys read b'data'.
      how_to_replace: the sentence ending the errors (where to get an intact file).

    Raises:
      DataError naming the file: it refers to a forbidden global (nothing was
        called), or it is not a valid pickle.
    """
    try:
        with open(path, "rb") as f:
            return RestrictedUnpickler(f, encoding=encoding).load()
    except ForbiddenGlobalError as e:
        raise DataError(f"{path} refers to {e}, which a data file never needs: refusing to load "
                        f"it (it may have been crafted to run code). {how_to_replace}") from None
    except Exception as e:  # noqa: BLE001 -- pickle raises many types on malformed input
        raise DataError(f"{path} is not a readable pickle ({type(e).__name__}: {e}): the file is "
                        f"truncated or corrupt. {how_to_replace}") from e
