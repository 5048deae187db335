"""mkdocs hook: the generated pages, and the check of the docstrings' references.

`mkdocs build --strict` (mkdocs.yml names this file under `hooks:`) adds three pages made here:

- `index.md`: the repository's README.md, its links into docs/ made relative to the site (one
  landing page for both);
- `reference/api.md`: the API reference of the public modules (PUBLIC), rendered by
  mkdocstrings from their docstrings;
- `reference/flags.md`: every flag of every command, by concern, from the config dataclasses
  (`convnet.runtime.options.reference`: one owner for a flag's default and help).

and fails the build (a warning under --strict) when a public module's docstrings name a
`convnet.x.y` that does not exist, or an exported class or function has no docstring.
"""

import importlib
import inspect
import logging
import os
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

log = logging.getLogger("mkdocs.hooks.reference")

# The public API (docs/guide/python_api.md, "What stays stable"): the modules whose reference
# the site shows.
PUBLIC = ["convnet", "convnet.api", "convnet.ops", "convnet.layers", "convnet.models",
          "convnet.models.base", "convnet.models.registry", "convnet.data",
          "convnet.data.sources.base", "convnet.data.sources.arrays",
          "convnet.data.sources.folder", "convnet.data.sources.spec", "convnet.training",
          "convnet.training.config", "convnet.training.step", "convnet.evaluation",
          "convnet.serving.loaded_model", "convnet.serving.checkpoint_export",
          "convnet.runtime.errors"]
REFERENCE = re.compile(r"`(convnet(?:\.\w+)+)")

# The commands and the config classes whose fields are their flags: (command, [(section title,
# module, class name, only the fields the class declares itself)]).
COMMANDS = [
    ("convnet.train", [
        ("The run", "convnet.training.config", "TrainConfig", True),
        ("The optimizer and its schedule", "convnet.optim.config", "OptimConfig", True),
        ("The data", "convnet.data.config", "DataConfig", True),
        ("Augmentation and normalization", "convnet.data.config", "AugmentConfig", True),
        ("Devices and precision", "convnet.runtime.compute", "ComputeConfig", True)]),
    ("convnet.eval", [("Evaluation (and the data and devices flags of convnet.train)",
                       "convnet.evaluation.evaluator", "EvalConfig", True)]),
    ("convnet.bench", [("The bench (and every flag of convnet.train)",
                        "convnet.benchmarking.run", "BenchSettings", False)]),
    ("convnet.compare", [("The comparison (and the data and devices flags of convnet.train)",
                          "convnet.reports.comparison", "CompareConfig", False)]),
    ("convnet.predict", [("Prediction", "convnet.serving.loaded_model", "InferenceConfig",
                          False)]),
    ("convnet.export", [("Export (and the flags of convnet.predict)",
                         "convnet.serving.checkpoint_export", "ExportConfig", True)]),
    ("convnet.report", [("The report", "convnet.reports.run_report", "ReportConfig", False)]),
    ("convnet.summary", [("The layer table", "convnet.summary", "SummaryConfig", False)]),
    ("convnet.make_shards", [("The shards (and the data flags of convnet.train)",
                              "convnet.make_shards", "ShardConfig", False)]),
]


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
    """Each broken `convnet.x.y` reference and each exported name without a docstring in the
    public modules."""
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


def api_page() -> str:
    lines = ["# API reference", "",
             "The public modules, from their docstrings (what stays stable between releases: "
             "[the Python API](../guide/python_api.md#what-stays-stable)).", ""]
    for module_name in PUBLIC:
        lines += [f"::: {module_name}", ""]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def flags_page() -> str:
    from convnet.runtime import options  # imported here: the hook module loads without TF
    lines = ["# Flags reference", "",
             "Every flag of every command, by concern, generated from the config dataclasses "
             "whose fields they are (`convnet.runtime.options`): the default as the flag shows "
             "it, and its help. A field is a flag and a keyword of `convnet.fit` / "
             "`convnet.evaluate` alike. `--help` of a command prints the same.", ""]
    for command, sections in COMMANDS:
        lines += [f"## {command}", ""]
        for title, module_name, class_name, own_only in sections:
            config_class = getattr(importlib.import_module(module_name), class_name)
            lines += [f"### {title}", "", f"`{module_name}.{class_name}`", "",
                      "| flag | default | what it does |", "| --- | --- | --- |"]
            lines += [f"| `{flag}` | `{_cell(default)}` | {_cell(text)} |"
                      for flag, default, text in options.reference(config_class, own_only)]
            lines.append("")
    return "\n".join(lines)


def home_page(readme: str) -> str:
    """README.md as the site's home: `](docs/x)` links become `](x)`; links to the repository's
    own files outside docs/ (CONTRIBUTING.md, BUILD.md, LICENSE) become their names in code."""
    text = re.sub(r"\]\(docs/", "](", readme)
    return re.sub(r"\[([^\]]+)\]\((CONTRIBUTING\.md|BUILD\.md|LICENSE)\)", r"`\2`", text)


def on_files(files, config):
    from mkdocs.structure.files import File
    root = os.path.dirname(config["config_file_path"])
    with open(os.path.join(root, "README.md"), encoding="utf-8") as f:
        files.append(File.generated(config, "index.md", content=home_page(f.read())))
    files.append(File.generated(config, "reference/api.md", content=api_page()))
    files.append(File.generated(config, "reference/flags.md", content=flags_page()))
    return files


def on_pre_build(config):
    for problem in problems():
        log.warning(f"API reference: {problem}")
