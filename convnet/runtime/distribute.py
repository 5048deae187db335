"""`--strategy`: which `tf.distribute.Strategy` runs the Trainer, and who writes files.

default: one device, no distribution (TensorFlow's default strategy).
one_device: the first GPU, else the CPU, through `OneDeviceStrategy`.
mirrored: every local GPU (else the CPU), one replica each, gradients all-reduced
  (`mirrored`: each strategy of a process gets collective keys of its own).
multi_worker: `MultiWorkerMirroredStrategy`; the cluster comes from `TF_CONFIG`.
tpu: `TPUStrategy` on `--tpu` (a name or grpc:// address; empty: the local TPU).

Under multi_worker every worker takes part in each checkpoint save (mirrored
variables are read collectively), but only the chief writes to the train_dir;
the others write to a temporary directory inside it and delete it after. A
signal to one worker stops every worker at the same step (convnet.training.preemption).
"""

import itertools
import json
import os
import shutil
import threading
from collections.abc import Sequence

import tensorflow as tf

STRATEGIES = ("default", "one_device", "mirrored", "multi_worker", "tpu")

# Collective group keys set aside for each MirroredStrategy of a process (it takes one per
# distinct set of devices it reduces over).
COLLECTIVE_KEY_STRIDE = 1000
_mirrored_count = itertools.count(1)
_mirrored_lock = threading.Lock()


def make_strategy(name: str, tpu: str | None = None) -> tf.distribute.Strategy:
    """Builds one of STRATEGIES; ValueError naming the problem when it cannot."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        return mirrored()
    if name == "multi_worker":
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, tf.errors.OpError, RuntimeError) as e:
            raise ValueError(f"--strategy=tpu: cannot reach a TPU ({str(e).splitlines()[0]}); "
                             f"pass --tpu=NAME_OR_GRPC_ADDRESS on a TPU VM, or choose another "
                             f"--strategy.") from e
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"unknown --strategy={name!r}: choose from {', '.join(STRATEGIES)}")


def mirrored(devices: Sequence[str] | None = None) -> tf.distribute.MirroredStrategy:
    """`tf.distribute.MirroredStrategy(devices)` whose collective keys no other strategy of
    this process uses.

    TensorFlow starts every MirroredStrategy's keys at the same numbers (group 1, instance
    100) and remembers each instance's tensor shape for the whole process, so a second
    strategy (training then evaluating in one process, two runs in a notebook) fails at its
    first all-reduce with "Shape mismatch in the collective instance 100" (tensorflow#62790).
    The strategy reads its first group key from the class attribute `_collective_key_base`
    (TensorFlow's own tests set it for the same reason): each strategy made here gets its
    own COLLECTIVE_KEY_STRIDE keys.
    """
    cls = tf.distribute.MirroredStrategy
    if not hasattr(cls, "_collective_key_base"):  # another TensorFlow: as it comes
        return cls(devices)
    with _mirrored_lock:
        previous = cls._collective_key_base
        cls._collective_key_base = next(_mirrored_count) * COLLECTIVE_KEY_STRIDE
        try:
            return cls(devices)
        finally:
            cls._collective_key_base = previous


def _check_tf_config() -> None:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return  # a cluster of one: runs like mirrored
    try:
        config = json.loads(raw)
        config["cluster"], config["task"]["type"], config["task"]["index"]
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"TF_CONFIG is not valid ({e!r}); it must be JSON like "
                         f'{{"cluster": {{"worker": ["host1:port", "host2:port"]}}, '
                         f'"task": {{"type": "worker", "index": 0}}}}') from e


def _task(strategy: tf.distribute.Strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return None, None, {}
    return resolver.task_type, resolver.task_id, resolver.cluster_spec().as_dict()


def is_cluster(strategy: tf.distribute.Strategy) -> bool:
    """True under multi_worker with a TF_CONFIG cluster (without one it runs like mirrored)."""
    return (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and _task(strategy)[0] is not None)


def task_name(strategy: tf.distribute.Strategy) -> str:
    """This process in its cluster, e.g. 'worker 1' ('worker 0' without a cluster)."""
    task_type, task_id, _ = _task(strategy)
    return f"{task_type or 'worker'} {task_id or 0}"


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True for the one process that writes checkpoints, run.json and summaries."""
    task_type, task_id, cluster = _task(strategy)
    if task_type is None:
        return True
    if task_type == "chief":
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in cluster


def is_chief_task(strategy_name: str, environ=None) -> bool:
    """`is_chief` before the strategy exists: for --strategy=multi_worker read from TF_CONFIG
    (the chief task, or worker 0 of a cluster without one); True for the other strategies."""
    if strategy_name != "multi_worker":
        return True
    environ = os.environ if environ is None else environ
    try:
        config = json.loads(environ.get("TF_CONFIG") or "{}")
        task, cluster = config.get("task") or {}, config.get("cluster") or {}
        task_type, task_id = task.get("type"), int(task.get("index", 0))
    except (ValueError, TypeError, AttributeError):
        return True  # make_strategy names the problem
    if task_type is None or task_type == "chief":
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in cluster


def write_dir(train_dir: str, strategy: tf.distribute.Strategy) -> str:
    """train_dir for the chief; a per-worker temporary directory inside it for the others."""
    if is_chief(strategy):
        return train_dir
    task_type, task_id, _ = _task(strategy)
    return os.path.join(train_dir, f".{task_type}_{task_id}_tmp")


def remove_write_dir(train_dir: str, strategy: tf.distribute.Strategy) -> None:
    """Deletes a non-chief worker's temporary directory (never the train_dir)."""
    path = write_dir(train_dir, strategy)
    if path != train_dir:
        shutil.rmtree(path, ignore_errors=True)


def first_replica_value(strategy: tf.distribute.Strategy, value):
    """The value of the first local replica (for values all replicas agree on)."""
    return tf.nest.map_structure(lambda v: strategy.experimental_local_results(v)[0], value)
