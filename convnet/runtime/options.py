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


_KIND_NAMES = {bool: "a boolean", int: "an int", float: "a float", str: "a string"}


def _coerced(name: str, value, kind):
    """`value` as the field's `kind`, converted where the flag would accept it (an int for a
    float, an integral float for an int, a list for a sequence); TypeError otherwise."""
    if value is None:
        return None
    if typing.get_origin(kind) in (tuple, list, collections.abc.Sequence):
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise TypeError(f"--{name} must be a list or tuple, got {value!r} "
                            f"({type(value).__name__})")
        item_kind = (typing.get_args(kind) or (str,))[0]
        return tuple(_coerced(name, item, item_kind) for item in value)
    is_bool = isinstance(value, bool)
    if kind is float and isinstance(value, (int, float)) and not is_bool:
        return float(value)
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if (kind is int and isinstance(value, int) and not is_bool) or (
            kind in (bool, str) and isinstance(value, kind)) or kind not in _KIND_NAMES:
        return value
    raise TypeError(f"--{name} must be {_KIND_NAMES[kind]}, got {value!r} "
                    f"({type(value).__name__})")


def check(config, config_class=None) -> None:
    """Coerces each field of `config_class` (default: the config's class) to its type as its
    flag would (an int where a float is meant; TypeError, naming the flag, for a wrong type),
    then raises ValueError for one outside its choices or under its lower bound (the rules
    its flag enforces), naming the flag."""
    for field, kind in _options(config_class or type(config)):
        value = _coerced(field.name, getattr(config, field.name), kind)
        if value is not getattr(config, field.name):
            object.__setattr__(config, field.name, value)
        meta = field.metadata
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


def reference(config_class, own_only: bool = False) -> list[tuple[str, str, str]]:
    """(flag, default, help) of every `option` field of `config_class`, in declaration order
    (with `own_only`, only the fields the class itself declares, not those it inherits). The
    default as the flag shows it (`--name` for a true boolean, `--noname` for a false one,
    `none` for None); the help with its choices and lower bound appended. The documentation's
    flags reference is made of these rows."""
    own = vars(config_class).get("__annotations__", {}) if own_only else None
    rows = []
    for field, kind in _options(config_class):
        if own is not None and field.name not in own:
            continue
        default, meta = _default(field), field.metadata
        if kind is bool and default is not None:
            shown = f"--{'' if default else 'no'}{field.name}"
        elif default is None:
            shown = "none"
        elif isinstance(default, (list, tuple)):
            shown = ",".join(str(v) for v in default) or "(empty)"
        else:
            shown = str(default) if default != "" else "(empty)"
        text = meta["help"]
        if meta["choices"] is not None:
            text += f" One of: {', '.join(meta['choices'])}."
        if meta["lower_bound"] is not None:
            text += f" At least {meta['lower_bound']:g}."
        if meta.get("required"):
            text += " Required."
        rows.append((f"--{field.name}", shown, text))
    return rows
