"""The checkpoints of a training run: resume from the newest that reads, save, survive a full disk.

`tf.train.CheckpointManager` writes and prunes them; what is restored is the
newest checkpoint on disk that reads (convnet.checkpoints.restore), and when that is
not what the state file names, the chief rewrites the state file so the
manager keeps counting from it. A save that fails for lack of space removes
its partial files and says what it needs.
"""

import os

import tensorflow as tf

from convnet.checkpoints import disk, restore, run_record
from convnet.checkpoints import files as checkpoint_files
from convnet.checkpoints.state import State
from convnet.runtime import console, distribute


class RunCheckpoints:
    """Saves and restores `state` in `train_dir` (every worker calls both)."""

    def __init__(self, state: State, train_dir: str, strategy: tf.distribute.Strategy,
                 *, max_to_keep: int, restore_fallback: bool = True):
        self.state, self.train_dir, self.strategy = state, train_dir, strategy
        self.max_to_keep, self.restore_fallback = max_to_keep, restore_fallback
        self.is_chief = distribute.is_chief(strategy)
        if restore_fallback and self.is_chief:  # a damaged state file is as good as missing
            repaired = checkpoint_files.repair_state_file(train_dir)
            if repaired:
                console.log(repaired)
        if not restore_fallback:
            checkpoint_files.latest_checkpoint(train_dir, strict=True)  # fails clearly now
        self.manager = self._make_manager()

    def _make_manager(self) -> tf.train.CheckpointManager:
        """A CheckpointManager of train_dir (it reads the state file when made)."""
        return tf.train.CheckpointManager(
            self.state.checkpoint, distribute.write_dir(self.train_dir, self.strategy),
            max_to_keep=self.max_to_keep, step_counter=self.state.step)

    def restore(self, record: run_record.RunRecord) -> int:
        """Restores the newest checkpoint of train_dir that reads, if any; returns the step.

        A train_dir of another run (`record` differs) is refused. Damaged
        checkpoints are skipped and moved aside (unless `restore_fallback` is
        off); when the one restored is not what the state file names (it is
        missing, unreadable or behind), the chief rewrites the state file.
        """
        train_dir = self.train_dir
        run_record.check_same_run(train_dir, record)
        path = restore.restore_latest(self.state.checkpoint, train_dir,
                                            fallback=self.restore_fallback,
                                            move_damaged=self.is_chief)
        step = int(self.state.step.numpy())
        if path:
            listed = checkpoint_files.listed_latest(train_dir)
            if self.is_chief and (listed is None or
                                  os.path.abspath(listed) != os.path.abspath(path)):
                checkpoint_files.write_state(train_dir, path)
                console.log(f"rewrote {os.path.join(train_dir, checkpoint_files.STATE_FILE)} to "
                            f"name {os.path.basename(path)} (it named "
                            f"{os.path.basename(listed) if listed else 'nothing'})")
                self.manager = self._make_manager()
            console.log(f"resumed from {path} at step {step}")
        elif run_record.read(train_dir):
            console.log(f"{train_dir} holds no checkpoint yet: starting at step 0")
        return step

    def save(self) -> str:
        """Writes a checkpoint at the current step; returns its prefix.

        Raises:
          DiskFullError: the disk is full; the partial files were removed and the
            previous checkpoint is intact.
        """
        train_dir, step = self.train_dir, int(self.state.step.numpy())
        try:
            path = self.manager.save(checkpoint_number=step)
        except (tf.errors.OpError, OSError) as e:
            if not disk.is_disk_full(e):
                raise
            previous = checkpoint_files.listed_latest(train_dir)
            checkpoint_files.remove_failed_save(train_dir, step)
            distribute.remove_write_dir(train_dir, self.strategy)
            needed = (checkpoint_files.files_bytes(previous) if previous else
                      sum(v.shape.num_elements() * v.dtype.size for v in self.state.variables))
            raise disk.disk_full_error(f"checkpoint ckpt-{step}", train_dir, needed,
                                       previous=previous) from e
        distribute.remove_write_dir(train_dir, self.strategy)
        return os.path.join(train_dir, os.path.basename(path))

    def remove_unfinished_saves(self) -> None:
        """Deletes what saves killed midway left (convnet.checkpoints.files)."""
        checkpoint_files.remove_unfinished_saves(self.train_dir)

    def latest(self) -> str | None:
        """The newest checkpoint of train_dir (None: none yet)."""
        return checkpoint_files.latest_checkpoint(self.train_dir)
