"""Config fields that are also command-line flags: one owner for a setting's default, help,
choices and bounds.

A config dataclass declares each setting once, with `option`:

    batch_size: int = option(128, "Examples per batch.", lower_bound=1)

and `define_flags(ConfigClass)` derives the absl flag of every such field (its
kind from the annotation: bool, int, float, str, a str with choices, a sequence
as a comma-separated list; Optional[X] as X with a None default), while
`check(config)` applies the same choices and bounds to a config built in code.
`from_flags` fills a config from the parsed flags, `flag_file` writes them back.
Defining is idempotent by name, so mains can share configs' flags.
"""

import collections.abc
import dataclasses
import types
import typing
from collections.abc import Sequence
from typing import Any

from absl import flags

FLAGS = flags.FLAGS


def option(default: Any, help: str, *, choices: Sequence[str] | None = None,
           lower_bound: float | None = None, required: bool = False):
    """A dataclass field with a flag's help text, allowed values, (inclusive) lower bound, and
    whether it must be given (its default is then None)."""
    metadata = {"help": help, "choices": tuple(choices) if choices is not None else None,
                "lower_bound": lower_bound, "required": required}
    if isinstance(default, (list, tuple)):
        return dataclasses.field(default_factory=lambda: tuple(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _options(config_class):
    """(field, its type with Optional removed) for each `option` field of the class."""
    hints = typing.get_type_hints(config_class)
    for field in dataclasses.fields(config_class):
        if "help" not in field.metadata:
            continue
        kind = hints[field.name]
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if typing.get_origin(kind) in (typing.Union, types.UnionType) and len(args) == 1:
            kind = args[0]
        yield field, kind


def _default(field):
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def _same_default(defined, default) -> bool:
    if isinstance(default, (list, tuple)):
        return list(defined or []) == [str(v) for v in default]
    return defined == default


def define_flags(config_class, flag_values: flags.FlagValues = FLAGS) -> None:
    """Defines the absl flag of every `option` field of `config_class` not yet defined.

    Raises ValueError for a flag already defined with another default (two configs
    that disagree about a setting cannot share one command line)."""
    for field, kind in _options(config_class):
        name, default, meta = field.name, _default(field), field.metadata
        if name in flag_values:
            defined = flag_values[name].default
            if _same_default(defined, default):
                continue
            raise ValueError(f"--{name} is already defined with the default {defined!r}; "
                             f"{config_class.__name__}.{name}'s is {default!r}")
        bound = {} if meta["lower_bound"] is None else {"lower_bound": meta["lower_bound"]}
        if meta["choices"] is not None:
            flags.DEFINE_enum(name, default, list(meta["choices"]), meta["help"],
                              flag_values=flag_values)
        elif kind is bool:
            flags.DEFINE_boolean(name, default, meta["help"], flag_values=flag_values)
        elif kind is int:
            flags.DEFINE_integer(name, default, meta["help"], flag_values=flag_values, **bound)
        elif kind is float:
            flags.DEFINE_float(name, default, meta["help"], flag_values=flag_values, **bound)
        elif kind is str:
            flags.DEFINE_string(name, default, meta["help"], flag_values=flag_values)
        elif typing.get_origin(kind) in (tuple, list, collections.abc.Sequence):
            flags.DEFINE_list(name, [str(v) for v in default], meta["help"],
                              flag_values=flag_values)
        else:
            raise TypeError(f"{config_class.__name__}.{name}: no flag kind for {kind}")
        if meta.get("required"):
            flags.mark_flag_as_required(name, flag_values=flag_values)


def check(config, config_class=None) -> None:
    """Raises ValueError for a field of `config_class` (default: the config's class) outside
    its choices or under its lower bound (the rules its flag enforces), naming the flag."""
    for field, _ in _options(config_class or type(config)):
        value, meta = getattr(config, field.name), field.metadata
        if value is None:
            if meta.get("required"):
                raise ValueError(f"--{field.name} is required")
            continue
        if meta["choices"] is not None and value not in meta["choices"]:
            raise ValueError(f"unknown --{field.name}={value!r}: choose from "
                             f"{', '.join(meta['choices'])}")
        bound = meta["lower_bound"]
        if bound is not None and value < bound:
            rule = "be positive" if bound == 1 else f"be >= {bound:g}"
            raise ValueError(f"--{field.name} must {rule}, got {value}")


def from_flags(config_class, flag_values: flags.FlagValues = FLAGS):
    """A `config_class` filled from the parsed flags of its fields' names."""
    values = {field.name: flag_values[field.name].value
              for field in dataclasses.fields(config_class) if field.name in flag_values}
    # A list flag's value is a list; the field's default a tuple: one kind of sequence.
    values = {name: tuple(value) if isinstance(value, list) else value
              for name, value in values.items()}
    return config_class(**values)


def given_flags(config_classes, flag_values: flags.FlagValues = FLAGS) -> set:
    """The names of the flags of `config_classes` given on the command line (or in a flag
    file), not left at their defaults."""
    return {field.name for config_class in config_classes
            for field in dataclasses.fields(config_class)
            if field.name in flag_values and flag_values[field.name].present}


def flag_file(config_class, flag_values: flags.FlagValues = FLAGS) -> str:
    """The flag file of the parsed flags that fill `config_class` (one `--name=value` a
    line, every one given or with a default; None ones are left out): `--flagfile` of it
    reruns the command."""
    lines = [flag_values[field.name].serialize() for field in dataclasses.fields(config_class)
             if field.name in flag_values]
    return "".join(line + "\n" for line in lines if line)
