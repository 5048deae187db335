"""The documentation: the README's and the guide's Python snippets run, the flags they name exist,
and the site's generated pages (docs/hooks/reference.py) hold what they promise.

Each page's ```python blocks run in order in one namespace (as a reader pastes them into one
notebook), in a temporary directory, with `/tmp/` in them pointing into it. A page whose snippets
need a trained model or exported files gets them from `SETUP` first.
"""

import glob
import importlib.util
import os
import re

import numpy as np
import pytest

from convnet import training
from convnet.serving import checkpoint_export as export

from helpers import REPO

PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.S)
PAGES = ["README.md", *sorted(os.path.relpath(p, REPO)
                             for p in glob.glob(os.path.join(REPO, "docs", "guide", "*.md")))]
SNIPPET_PAGES = [page for page in PAGES
                 if PYTHON_BLOCK.search(open(os.path.join(REPO, page), encoding="utf-8").read())]


def _hook():
    spec = importlib.util.spec_from_file_location(
        "docs_reference_hook", os.path.join(REPO, "docs", "hooks", "reference.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _exported_model(tmp):
    """What the export page's snippets read: /tmp/cifar10_train (two steps of the tutorial
    model on synthetic data), its SavedModel, TFLite and ONNX exports, a cat.png."""
    train_dir = os.path.join(tmp, "cifar10_train")
    training.Trainer(training.TrainConfig.from_settings(
        train_dir=train_dir, data_source="synthetic", max_steps=2, batch_size=8,
        shuffle_buffer=16, log_frequency=2, save_checkpoint_steps=2,
        num_parallel_calls=2)).train()
    for export_format, directory in [("saved_model", "cifar10_export"),
                                     ("tflite", "cifar10_tflite"), ("onnx", "cifar10_onnx")]:
        export.export(train_dir, os.path.join(tmp, directory), export_format)
    import tensorflow as tf
    uint8_batch = np.random.default_rng(0).integers(0, 256, [3, 32, 32, 3], dtype=np.uint8)
    tf.io.write_file(os.path.join(tmp, "cat.png"), tf.io.encode_png(uint8_batch[0]))
    return {"uint8_batch": uint8_batch}


SETUP = {"docs/guide/export_and_serving.md": _exported_model}


@pytest.mark.slow
@pytest.mark.parametrize("page", SNIPPET_PAGES)
def test_the_python_snippets_of_each_page_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = SETUP[page](str(tmp_path)) if page in SETUP else {}
    text = open(os.path.join(REPO, page), encoding="utf-8").read()
    for number, block in enumerate(PYTHON_BLOCK.findall(text), start=1):
        code = block.replace("/tmp/", f"{tmp_path}/")
        exec(compile(code, f"{page} (python block {number})", "exec"), namespace)


def test_the_snippet_pages_are_found():
    assert {"README.md", "docs/guide/python_api.md", "docs/guide/your_model.md"} <= set(
        SNIPPET_PAGES)


# Flags of other programs that the pages and the code show (pytest, TensorBoard, mkdocs, pip,
# convnet.runtime.quiet_start's filter process), and placeholders (`--name=value`).
OTHER_PROGRAMS = {"dist", "logdir", "strict", "quiet", "upgrade", "port", "bind_all", "filter",
                  "min_level", "gpus_hidden", "name", "noname", "flag"}


def _known_flags() -> set:
    from convnet.runtime import options
    hook = _hook()
    known = {"recipe", "flagfile", "help", "helpfull", "helpshort", "verbosity", "v",
             "logtostderr", "alsologtostderr"}
    for _, sections in hook.COMMANDS:
        for _, module_name, class_name, _ in sections:
            config_class = getattr(importlib.import_module(module_name), class_name)
            known |= {flag[2:] for flag, _, _ in options.reference(config_class)}
    known |= {flag[2:] for flag, _, _ in options.reference(training.TrainConfig)}
    return known


def test_every_flag_the_pages_name_exists():
    known = _known_flags()
    unknown = {}
    for page in [*PAGES, "docs/design.md", "CONTRIBUTING.md", "BUILD.md"]:
        text = open(os.path.join(REPO, page), encoding="utf-8").read()
        for name in re.findall(r"(?<![\w-])--([a-z][a-z0-9_]*)(?![\w-])", text):
            if name in known or (name.startswith("no") and name[2:] in known):
                continue
            if name not in OTHER_PROGRAMS:
                unknown.setdefault(page, set()).add(name)
    assert unknown == {}


def test_the_generated_pages_list_every_public_module_and_every_flag():
    hook = _hook()
    api = hook.api_page()
    assert all(f"::: {module}\n" in api for module in hook.PUBLIC)
    flags_page = hook.flags_page()
    for flag in ("--time_budget", "--learning_rate", "--top_k", "--format", "--models"):
        assert f"| `{flag}` |" in flags_page, flag
    assert "| `--moving_average_decay` | `0.9999` |" in flags_page
    home = hook.home_page("[Install](docs/guide/install.md) · [CONTRIBUTING.md](CONTRIBUTING.md)")
    assert home == "[Install](guide/install.md) · `CONTRIBUTING.md`"


def test_docstring_references_resolve_to_modules_and_objects_or_not():
    hook = _hook()
    for good in ("convnet.models", "convnet.models.build_model", "convnet.api.FitResult",
                 "convnet.data.sources.arrays.ArraySource", "convnet.ops.conv2d"):
        assert hook.resolves(good), good
    for broken in ("convnet.nosuch", "convnet.models.build_modle", "convnet.api.FitResult.x"):
        assert not hook.resolves(broken), broken
    assert hook.problems() == []  # today's docstrings: no broken reference


def test_every_flag_the_code_names_in_its_strings_exists():
    """Error messages, help texts and docstrings name only flags that exist (a message that
    says `pass --image_size=N` for a flag called --folder_image_size sends the reader
    nowhere)."""
    import io
    import tokenize
    known = _known_flags()
    unknown = {}
    for folder, _, files in os.walk(os.path.join(REPO, "convnet")):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8") as f:
                tokens = tokenize.generate_tokens(io.StringIO(f.read()).readline)
                strings = [t.string for t in tokens if t.type == tokenize.STRING]
            for text in strings:
                for flag in re.findall(r"(?<![\w-])--([a-z][a-z0-9_]*)(?![\w-])", text):
                    if flag in known or (flag.startswith("no") and flag[2:] in known):
                        continue
                    if flag not in OTHER_PROGRAMS:
                        unknown.setdefault(os.path.relpath(path, REPO), set()).add(flag)
    assert unknown == {}
