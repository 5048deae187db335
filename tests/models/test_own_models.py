"""convnet.models.registry: models from outside the zoo, by name (register, an entry point of an
installed package) or by import path, with one clear line when one does not resolve."""

import sys
import textwrap

import pytest

from convnet import models
from convnet.models import registry
from convnet.models.lenet import LeNet5

PACKAGE = textwrap.dedent("""
    from convnet.models.lenet import LeNet5


    def small_net(num_classes=10, weight_decay=None):
        return LeNet5(num_classes=num_classes, weight_decay=weight_decay)


    class Factories:
        @staticmethod
        def make(num_classes=10, weight_decay=None):
            return LeNet5(num_classes=num_classes, weight_decay=weight_decay)


    NOT_A_FACTORY = 3


    def not_a_model(num_classes=10, weight_decay=None):
        return "a string"
""")


@pytest.fixture
def user_package(tmp_path, monkeypatch):
    """A package `my_nets` on sys.path, with an entry point `small` (group convnet.models)
    declared in its metadata (a .dist-info folder beside it, as pip install writes one)."""
    package = tmp_path / "my_nets"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "nets.py").write_text(PACKAGE)
    info = tmp_path / "my_nets-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-nets\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[convnet.models]\nsmall = my_nets.nets:small_net\nbroken = my_nets.nope:missing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_nets"
    for name in [n for n in sys.modules if n.startswith("my_nets")]:
        del sys.modules[name]
    for name in ("small", "broken", "mine"):
        registry.MODELS.pop(name, None)


def test_an_import_path_builds_the_model_it_names(user_package):
    model = models.build_model("my_nets.nets:small_net", 7)
    assert isinstance(model, LeNet5) and model.num_classes == 7
    assert isinstance(models.build_model("my_nets.nets:Factories.make"), LeNet5)
    assert models.import_path(sys.modules["my_nets.nets"].small_net) == "my_nets.nets:small_net"


def test_an_entry_point_is_found_by_its_name_and_listed(user_package):
    assert "small" in models.names() and "small" not in models.MODELS
    assert isinstance(models.build_model("small", 5), LeNet5)
    assert "small" in models.MODELS  # resolved once, then registered
    with pytest.raises(ValueError, match=r"--model=broken: the entry point my_nets.nope:missing "
                                         r"\(group convnet.models\) does not load"):
        models.build_model("broken")


def test_register_by_name_and_what_it_refuses():
    models.register("mine", LeNet5)
    try:
        assert isinstance(models.build_model("mine", 3), LeNet5)
        with pytest.raises(ValueError, match="--model=mine is already registered"):
            models.register("mine", LeNet5)
        models.register("mine", LeNet5, replace=True)
    finally:
        registry.MODELS.pop("mine")
    with pytest.raises(ValueError, match="hold no ':'"):
        models.register("a:b", LeNet5)
    with pytest.raises(TypeError, match="is not callable"):
        models.register("x", 3)


@pytest.mark.parametrize("name, message", [
    ("nosuch", "unknown --model='nosuch': choose from alexnet, baseline, .* or give an import "
               "path package.module:factory"),
    ("gone_package.nets:small_net",
     r"--model=gone_package.nets:small_net: cannot import gone_package.nets \(No module named "
     r"'gone_package'\): install"),
    ("my_nets.nets:big_net", "my_nets.nets has no big_net"),
    ("my_nets.nets:NOT_A_FACTORY", "NOT_A_FACTORY is a int, not a factory"),
])
def test_a_name_that_does_not_resolve_is_one_line_with_the_way_out(user_package, name, message):
    with pytest.raises(ValueError, match=message):
        models.build_model(name)


def test_a_factory_must_return_a_model(user_package):
    with pytest.raises(TypeError, match="the factory returned a str, not a convnet.models.Model"):
        models.build_model("my_nets.nets:not_a_model")


def test_import_path_is_none_where_another_process_could_not_import_it():
    def local(num_classes=10, weight_decay=None):
        return LeNet5(num_classes=num_classes, weight_decay=weight_decay)

    assert models.import_path(local) is None
    assert models.import_path(LeNet5) == "convnet.models.lenet:LeNet5"
    assert models.model_help().startswith("Model: one of alexnet, baseline, cifar10")
