"""convnet.runtime.onednn: TF_ENABLE_ONEDNN_OPTS=1 before TensorFlow is imported, unless set;
one line when oneDNN ended up off without the user asking for that."""

import os
import platform
import subprocess
import sys

import pytest

from convnet.runtime import onednn

X86_LINUX = platform.machine() == "x86_64" and sys.platform.startswith("linux")


def test_prefer_sets_the_variable_only_when_unset_and_tensorflow_not_imported():
    environ = {}
    assert onednn.prefer(environ, modules={})
    assert environ == {onednn.ENV: "1"}
    kept = {onednn.ENV: "0"}
    assert not onednn.prefer(kept, modules={})
    assert kept == {onednn.ENV: "0"}  # the user's choice stands
    late = {}
    assert not onednn.prefer(late, modules={"tensorflow": object()})
    assert late == {}  # TensorFlow already read it: setting it now would only mislead


def _fresh(code, **env):
    environ = {k: v for k, v in os.environ.items() if k != onednn.ENV}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={**environ, **env}, check=True).stdout.split()


@pytest.mark.skipif(not X86_LINUX, reason="TensorFlow carries oneDNN on x86-64 Linux")
def test_import_convnet_turns_onednn_on_and_leaves_a_set_variable_alone():
    code = ("import os, convnet; from convnet.runtime import onednn; "
            "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'), onednn.enabled())")
    assert _fresh(code) == ["1", "True"]
    assert _fresh(code, TF_ENABLE_ONEDNN_OPTS="0") == ["0", "False"]
    late = ("import os, tensorflow, convnet; "
            "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'))")  # imported too late to set it
    assert _fresh(late) == ["None"]


def test_off_line_only_when_off_unasked_on_x86_64_linux():
    line = onednn.off_line(False, {}, machine="x86_64", system="linux")
    assert line.startswith("TensorFlow's oneDNN kernels are off on this CPU")
    assert "set TF_ENABLE_ONEDNN_OPTS=1 before importing tensorflow" in line
    assert onednn.off_line(True, {}, machine="x86_64", system="linux") is None
    assert onednn.off_line(False, {onednn.ENV: "0"}, machine="x86_64", system="linux") is None
    assert onednn.off_line(False, {}, machine="aarch64", system="linux") is None
    assert onednn.off_line(False, {}, machine="x86_64", system="darwin") is None
