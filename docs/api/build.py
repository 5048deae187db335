"""Builds the API reference of convnet's public names with pdoc, and fails on a broken reference.

    python docs/api/build.py OUT_DIR        # OUT_DIR/index.html, one page a module

The public API (README, "The public API"): PUBLIC below, each module with the names it
exports. pdoc renders their docstrings; then every `convnet.x.y` written in backquotes in those
docstrings must name a module or an object that exists, and every exported name must have a
docstring: otherwise this exits 1, naming each problem (CI runs it).
"""

import importlib
import inspect
import os
import pathlib
import re
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import pdoc  # noqa: E402

PUBLIC = ["convnet", "convnet.api", "convnet.ops", "convnet.layers", "convnet.models",
          "convnet.models.base", "convnet.models.registry", "convnet.data",
          "convnet.data.sources.base", "convnet.data.sources.arrays",
          "convnet.data.sources.folder", "convnet.data.sources.spec", "convnet.training",
          "convnet.training.config", "convnet.training.step", "convnet.evaluation",
          "convnet.serving.loaded_model", "convnet.serving.export", "convnet.runtime.errors"]
REFERENCE = re.compile(r"`(convnet(?:\.\w+)+)")


def resolves(dotted: str) -> bool:
    """Whether `dotted` is a module, or an attribute of the longest module prefix of it."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


def problems() -> list[str]:
    found = []
    for module_name in PUBLIC:
        module = importlib.import_module(module_name)
        texts = [(module_name, module.__doc__ or "")]
        exported = getattr(module, "__all__", None) or [
            name for name, value in vars(module).items()
            if not name.startswith("_") and getattr(value, "__module__", None) == module_name
            and (inspect.isclass(value) or inspect.isfunction(value))]
        for name in exported:
            if name.startswith("__"):
                continue
            value = getattr(module, name)
            if inspect.isclass(value) or inspect.isfunction(value) or inspect.ismodule(value):
                doc = inspect.getdoc(value)
                if not doc:
                    found.append(f"{module_name}.{name} has no docstring")
                texts.append((f"{module_name}.{name}", doc or ""))
                if inspect.isclass(value):
                    texts += [(f"{module_name}.{name}.{member}", inspect.getdoc(attr) or "")
                              for member, attr in vars(value).items()
                              if callable(attr) and not member.startswith("_")]
        for where, text in texts:
            for reference in REFERENCE.findall(text):
                if not resolves(reference.rstrip(".")):
                    found.append(f"{where}: `{reference}` names nothing")
    return found


def main(out_dir: str) -> int:
    pdoc.render.configure(docformat="google", footer_text="convnet")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        pdoc.pdoc(*PUBLIC, output_directory=pathlib.Path(out_dir))
    broken = [f"pdoc: {w.message}" for w in caught if w.filename.startswith(
        os.path.dirname(pdoc.__file__))]
    broken += problems()
    for problem in broken:
        print(f"API reference: {problem}", file=sys.stderr)
    print(f"wrote the API reference of {len(PUBLIC)} modules to {out_dir}"
          + (f"; {len(broken)} problem(s)" if broken else ""))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "build/api"))
