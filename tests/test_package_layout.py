"""The package's layout as a newcomer reads it: every module name says which module it is."""

import collections
import os

from helpers import REPO

# Names that stand for a role inside their package, one per package that has the role:
# `base` (the contract of the package's kind: models, sources, layers), `config` (the settings of
# the package's concern, whose fields are flags), and `ops`, the research API's `convnet.ops`
# beside the module it re-exports, `convnet.nn.ops`.
PER_PACKAGE_ROLES = {"base.py", "config.py", "ops.py"}


def test_every_module_name_is_unique_in_the_package():
    names = collections.defaultdict(list)
    for folder, _, files in os.walk(os.path.join(REPO, "convnet")):
        for name in files:
            if name.endswith(".py") and name != "__init__.py":
                names[name].append(os.path.relpath(os.path.join(folder, name), REPO))
    repeated = {name: paths for name, paths in names.items()
                if len(paths) > 1 and name not in PER_PACKAGE_ROLES}
    assert repeated == {}
