"""convnet.benchmarking.op_table: a profiled step summed by op type."""

import pytest
import tensorflow as tf

from convnet import training
from convnet.benchmarking import op_table
from convnet.training.setup import TrainingSetup


@pytest.mark.parametrize("event,op_type", [
    ("gradient_tape/conv/Conv2DBackpropFilter:Conv2DBackpropFilter", "Conv2DBackpropFilter"),
    ("while/body/_68/while/Cast_16:Cast", "Cast"),
    ("CpuExecutable::ExecuteAsyncOnStream", "xla_cluster"),
    ("ExecutorState::Process", None), ("Iterator::Root::Prefetch", None),
    ("EagerLocalExecute: __inference_f_12", None), ("tf.constant", None), (":Cast", None)])
def test_event_names_give_op_types(event, op_type):
    assert op_table._op_type(event) == op_type


@pytest.mark.slow  # the profiler's start and stop take seconds
def test_the_table_of_a_step_holds_its_convolutions(tmp_path):
    config = training.TrainConfig.from_settings(train_dir=str(tmp_path), data_source="synthetic",
                                                model="simple3", batch_size=4, optimizer="sgd",
                                                num_parallel_calls=1)
    setup = TrainingSetup(config)
    iterator = setup.train_iterator(0)
    setup.train_step(iterator, tf.constant(1, tf.int64))  # trace and warm up
    rows = op_table.step_op_table(setup.train_step, iterator, steps=2, top=100)
    by_type = {row.op_type: row for row in rows}
    assert any("Conv2D" in op for op in by_type), sorted(by_type)
    assert any("Conv2DBackpropFilter" in op for op in by_type), sorted(by_type)
    assert all(row.ms_per_step > 0 and row.calls_per_step > 0 for row in rows)
    assert [row.ms_per_step for row in rows] == sorted((r.ms_per_step for r in rows),
                                                       reverse=True)
    text = op_table.format_op_table(rows[:3], "title")
    assert text.splitlines()[0] == "title" and len(text.splitlines()) == 5
    with pytest.raises(ValueError, match="steps"):
        op_table.step_op_table(setup.train_step, iterator, steps=0)
