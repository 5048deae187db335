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

A config nests the configs of the concerns it spans as fields whose type is a config
dataclass (`TrainConfig.optim: OptimConfig`, so `config.optim.momentum`); their
flags stay flat (`--momentum`), so every flag name is owned by one field of the
whole tree. `settings(config)` lists the tree as flat {flag name: value}, and
`build` / `replace` take flat settings (as `convnet.fit(momentum=0.9)` does) to
the field that owns each.
"""

import collections.abc
import dataclasses
import difflib
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


def nested(config_class) -> list[tuple[str, type]]:
    """(name, config class) of each field of `config_class` that is itself a config (a
    dataclass of options, made by its default factory)."""
    hints = typing.get_type_hints(config_class)
    return [(field.name, hints[field.name]) for field in dataclasses.fields(config_class)
            if dataclasses.is_dataclass(hints[field.name])]


def _options(config_class):
    """(field, its type with Optional removed) for each `option` field of the class itself
    (not of the configs nested in it)."""
    hints = typing.get_type_hints(config_class)
    for field in dataclasses.fields(config_class):
        if "help" not in field.metadata:
            continue
        kind = hints[field.name]
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if typing.get_origin(kind) in (typing.Union, types.UnionType) and len(args) == 1:
            kind = args[0]
        yield field, kind


def _leaves(config_class, path: tuple[str, ...] = ()):
    """(path, field, kind) of each `option` field of `config_class` and, depth first, of the
    configs nested in it; `path` the attribute names from `config_class` to its owner."""
    for field, kind in _options(config_class):
        yield path, field, kind
    for name, sub_class in nested(config_class):
        yield from _leaves(sub_class, (*path, name))


def flag_names(config_class) -> list[str]:
    """The flag name of every option of `config_class` and of the configs nested in it."""
    return [field.name for _, field, _ in _leaves(config_class)]


def _owners(config_class) -> dict[str, tuple[str, ...]]:
    """{flag name: the path of the config that owns it}; ValueError if two fields of the tree
    share a name (the flags are flat: every name has one owner)."""
    owners: dict[str, tuple[str, ...]] = {}
    for path, field, _ in _leaves(config_class):
        if field.name in owners:
            first, second = (".".join((config_class.__name__, *p, field.name))
                             for p in (owners[field.name], path))
            raise ValueError(f"{first} and {second} are one flag, --{field.name}: rename one")
        owners[field.name] = path
    return owners


def settings(config) -> dict[str, Any]:
    """Every option of `config` and of the configs nested in it, flat: {flag name: value}."""
    flat = {}
    for path, field, _ in _leaves(type(config)):
        owner = config
        for name in path:
            owner = getattr(owner, name)
        flat[field.name] = getattr(owner, field.name)
    return flat


def _split(config_class, settings_: dict[str, Any]) -> dict[tuple[str, ...], dict[str, Any]]:
    """Flat settings grouped by the path of the config that owns each; ValueError naming the
    unknown ones."""
    owners = _owners(config_class)
    unknown = sorted(set(settings_) - set(owners))
    if unknown:
        close = [match for name in unknown for match in difflib.get_close_matches(name, owners, 1)]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(f"unknown {config_class.__name__} setting(s) {', '.join(unknown)}{hint}: "
                         f"the settings are the flags of the command, without the dashes")
    grouped: dict[tuple[str, ...], dict[str, Any]] = {}
    for name, value in settings_.items():
        grouped.setdefault(owners[name], {})[name] = value
    return grouped


def _replaced(config, grouped, path: tuple[str, ...] = ()):
    own = dict(grouped.get(path, {}))
    for name, _ in nested(type(config)):
        inner = (*path, name)
        if any(p[:len(inner)] == inner for p in grouped):
            own[name] = _replaced(getattr(config, name), grouped, inner)
    return dataclasses.replace(config, **own) if own else config


def replace(config, **settings_):
    """A copy of `config` with flat settings (`momentum=0.9`) replaced in the configs that own
    them; ValueError for a name no config of the tree has."""
    return _replaced(config, _split(type(config), settings_))


def build(config_class, **settings_):
    """A `config_class` of its defaults with flat settings (`batch_size=256, momentum=0.9`)
    given to the configs that own them; ValueError for a name no config of the tree has."""
    grouped = _split(config_class, settings_)

    def make(cls, path):
        values = dict(grouped.get(path, {}))
        for name, sub_class in nested(cls):
            values[name] = make(sub_class, (*path, name))
        return cls(**values)
    return make(config_class, ())


class FlatSettings:
    """Flat settings for a config that nests others (mixed into TrainConfig and EvalConfig):
    `from_settings(**flat)`, `with_settings(**flat)` and `settings()` (this module's `build`,
    `replace` and `settings`)."""

    @classmethod
    def from_settings(cls, **settings_):
        """This config of its defaults with flat settings (`from_settings(momentum=0.9)`)."""
        return build(cls, **settings_)

    def with_settings(self, **settings_):
        """A copy with flat settings replaced (`with_settings(momentum=0.9)`)."""
        return replace(self, **settings_)

    def settings(self) -> dict[str, Any]:
        """Every setting of the tree, flat: {flag name: value}."""
        return settings(self)


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
    that disagree about a setting cannot share one command line, or two fields of one config
    tree)."""
    _owners(config_class)
    for _, field, kind in _leaves(config_class):
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
    its flag enforces), naming the flag. A nested config must be of its class (TypeError);
    its own fields are its own `validate`'s to check."""
    for name, sub_class in nested(config_class or type(config)):
        value = getattr(config, name)
        if not isinstance(value, sub_class):
            raise TypeError(f"{type(config).__name__}.{name} must be of class {sub_class.__name__} "
                            f"(or give its settings by name), got {type(value).__name__}")
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
    """A `config_class` filled from the parsed flags of its fields' names (and its nested
    configs from theirs)."""
    values = {field.name: flag_values[field.name].value
              for field, _ in _options(config_class) if field.name in flag_values}
    # A list flag's value is a list; the field's default a tuple: one kind of sequence.
    values = {name: tuple(value) if isinstance(value, list) else value
              for name, value in values.items()}
    for name, sub_class in nested(config_class):
        values[name] = from_flags(sub_class, flag_values)
    return config_class(**values)


def given_flags(config_classes, flag_values: flags.FlagValues = FLAGS) -> set:
    """The names of the flags of `config_classes` given on the command line (or in a flag
    file), not left at their defaults."""
    return {name for config_class in config_classes for name in flag_names(config_class)
            if name in flag_values and flag_values[name].present}


def flag_file(config_class, flag_values: flags.FlagValues = FLAGS) -> str:
    """The flag file of the parsed flags that fill `config_class` (one `--name=value` a
    line, every one given or with a default; None ones are left out): `--flagfile` of it
    reruns the command."""
    lines = [flag_values[name].serialize() for name in flag_names(config_class)
             if name in flag_values]
    return "".join(line + "\n" for line in lines if line)


def reference(config_class, own_only: bool = False) -> list[tuple[str, str, str]]:
    """(flag, default, help) of every `option` field of `config_class`, in declaration order
    and of the configs nested in it (with `own_only`, only the fields the class itself
    declares: not those it inherits or nests). The
    default as the flag shows it (`--name` for a true boolean, `--noname` for a false one,
    `none` for None); the help with its choices and lower bound appended. The documentation's
    flags reference is made of these rows."""
    own = vars(config_class).get("__annotations__", {}) if own_only else None
    rows = []
    for _, field, kind in _leaves(config_class):
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
