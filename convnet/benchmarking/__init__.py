"""Throughput measurement behind `python -m convnet.bench`: one concept a module.

  timing       timed rounds, `Figure`; input pipeline (images/sec), step (examples/sec)
  keras_peers  Keras peers of ten zoo models (KERAS_PEERS) and their `model.fit` (examples/sec)
  peak         the matmul peak (FLOP/s: the maximum over shapes and rounds) and its device
  op_table     the step's op table: time by op type under TensorFlow's profiler
  torch_peer   the PyTorch peer networks and their step (a script of torch + stdlib only)
  torch_process  runs torch_peer in a Python that has torch: figure 6
  flops        model FLOPs: multiply-adds of Conv2D and Dense, FLOPs an example
  table        ratios, targets and the printed table
  run          `bench(config)`: the five figures as a JSON-ready dict; the bench's flags
"""

from convnet.benchmarking.flops import layer_macs, model_flops
from convnet.benchmarking.keras_peers import KERAS_PEERS, keras_model
from convnet.benchmarking.peak import MatmulPeak
from convnet.benchmarking.round_timing import Figure, timed_rounds
from convnet.benchmarking.run import BenchSettings, bench, define_bench_flags, write_json
from convnet.benchmarking.table import TARGETS, format_table, ratios

__all__ = ["BenchSettings", "Figure", "KERAS_PEERS", "TARGETS", "bench", "define_bench_flags",
           "format_table",
           "keras_model", "layer_macs", "MatmulPeak", "model_flops", "ratios", "timed_rounds",
           "write_json"]
