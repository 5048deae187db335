"""docs/api/build.py: the check that fails CI's API reference on a broken reference."""

import importlib.util
import os

from helpers import REPO


def _build_module():
    spec = importlib.util.spec_from_file_location(
        "api_reference_build", os.path.join(REPO, "docs", "api", "build.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_references_resolve_to_modules_and_objects_or_not():
    build = _build_module()
    for good in ("convnet.models", "convnet.models.build_model", "convnet.api.FitResult",
                 "convnet.data.sources.arrays.ArraySource", "convnet.ops.conv2d"):
        assert build.resolves(good), good
    for broken in ("convnet.nosuch", "convnet.models.build_modle", "convnet.api.FitResult.x"):
        assert not build.resolves(broken), broken
    assert build.problems() == []  # today's docstrings: no broken reference
