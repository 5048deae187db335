"""Recipes: flag files for the models of the zoo and the time-to-accuracy runs, shipped with
the package (`<name>.flags` here; `configs/` in a checkout links to this directory).

`--recipe=NAME` (convnet.train, convnet.bench) reads the recipe as if `--flagfile=<its path>`
stood in its place: flags after it override the recipe's, flags before it are overridden.
`expand(argv)` does that substitution before absl parses the command line; an unknown name is
left for the flag's own check, which lists the recipes.
"""

import os
from collections.abc import Sequence

from absl import flags

DIRECTORY = os.path.dirname(os.path.abspath(__file__))
SUFFIX = ".flags"


def names() -> list[str]:
    """The shipped recipes, sorted."""
    return sorted(f[:-len(SUFFIX)] for f in os.listdir(DIRECTORY) if f.endswith(SUFFIX))


def path(name: str) -> str:
    """The flag file of recipe `name`; ValueError listing the recipes for an unknown name."""
    if name not in names():
        raise ValueError(f"unknown --recipe={name!r}: choose from {', '.join(names())}")
    return os.path.join(DIRECTORY, name + SUFFIX)


def define_recipe_flag(flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """--recipe, whose help lists the recipes (once)."""
    if "recipe" in flag_values:
        return
    flags.DEFINE_enum("recipe", None, names(),
                      "A shipped recipe, read as --flagfile=<its file> in its place (later "
                      "flags override it); the files are in convnet/recipes/.",
                      flag_values=flag_values)


def expand(argv: Sequence[str]) -> list[str]:
    """`argv` with `--flagfile=<recipe file>` before each known `--recipe=NAME` (or
    `--recipe NAME`), which stays, so the run records which recipe it used."""
    known, expanded, i = set(names()), [], 0
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
            expanded.append("--flagfile=" + path(name))
        expanded += taken
        i += len(taken)
    return expanded
