"""convnet.checkpoints.counted_time: the seconds counted at each checkpoint, kept for the
checkpoints on disk, read back by a resume; a damaged file set aside."""

import json
import os

from convnet.checkpoints import counted_time
from convnet.checkpoints import files as checkpoint_files


def _checkpoint(train_dir, step):
    with open(os.path.join(train_dir, f"ckpt-{step}.index"), "wb") as f:
        f.write(b"index")


def test_entries_follow_the_checkpoints_on_disk(tmp_path):
    train_dir = str(tmp_path)
    assert counted_time.read(train_dir) == {} and counted_time.carried(train_dir, 5) is None
    for step, seconds in ((5, 10.0), (10, 19.51234)):
        _checkpoint(train_dir, step)
        counted_time.record(train_dir, step, seconds)
    assert counted_time.read(train_dir) == {5: 10.0, 10: 19.512}
    os.remove(os.path.join(train_dir, "ckpt-5.index"))  # the manager pruned it
    _checkpoint(train_dir, 15)
    counted_time.record(train_dir, 15, 30.0)
    with open(os.path.join(train_dir, counted_time.COUNTED_FILE), encoding="utf-8") as f:
        assert json.load(f) == {"10": 19.512, "15": 30.0}
    assert counted_time.carried(train_dir, 10) == 19.512
    assert counted_time.carried(train_dir, 5) is None  # unknown: nothing carried


def test_a_damaged_file_is_set_aside_and_counts_nothing(tmp_path, capsys):
    train_dir = str(tmp_path)
    path = os.path.join(train_dir, counted_time.COUNTED_FILE)
    for damage in (b"\xff\xfe not text", b'["a list"]', b'{"10": "ten"}'):
        with open(path, "wb") as f:
            f.write(damage)
        assert counted_time.carried(train_dir, 10) is None
        assert not os.path.exists(path)
    corrupt = os.path.join(train_dir, checkpoint_files.CORRUPT_DIR)
    assert sorted(os.listdir(corrupt)) == [counted_time.COUNTED_FILE,
                                           counted_time.COUNTED_FILE + ".1",
                                           counted_time.COUNTED_FILE + ".2"]
    out = capsys.readouterr().out
    assert out.count(f"{path} was damaged (") == 3
    assert "the seconds of earlier launches are not counted" in out
    _checkpoint(train_dir, 10)
    counted_time.record(train_dir, 10, 4.0)  # a new file after the damaged one
    assert counted_time.carried(train_dir, 10) == 4.0
