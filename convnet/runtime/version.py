"""convnet's version: its one owner (pyproject.toml reads it; run.json records it)."""

__version__ = "0.1.0"
