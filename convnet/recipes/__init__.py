"""Recipes: flag files for the models of the zoo and the time-to-accuracy runs, shipped with
the package (`<name>.flags` here; `configs/` in a checkout links to this directory).

`--recipe=NAME` (convnet.train, convnet.bench) reads the recipe as if `--flagfile=<its path>`
stood in its place: flags after it override the recipe's, flags before it are overridden.
`expand(argv)` does that substitution before absl parses the command line; an unknown name is
left for the flag's own check, which lists the recipes.

A recipe may tune itself for the precision the run computes in: `<name>.<precision>.flags`
(e.g. `fast93_muon.float32.flags`), where it exists, is read right after `<name>.flags` when
the run's `--precision` (the last one on the command line or in the recipe, `auto` resolved
for this machine) is that precision. So `--recipe=NAME` trains as tuned on a machine with
bfloat16 and on one without, and flags after `--recipe` still override both files. A
precision file must not set `--precision` itself.
"""

import os
from collections.abc import Callable, Sequence

from absl import flags

DIRECTORY = os.path.dirname(os.path.abspath(__file__))
SUFFIX = ".flags"


def _split(file_name: str) -> tuple[str, str | None]:
    """(recipe, precision) of a flag file's name: `NAME.flags` -> (NAME, None),
    `NAME.PRECISION.flags` -> (NAME, PRECISION)."""
    name, _, precision = file_name[:-len(SUFFIX)].partition(".")
    return name, precision or None


def _shipped() -> list[tuple[str, str | None]]:
    """(recipe, precision or None) of every shipped flag file."""
    return [_split(f) for f in os.listdir(DIRECTORY) if f.endswith(SUFFIX)]


def names() -> list[str]:
    """The shipped recipes, sorted (not their precision files)."""
    return sorted(name for name, precision in _shipped() if precision is None)


def path(name: str) -> str:
    """The flag file of recipe `name`; ValueError listing the recipes for an unknown name."""
    if name not in names():
        raise ValueError(f"unknown --recipe={name!r}: choose from {', '.join(names())}")
    return os.path.join(DIRECTORY, name + SUFFIX)


def precision_path(name: str, precision: str) -> str | None:
    """The file recipe `name` adds for runs in `precision` (`<name>.<precision>.flags`), or None
    when it has none."""
    candidate = os.path.join(DIRECTORY, f"{name}.{precision}{SUFFIX}")
    return candidate if os.path.isfile(candidate) else None


def precision_files() -> list[tuple[str, str]]:
    """(recipe, precision) of every shipped precision file, sorted."""
    return sorted(pair for pair in _shipped() if pair[1] is not None)


def define_recipe_flag(flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """--recipe, whose help lists the recipes (once)."""
    if "recipe" in flag_values:
        return
    flags.DEFINE_enum("recipe", None, names(),
                      "A shipped recipe, read as --flagfile=<its file> in its place (later "
                      "flags override it); the files are in convnet/recipes/.",
                      flag_values=flag_values)


def last_value(argv: Sequence[str], name: str) -> str | None:
    """The value the last `--name=VALUE` (or `--name VALUE`) of `argv` gives, reading the flag
    files it names as absl will; None if none does (or a flag file cannot be read: absl's
    parse says why)."""
    try:
        args = flags.FlagValues().read_flags_from_files(list(argv[1:]), force_gnu=False)
    except (flags.Error, OSError, UnicodeDecodeError):
        return None
    value = None
    for i, arg in enumerate(args):
        if arg.startswith(f"--{name}="):
            value = arg.split("=", 1)[1]
        elif arg == f"--{name}" and i + 1 < len(args):
            value = args[i + 1]
    return value


def expand(argv: Sequence[str],
           resolve_precision: Callable[[str | None], str | None] | None = None) -> list[str]:
    """`argv` with `--flagfile=<recipe file>` before each known `--recipe=NAME` (or
    `--recipe NAME`), which stays, so the run records which recipe it used.

    With `resolve_precision` (the value of the last --precision, None if none, -> the
    precision the run computes in, None if unknown), the recipe's file for that precision
    follows its file, where it has one."""
    known, expanded, recipe_files, i = set(names()), [], [], 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--recipe="):
            name, taken = arg.split("=", 1)[1], [arg]
        elif arg == "--recipe" and i + 1 < len(argv):
            name, taken = argv[i + 1], [arg, argv[i + 1]]
        else:
            expanded.append(arg)
            i += 1
            continue
        if name in known:
            recipe_files.append((len(expanded), name))
            expanded.append("--flagfile=" + path(name))
        expanded += taken
        i += len(taken)
    if resolve_precision is None or not recipe_files:
        return expanded
    precision = resolve_precision(last_value(expanded, "precision"))
    for index, name in reversed(recipe_files):
        extra = precision and precision_path(name, precision)
        if extra:
            expanded.insert(index + 1, "--flagfile=" + extra)
    return expanded


def precision_file_line(arg: str) -> str | None:
    """For `--flagfile=<a shipped precision file>`, the line a run prints about it (`--recipe=NAME
    in PRECISION: its flags (its file)`); None for any other argument."""
    if not arg.startswith("--flagfile="):
        return None
    file = arg.split("=", 1)[1]
    name, precision = _split(os.path.basename(file))
    if os.path.dirname(os.path.abspath(file)) != DIRECTORY or precision is None:
        return None
    with open(file, encoding="utf-8") as f:
        settings = [line.strip() for line in f if line.startswith("--")]
    return f"--recipe={name} in {precision}: {' '.join(settings)} ({os.path.basename(file)})"
