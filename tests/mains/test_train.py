"""The convnet.train main: its flags, and its exit status after a signal (128 + signum, or 75
on the workers of a cluster that were not signalled).

main() runs here with the flags and the training replaced by fakes; the main through a
subprocess: tests/mains/test_command_lines.py, tests/test_resilience.py (signals),
tests/runtime/test_distribute.py (a cluster).
"""

import re
import signal
from types import SimpleNamespace

import pytest
from absl import flags

from convnet import train as train_main
from convnet.runtime import options
from convnet.runtime.errors import DataError, Interrupted
from convnet.training import preemption
from convnet.training.config import TrainConfig

from helpers import check_run_derives_its_flags_from, run_main


@pytest.fixture
def trained(monkeypatch):
    """Replaces the flags and `training.train`; the list of the calls to the latter, whose
    outcome is set by putting an exception in `raises`."""
    calls, raises = [], []

    def flag_file(config_class):
        return f"--flags of {config_class.__name__}"

    def train(config, flags_text):
        calls.append((config, flags_text))
        if raises:
            raise raises[0]

    monkeypatch.setattr(train_main, "options", SimpleNamespace(flag_file=flag_file))
    monkeypatch.setattr(train_main, "training", SimpleNamespace(train=train,
                                                                TrainConfig=TrainConfig))
    return calls, raises


CONFIG = TrainConfig.from_settings(model="lenet5")


def test_main_trains_with_the_config_and_flag_file_of_the_flags(trained):
    calls, _ = trained
    assert train_main.main(CONFIG) is None
    assert calls == [(CONFIG, "--flags of TrainConfig")]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_exits_128_plus_its_number_after_saying_where_it_stopped(trained, capsys,
                                                                          signum):
    _, raises = trained
    raises.append(Interrupted(signum, 40, "/runs/a/ckpt-40"))
    with pytest.raises(SystemExit) as exited:
        train_main.main(CONFIG)
    assert exited.value.code == 128 + signum
    assert capsys.readouterr().out.endswith(
        f": {signal.Signals(signum).name} received: stopped at step 40 after saving "
        f"/runs/a/ckpt-40; run the same command to resume.\n")


def test_a_worker_stopped_by_another_exits_75(trained, capsys):
    _, raises = trained
    raises.append(preemption.PeerInterrupted(signal.SIGTERM, "worker 1", 40,
                                             path="/runs/a/ckpt-40"))
    with pytest.raises(SystemExit) as exited:
        train_main.main(CONFIG)
    assert exited.value.code == preemption.PEER_EXIT_CODE == 75
    assert capsys.readouterr().out.endswith(": worker 1 received SIGTERM: every worker stopped "
                                            "at step 40 after saving /runs/a/ckpt-40; run the "
                                            "same command on every worker to resume.\n")


def test_other_errors_are_left_to_cli_run_main(trained):
    _, raises = trained
    raises.append(DataError("no data"))
    with pytest.raises(DataError, match="^no data$"):
        train_main.main(CONFIG)


def test_run_defines_the_train_flags_and_runs_main_through_cli(monkeypatch):
    check_run_derives_its_flags_from(monkeypatch, train_main, train_main.main, TrainConfig,
                                     takes_recipe=True)


@pytest.mark.slow
def test_help_documents_the_decay_caveat():
    done = run_main("convnet.train", "--help")  # absl exits 1 after printing help
    assert "136,718" in done.stdout and "--lr_decay" in done.stdout
    assert "--num_parallel_calls" in done.stdout and "--train_dir" in done.stdout


@pytest.mark.parametrize("args,expected", [
    (["--batch_size=0"], "flag --batch_size=0: 0 is not a positive integer"),
    (["--optimizer=rmsprop"], "flag --optimizer=rmsprop: value should be one of"),
    (["--max_steps=-5"], "flag --max_steps=-5: -5 is not a positive integer"),
])
def test_bad_flags_are_refused_with_the_flag_named(args, expected):
    """The train flags' own checks; a refused flag ends a main with a non-zero status
    (tests/runtime/test_cli.py)."""
    values = flags.FlagValues()
    options.define_flags(TrainConfig, values)
    with pytest.raises(flags.IllegalFlagValueError, match=re.escape(expected)):
        values(["convnet.train", "--data_source=synthetic", *args])
