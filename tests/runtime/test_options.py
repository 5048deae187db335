"""convnet.runtime.options: flags derived from config dataclasses, and the same rules in code."""

import dataclasses
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
