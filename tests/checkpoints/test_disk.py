"""A full disk is recognised in OS and TensorFlow errors and told in one line."""

import errno

import tensorflow as tf

from convnet.checkpoints import disk


def test_full_disk_errors_are_recognised_and_others_not():
    assert disk.is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert disk.is_disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert disk.is_disk_full(tf.errors.ResourceExhaustedError(
        None, None, "ckpt-5_temp; No space left on device [Op:SaveV2]"))
    assert not disk.is_disk_full(OSError(errno.EACCES, "Permission denied"))


def test_the_message_names_what_where_how_much_and_the_intact_checkpoint(tmp_path):
    error = disk.disk_full_error("checkpoint ckpt-7", str(tmp_path), 3 * 2**20,
                                 previous="dir/ckpt-5")
    message = str(error)
    assert message.startswith(f"no space left on the device of {tmp_path} to write checkpoint "
                              f"ckpt-7 (it needs about 3.0 MB; ")
    assert "MB free)" in message and "dir/ckpt-5, is intact" in message
    assert message.endswith("rerun the same command to resume.")
    assert isinstance(error, OSError)
