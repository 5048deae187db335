"""A train_dir's files: the restorable state, its checkpoints, the run record, the writer lock.

  state        State: model, EMA, step and (training) optimizer, lookahead, loss scale
  files        the ckpt-N files and the `checkpoint` state file; moving damaged files aside
  restore      restore one checkpoint, or the newest that reads (falling back past damage)
  manager      RunCheckpoints: a training run's resume and save (a full disk handled)
  run_record   run.json and flags.txt: what produced the checkpoints
  writer_lock  one writer per train_dir (an OS lock held for the run's life)
  disk         a full disk recognised and reported
"""
