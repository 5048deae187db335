"""Throughput measurement behind `python -m convnet.bench`: one concept a module.

  timing       timed rounds, `Figure`; input pipeline (images/sec), step (examples/sec)
  keras_peers  the Keras peers of cifar10, baseline, lenet5 and their `model.fit` (examples/sec)
  peak         the matmul peak (FLOP/s) and the device it runs on
  flops        model FLOPs: multiply-adds of Conv2D and Dense, FLOPs an example
  table        ratios, targets and the printed table
  run          `bench(config)`: the five figures as a JSON-ready dict; the bench's flags
"""

from convnet.benchmarking.flops import layer_macs, model_flops
from convnet.benchmarking.keras_peers import KERAS_PEERS, keras_model
from convnet.benchmarking.peak import matmul_peak
from convnet.benchmarking.run import BenchSettings, bench, define_bench_flags, write_json
from convnet.benchmarking.table import TARGETS, format_table, ratios
from convnet.benchmarking.timing import Figure, timed_rounds

__all__ = ["BenchSettings", "Figure", "KERAS_PEERS", "TARGETS", "bench", "define_bench_flags",
           "format_table",
           "keras_model", "layer_macs", "matmul_peak", "model_flops", "ratios", "timed_rounds",
           "write_json"]
