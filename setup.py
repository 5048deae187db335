"""convnet's build shim: the package metadata is in pyproject.toml (PEP 621)."""

import setuptools

setuptools.setup()
