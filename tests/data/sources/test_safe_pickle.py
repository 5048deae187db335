"""convnet.data.sources.safe_pickle: plain data and numpy arrays load; any other global is refused
unrun."""

import codecs
import io
import os
import pickle

import numpy as np
import pytest

from convnet.data.sources import safe_pickle
from convnet.runtime.errors import DataError

from fake_data import RunsCode, write_pickle


def test_only_latin1_codecs_encode_is_allowed(tmp_path):
    path = str(tmp_path / "rot13.pkl")
    write_pickle(path, RunsCode(codecs.encode, "abc", "rot13"), style=2)
    with pytest.raises(DataError, match="not a readable pickle.*rot13"):
        safe_pickle.load(path)
    write_pickle(path, {"bytes": b"\x00\xff", "array": np.arange(3, dtype=np.uint8)}, style=2)
    loaded = safe_pickle.load(path)
    assert loaded["bytes"] == b"\x00\xff" and loaded["array"].tolist() == [0, 1, 2]


@pytest.mark.parametrize("protocol", [2, 5])
def test_a_forbidden_global_is_refused_before_it_runs(tmp_path, protocol):
    marker = tmp_path / "pwned"
    path = str(tmp_path / "batch")
    write_pickle(path, {b"labels": [RunsCode(os.system, f"touch {marker}")]}, style=protocol)
    with pytest.raises(DataError) as error:
        safe_pickle.load(path, how_to_replace="Fetch it again.")
    assert str(error.value) == (
        f"{path} refers to {os.system.__module__}.system, which a data file never needs: refusing "
        f"to load it (it may have been crafted to run code). Fetch it again.")
    assert not marker.exists()


@pytest.mark.parametrize("style", ["py2", 2, 3, 4, 5])
def test_numpy_arrays_and_plain_data_load_exactly(tmp_path, style):
    rng = np.random.default_rng(0)
    data = {b"data": rng.integers(0, 256, (4, 12), dtype=np.uint8),
            b"floats": np.asfortranarray(rng.normal(size=(3, 5)).astype(np.float32)),
            b"labels": [1, 2, 3], b"nested": (1.5, None, True, [b"x", {b"k": -7}])}
    path = str(tmp_path / "batch")
    write_pickle(path, data, style=style)
    loaded = safe_pickle.load(path)
    assert sorted(loaded) == sorted(data)
    for key in (b"data", b"floats"):
        assert loaded[key].dtype == data[key].dtype
        np.testing.assert_array_equal(loaded[key], data[key])
    assert loaded[b"labels"] == [1, 2, 3]
    assert loaded[b"nested"] == (1.5, None, True, [b"x", {b"k": -7}])


def test_python2_strings_are_bytes_unless_an_encoding_is_given(tmp_path):
    path = str(tmp_path / "py2")
    write_pickle(path, {"batch_label": "training batch 1"}, style="py2")
    assert safe_pickle.load(path) == {b"batch_label": b"training batch 1"}
    assert safe_pickle.load(path, encoding="latin1") == {"batch_label": "training batch 1"}


def test_a_file_that_is_not_a_pickle_is_a_data_error(tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_text("<html>404 Not Found</html>\n")
    with pytest.raises(DataError) as error:
        safe_pickle.load(str(path))
    message = str(error.value)
    assert message.startswith(f"{path} is not a readable pickle (UnpicklingError: ")
    assert message.endswith("): the file is truncated or corrupt. Download it again from the "
                            "official address.")
    complete = pickle.dumps({"a": list(range(100))}, protocol=2)
    path.write_bytes(complete[:len(complete) // 2])
    with pytest.raises(DataError, match="is not a readable pickle .*truncated or corrupt"):
        safe_pickle.load(str(path))


def test_the_unpickler_resolves_only_the_allowed_globals():
    unpickler = safe_pickle.RestrictedUnpickler(io.BytesIO(b""))
    assert unpickler.find_class("numpy", "ndarray") is np.ndarray
    assert unpickler.find_class("numpy", "dtype") is np.dtype
    for module, name in [("builtins", "eval"), ("os", "system"), ("numpy", "load"),
                         ("numpy.core.multiarray", "scalar")]:
        with pytest.raises(safe_pickle.ForbiddenGlobalError, match=f"^{module}.{name}$"):
            unpickler.find_class(module, name)
    assert issubclass(safe_pickle.ForbiddenGlobalError, pickle.UnpicklingError)
