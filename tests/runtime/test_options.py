"""convnet.runtime.options: flags derived from config dataclasses, and the same rules in code."""

import dataclasses
import re
from collections.abc import Sequence

import pytest
from absl import flags

from convnet.runtime import options
from convnet.runtime.options import option


@dataclasses.dataclass
class Toy:
    name: str = option("a", "A string.")
    mode: str = option("x", "An enum.", choices=("x", "y"))
    count: int = option(3, "A positive int.", lower_bound=1)
    rate: float | None = option(None, "An optional float.", lower_bound=0)
    on: bool = option(True, "A boolean.")
    epochs: Sequence[float] = option((1.0, 2.5), "A list.")
    plain: int = 7  # not an option: no flag


def _parsed(*argv):
    values = flags.FlagValues()
    options.define_flags(Toy, values)
    values(["prog", *argv])
    return values


def test_each_option_becomes_a_flag_of_its_kind_with_its_default():
    values = _parsed()
    assert values["mode"].parser.enum_values == ["x", "y"]
    assert {name: values[name].value for name in ("name", "mode", "count", "rate", "on")} == {
        "name": "a", "mode": "x", "count": 3, "rate": None, "on": True}
    assert values["epochs"].value == ["1.0", "2.5"]
    assert "plain" not in values
    assert values["count"].help == "A positive int."


def test_parsed_flags_fill_the_config():
    values = _parsed("--mode=y", "--count=5", "--rate=0.5", "--noon", "--epochs=3,4")
    assert options.from_flags(Toy, values) == Toy(name="a", mode="y", count=5, rate=0.5,
                                                  on=False, epochs=("3", "4"))


@pytest.mark.parametrize("name, value", [("mode", "z"), ("count", 0), ("rate", -1.0)])
def test_the_command_line_refuses_what_check_refuses(name, value):
    with pytest.raises(flags.IllegalFlagValueError):
        _parsed(f"--{name}={value}")
    with pytest.raises(ValueError, match=f"--{name}"):
        options.check(Toy(**{name: value}))


def test_check_messages():
    with pytest.raises(ValueError, match=r"unknown --mode='z': choose from x, y"):
        options.check(Toy(mode="z"))
    with pytest.raises(ValueError, match="--count must be positive, got 0"):
        options.check(Toy(count=0))
    with pytest.raises(ValueError, match="--rate must be >= 0, got -0.5"):
        options.check(Toy(rate=-0.5))
    options.check(Toy())  # the defaults pass


def test_check_coerces_what_a_flag_would_accept_and_names_a_wrong_type():
    toy = Toy(rate=0, count=4.0, epochs=[1, 2])
    options.check(toy)
    assert (toy.rate, toy.count, toy.epochs) == (0.0, 4, (1.0, 2.0))
    assert type(toy.rate) is float and type(toy.count) is int
    assert all(type(v) is float for v in toy.epochs)
    for field, value, message in [
            ("count", "4", "--count must be an int, got '4' (str)"),
            ("count", 2.5, "--count must be an int, got 2.5 (float)"),
            ("count", True, "--count must be an int, got True (bool)"),
            ("rate", "0.1", "--rate must be a float, got '0.1' (str)"),
            ("on", 1, "--on must be a boolean, got 1 (int)"),
            ("name", 3, "--name must be a string, got 3 (int)"),
            ("epochs", "1,2", "--epochs must be a list or tuple, got '1,2' (str)"),
            ("epochs", ["x"], "--epochs must be a float, got 'x' (str)")]:
        with pytest.raises(TypeError, match=re.escape(message)):
            options.check(Toy(**{field: value}))


def test_defining_twice_is_a_no_op_and_the_flag_file_reruns_the_command():
    values = _parsed("--count=9", "--noon")
    options.define_flags(Toy, values)  # no DuplicateFlagError
    text = options.flag_file(Toy, values)
    assert "--count=9\n" in text and "--noon\n" in text and "rate" not in text
    again = flags.FlagValues()
    options.define_flags(Toy, again)
    again(["prog", *text.split()])
    assert options.from_flags(Toy, again) == options.from_flags(Toy, values)


def test_a_field_type_without_a_flag_kind_is_an_error():
    @dataclasses.dataclass
    class Bad:
        shape: dict = option(None, "No flag kind.")

    with pytest.raises(TypeError, match="Bad.shape"):
        options.define_flags(Bad, flags.FlagValues())


