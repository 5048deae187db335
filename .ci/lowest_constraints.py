"""Prints pip constraints that pin each dependency of pyproject.toml (the required ones and those
of the extras in EXTRAS) to the lowest version its range allows (`name==floor`), for CI's
lowest-versions environment."""

import re
import tomllib

with open("pyproject.toml", "rb") as f:
    project = tomllib.load(f)["project"]
# The required dependencies, and the extras that convnet's own code imports (not the test tools).
EXTRAS = ("plots", "onnx", "litert")
requirements = list(project["dependencies"])
for extra in EXTRAS:
    requirements += project["optional-dependencies"][extra]
for requirement in requirements:
    match = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$", requirement)
    name, specifiers = match.group(1), match.group(3)
    floor = re.search(r">=\s*([0-9][0-9A-Za-z.]*)", specifiers)
    if floor is None:
        raise SystemExit(f"{requirement}: no lower bound to test")
    print(f"{name}=={floor.group(1)}")
