"""Which model a `--model` names: the built-in zoo, models registered by name, and any factory
given by its import path.

`--model` (and `model=` in Python) is one of:

- a name in `MODELS`: the zoo (`lenet5`, `resnet20`, ...) and whatever `register(name, factory)`
  added in this process;
- a name a package declares in its metadata, entry point group `convnet.models`
  (`[project.entry-points."convnet.models"] mynet = "my_package.nets:mynet"`): found when first
  asked for, so `pip install my-package` is all it takes;
- an import path `package.module:factory` (`factory` may be dotted: `module:Class.make`).

A factory is called as `factory(num_classes=..., weight_decay=...)` and returns a
`convnet.models.Model` (the contract in `convnet.models.base`). run.json records the name as
given, so eval, predict, export, compare and a resume build the same model again; a name that no
longer resolves (its module uninstalled) is one line naming it and the way out.
"""

import dataclasses
import importlib
import importlib.metadata
from collections.abc import Callable

from convnet.models import keras_model
from convnet.models.base import Model

ENTRY_POINT_GROUP = "convnet.models"


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """A registered model.

    Attributes:
      factory: called as `factory(num_classes=, weight_decay=)`; returns a `Model`.
      params: values in the model's variables (trainable and not, as Keras counts
        them) with 10 classes on `image_size` crops, or 32x32x3 when it is None; None when
        not stated (models registered from outside).
      non_trainable: how many of them are not trainable (BN moving statistics,
        frozen kernels).
    """
    factory: Callable[..., Model]
    params: int | None = None
    non_trainable: int = 0

    def __call__(self, num_classes: int = 10, weight_decay=None) -> Model:
        return self.factory(num_classes=num_classes, weight_decay=weight_decay)


MODELS: dict[str, ModelEntry] = {}  # filled by convnet.models (the zoo) and `register`


def register(name: str, factory: Callable[..., Model], params: int | None = None,
             *, non_trainable: int = 0, replace: bool = False) -> None:
    """Makes `factory` available as `--model=name` (and `build_model(name)`) in this process.

    Raises:
      ValueError: `name` is taken (pass replace=True to rebind it), empty, or holds a ':'
        (the import-path form).
    """
    if not name or ":" in name:
        raise ValueError(f"a model name must be non-empty and hold no ':' (that is the import "
                         f"path form), got {name!r}")
    if not callable(factory):
        raise TypeError(f"register({name!r}, ...): the factory {factory!r} is not callable")
    if name in MODELS and not replace:
        raise ValueError(f"--model={name} is already registered (to "
                         f"{_describe(MODELS[name].factory)}); pass replace=True to rebind it")
    MODELS[name] = ModelEntry(factory, params, non_trainable)


def model_help(what: str = "Model") -> str:
    """The help text of a --model flag: the zoo and the other forms."""
    return (f"{what}: one of {', '.join(sorted(MODELS))}; a name a package registers (entry "
            f"point group {ENTRY_POINT_GROUP}) or your code does (convnet.models.register); or "
            f"an import path package.module:factory.")


def names() -> list[str]:
    """The names `--model` takes: the zoo, registered models and entry points, sorted."""
    return sorted(set(MODELS) | {entry.name for entry in _entry_points()})


def resolve(name: str) -> ModelEntry:
    """The entry `name` stands for (see the module's docstring).

    Raises:
      ValueError: an unknown name, or an import path that does not import or does not name
        a callable; the message says which and what to do.
    """
    if name in MODELS:
        return MODELS[name]
    if ":" in name:
        return ModelEntry(_import(name))
    for entry in _entry_points():
        if entry.name == name:
            try:
                factory = entry.load()
            except Exception as e:  # noqa: BLE001 -- whatever the package raises on import
                raise ValueError(f"--model={name}: the entry point {entry.value} (group "
                                 f"{ENTRY_POINT_GROUP}) does not load ({type(e).__name__}: "
                                 f"{e}): reinstall the package that declares it.") from e
            register(name, factory)
            return MODELS[name]
    raise ValueError(f"unknown --model={name!r}: choose from {', '.join(names())}, or give "
                     f"an import path package.module:factory")


def check_name(name: str) -> None:
    """ValueError (resolve's) unless `name` stands for a model; builds nothing."""
    resolve(name)


def build_model(name: str, num_classes: int = 10, weight_decay=None) -> Model:
    """Instantiates the model `name` stands for (variables are created on first call).

    Raises:
      ValueError: an unknown name or import path, fewer than 2 classes, a negative weight
        decay.
      TypeError: the factory returned something that is neither a `Model` nor a Keras model
        (which is wrapped in a `convnet.models.keras_model.KerasModel`).
    """
    model = resolve(name)(num_classes=num_classes, weight_decay=weight_decay)
    if keras_model.is_keras_model(model):
        model = keras_model.KerasModel(model, num_classes, weight_decay)
    if not isinstance(model, Model):
        raise TypeError(f"--model={name}: the factory returned a {type(model).__name__}, not a "
                        f"convnet.models.Model or a keras.Model (see convnet.models.base)")
    return model


def import_path(factory: Callable) -> str | None:
    """`module:qualname` of `factory` when that path imports it back in another process
    (not for lambdas, local functions or `__main__`), else None."""
    module, qualname = getattr(factory, "__module__", None), getattr(factory, "__qualname__", "")
    if not module or module == "__main__" or "<" in qualname:
        return None
    try:
        return f"{module}:{qualname}" if _import(f"{module}:{qualname}") is factory else None
    except ValueError:
        return None


def _import(path: str) -> Callable:
    module_name, _, attribute = path.partition(":")
    try:
        target = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"--model={path}: cannot import {module_name} ({e}): install the "
                         f"package that defines it, or put its directory on PYTHONPATH.") from e
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError as e:
            raise ValueError(f"--model={path}: {module_name} has no {attribute} (give "
                             f"package.module:factory, the factory a function or class "
                             f"there)") from e
    if not callable(target):
        raise ValueError(f"--model={path}: {attribute} is a {type(target).__name__}, not a "
                         f"factory (a function or class called with num_classes and "
                         f"weight_decay)")
    return target


def entry_points():
    """The entry points of group convnet.models installed packages declare."""
    return _entry_points()


def _entry_points():
    return importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)


def _describe(factory) -> str:
    return import_path(factory) or getattr(factory, "__qualname__", repr(factory))


def count_params(model) -> int:
    """Total number of values in the model's variables (trainable and not)."""
    return sum(int(v.shape.num_elements()) for v in model.variables)


def count_trainable_params(model) -> int:
    """Number of values in the model's trainable variables."""
    return sum(int(v.shape.num_elements()) for v in model.trainable_variables)