def test_a_flag_defined_with_another_default_is_an_error():
    @dataclasses.dataclass
    class Other:
        count: int = option(4, "Another default.")

    values = _parsed()
    options.define_flags(Toy, values)  # the same defaults: nothing to do
    with pytest.raises(ValueError, match="--count is already defined with the default 3; "
                                         "Other.count's is 4"):
        options.define_flags(Other, values)


@dataclasses.dataclass
class ToyChild(Toy):
    off: bool = option(False, "Another boolean.")
    path: str = option("", "An empty default.")


def test_the_reference_rows_show_defaults_as_the_flags_do_and_own_fields_apart():
    rows = options.reference(Toy)
    assert [row[0] for row in rows] == ["--name", "--mode", "--count", "--rate", "--on",
                                        "--epochs"]  # `plain` is no flag
    assert dict((flag, default) for flag, default, _ in rows) == {
        "--name": "a", "--mode": "x", "--count": "3", "--rate": "none", "--on": "--on",
        "--epochs": "1.0,2.5"}
    helps = {flag: text for flag, _, text in rows}
    assert helps["--mode"] == "An enum. One of: x, y."
    assert helps["--count"] == "A positive int. At least 1."
    assert helps["--rate"] == "An optional float. At least 0."
    assert options.reference(ToyChild, own_only=True) == [
        ("--off", "--nooff", "Another boolean."), ("--path", "(empty)", "An empty default.")]
    assert len(options.reference(ToyChild)) == len(rows) + 2


@dataclasses.dataclass
class Inner:
    depth: int = option(2, "An inner int.", lower_bound=1)
    label: str = option("in", "An inner string.")


@dataclasses.dataclass
class Outer(options.FlatSettings):
    width: int = option(4, "An outer int.")
    inner: Inner = dataclasses.field(default_factory=Inner)


@dataclasses.dataclass
class Clash:
    width: int = option(5, "The same flag name as Outer's.")
    inner: Inner = dataclasses.field(default_factory=Inner)


@dataclasses.dataclass
class Tree:
    outer: Outer = dataclasses.field(default_factory=Outer)
    clash: Clash = dataclasses.field(default_factory=Clash)


def test_a_nested_config_has_flat_flags_and_is_filled_nested():
    values = flags.FlagValues()
    options.define_flags(Outer, values)
    assert sorted(values) == ["depth", "label", "width"] == sorted(options.flag_names(Outer))
    values(["prog", "--depth=9", "--width=3"])
    config = options.from_flags(Outer, values)
    assert config == Outer(width=3, inner=Inner(depth=9))
    assert options.given_flags([Outer], values) == {"depth", "width"}
    assert options.flag_file(Outer, values) == "--width=3\n--depth=9\n--label=in\n"
    assert [row[0] for row in options.reference(Outer)] == ["--width", "--depth", "--label"]
    assert [row[0] for row in options.reference(Outer, own_only=True)] == ["--width"]


def test_flat_settings_go_to_the_config_that_owns_each():
    config = Outer.from_settings(depth=5, width=1)
    assert config == Outer(width=1, inner=Inner(depth=5))
    assert config.settings() == {"width": 1, "depth": 5, "label": "in"}
    changed = config.with_settings(label="x")
    assert changed.inner == Inner(depth=5, label="x") and config.inner.label == "in"
    assert config.with_settings(width=2).inner is config.inner  # untouched configs are shared
    with pytest.raises(ValueError, match=r"unknown Outer setting.s. dept \(did you mean depth\?\)"):
        Outer.from_settings(dept=3)
    with pytest.raises(ValueError, match="unknown Outer setting.s. inner:"):
        config.with_settings(inner=Inner())  # a nested config is set as a field, not a setting


def test_two_fields_of_one_tree_cannot_share_a_flag():
    with pytest.raises(ValueError, match=r"Tree.outer.width and Tree.clash.width are one flag"):
        options.define_flags(Tree, flags.FlagValues())


def test_a_nested_config_of_another_type_is_one_clear_error():
    with pytest.raises(TypeError, match="Outer.inner must be of class Inner .* got dict"):
        options.check(Outer(inner={"depth": 3}))
    options.check(Outer())
