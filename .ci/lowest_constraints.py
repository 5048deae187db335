"""Prints pip constraints that pin each dependency of pyproject.toml to the lowest version its
range allows (`name==floor`), for CI's lowest-versions environment."""

import re
import tomllib

with open("pyproject.toml", "rb") as f:
    project = tomllib.load(f)["project"]
for requirement in project["dependencies"]:
    match = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$", requirement)
    name, specifiers = match.group(1), match.group(3)
    floor = re.search(r">=\s*([0-9][0-9A-Za-z.]*)", specifiers)
    if floor is None:
        raise SystemExit(f"{requirement}: no lower bound to test")
    print(f"{name}=={floor.group(1)}")
