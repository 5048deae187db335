"""Throughput, side by side: `python -m convnet.bench [--model=cifar10] [--batch_size=128]`.

Five figures, each the median over --repeats rounds of --steps batches (more where
a round would last less than --min_round_seconds), with their spread, after an
untimed warm-up (tracing, caches, prefetch buffers: one round, or WARM_UP_STEPS
steps for figures 2 and 3):

  1 input       images/sec of the training input pipeline alone (`pipeline.train_dataset`
                as training builds it: source, augmentation, batching, prefetch)
  2 step        examples/sec of the training step on one in-memory batch (compute only)
  3 step+input  examples/sec of the same step fed by the input pipeline (as convnet.train)
  4 keras fit   examples/sec of Keras `model.fit` on the same network, pipeline,
                optimizer (and weight EMA) -- for cifar10, baseline and lenet5 only
  5 peak        FLOP/s of n x n matmuls in the compute dtype (float32 by default), on
                the first GPU else the CPU, times the replicas: the peak as TF reaches it
                (the fastest n of a few sizes: the cache-sized ones win on CPUs)

and the ratios (3)/(2) (target >= 0.95: the input pipeline is off the critical
path), (2)/(4) and (3)/(4) (target >= 1: no slower than model.fit; (3)/(4) has
both fed by the same pipeline) and (2) x training FLOPs per example / (5)
(target >= 0.6: the fraction of peak the step reaches). The figures run one
after the other, so on a shared machine a change of load between them moves
the ratios: compare runs at a similar load average (the table shows it).

Training FLOPs per example = 3 x forward FLOPs = 3 x 2 x the multiply-adds of
every Conv2D and Dense layer (the convention: convnet.benchmarking.flops).

All training flags apply (--model, --data_source, --precision, --xla,
--strategy, --optimizer, ...), but the bench writes nothing but --output: it
times the step of a `convnet.training.TrainingSetup`, and --train_dir,
--max_steps, --log_frequency and the checkpoint flags have no effect. A batch whose loss is
not finite is skipped, not stopped at, so every round runs all its steps.
"""

from convnet.runtime import quiet_start  # noqa: F401  (first, before TensorFlow: hides its lines)

# isort: split
from convnet import benchmarking, training
from convnet.runtime import cli


def main(config: training.TrainConfig, settings: benchmarking.BenchSettings) -> None:
    result = benchmarking.bench(config, settings.steps, settings.repeats,
                                matmul_size=settings.matmul_size,
                                keras_peer=settings.keras, peer=settings.peer,
                                peer_python=settings.peer_python,
                                op_table=settings.op_table,
                                min_round_seconds=settings.min_round_seconds)
    print(benchmarking.format_table(result), flush=True)
    if settings.output:
        benchmarking.write_json(result, settings.output)


def run() -> None:
    cli.run(main, training.TrainConfig, benchmarking.BenchSettings, takes_recipe=True)


if __name__ == "__main__":
    run()
