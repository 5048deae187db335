"""convnet.runtime.cli: a main is a function of its configs, whose flags are derived from them;
a user error ends it with one `error:` line and exit status 1. Each case runs in a fresh Python
(absl's flags are global to a process; cli imports no TensorFlow, so it starts in a moment).
(The mains through a subprocess: tests/mains/test_command_lines.py.)"""

from conftest import run_python

PROGRAM = '''
import dataclasses, sys
from typing import Optional
from convnet.runtime import cli, options
from convnet.runtime.errors import DataError

@dataclasses.dataclass
class Greeting:
    who: str = options.option("world", "Whom to greet.")
    times: int = options.option(1, "How often.", lower_bound=1)

@dataclasses.dataclass
class Punctuation:
    mark: Optional[str] = options.option(None, "A mark to end with.", choices=("!", "?"))

def greet(greeting, punctuation):
    print(repr((greeting, punctuation)))

def with_args(greeting, args):
    print(repr((greeting, args)))

def fail(greeting):
    raise DataError(f"no data for {greeting.who}")

def fail_inside(greeting):  # as TensorFlow reports a DataError raised inside tf.data
    raise RuntimeError("Graph execution error:\\nTraceback (most recent call last):\\n"
                       f"convnet.runtime.errors.DataError: {greeting.who}.png is broken\\n"
                       "  [[{{node PyFunc}}]]")

how = sys.argv.pop(1)
if how == "greet":
    cli.run(greet, Greeting, Punctuation)
elif how == "args":
    cli.run(with_args, Greeting, takes_args=True)
elif how == "inside":
    cli.run(fail_inside, Greeting)
else:
    cli.run(fail, Greeting)
'''


def test_run_fills_each_config_from_its_flags_and_calls_main():
    done = run_python(PROGRAM, "greet", "--who=you", "--times=3", "--mark=!")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ("(Greeting(who='you', times=3), Punctuation(mark='!'))")


def test_positional_arguments_go_to_a_main_that_takes_them_and_are_refused_otherwise():
    done = run_python(PROGRAM, "args", "a.png", "b.png")
    assert done.stdout.strip() == "(Greeting(who='world', times=1), ['a.png', 'b.png'])"
    refused = run_python(PROGRAM, "greet", "a.png")
    assert refused.returncode != 0 and "unexpected arguments: a.png" in refused.stderr


def test_a_user_error_is_one_line_and_exit_status_1():
    done = run_python(PROGRAM, "fail", "--who=nobody")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == "error: no data for nobody"
    assert "Traceback" not in done.stderr


def test_a_data_error_raised_inside_tensorflow_is_one_line_too():
    done = run_python(PROGRAM, "inside", "--who=cat")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == "error: cat.png is broken"
    assert "Traceback" not in done.stderr


def test_a_bad_flag_value_names_the_flag():
    done = run_python(PROGRAM, "greet", "--times=0")
    assert done.returncode != 0 and "--times" in done.stderr
    done = run_python(PROGRAM, "greet", "--mark=.")
    assert done.returncode != 0 and "--mark" in done.stderr
