"""A training loop of your own around `convnet.ops` and the compiled `TrainStep`.

    python examples/custom_loop.py [--steps=N]

The model is written with the op vocabulary alone (variables that carry their weight decay,
`ops.conv2d`, `ops.max_pool`, `ops.dense`); `TrainStep` runs the loss (cross-entropy plus the
weight decay), gradients and update in one `tf.function`, several batches a call; the loop,
the data and what to log are yours.
"""

import argparse

import tensorflow as tf

from convnet import ops
from convnet.checkpoints import state as state_lib
from convnet.data import pipeline, preprocess
from convnet.data.sources.spec import SourceSpec, make_source
from convnet.models import Model
from convnet.optim import optimizers, schedules
from convnet.training.step import TrainStep


class OpsNet(Model):
    """float32 [batch, 32, 32, 3] -> [batch, num_classes] logits, written with convnet.ops."""

    image_size = None

    def __init__(self, num_classes=10, weight_decay=None):
        super().__init__(num_classes, weight_decay, name="ops_net")
        wd = weight_decay or 0.0
        with self.name_scope:
            self.w1 = ops.variable_with_weight_decay("w1", [5, 5, 3, 32], stddev=0.05, wd=wd)
            self.w2 = ops.variable_with_weight_decay("w2", [8 * 8 * 32, num_classes],
                                                     stddev=0.01, wd=wd)
            self.b2 = tf.Variable(tf.zeros([num_classes]), name="b2")

    def forward(self, inputs, training=False):
        x = ops.max_pool(tf.nn.relu(ops.conv2d(inputs, tf.cast(self.w1, inputs.dtype))), 4, 4)
        return ops.dense(ops.flatten(x), tf.cast(self.w2, x.dtype), tf.cast(self.b2, x.dtype))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch_size", type=int, default=64)
    args = parser.parse_args()
    source = make_source(SourceSpec("synthetic"))
    settings = pipeline.InputSettings(preprocess.Preprocessing("pad_crop", 32, "per_image"))
    batches = iter(pipeline.train_dataset(source, args.batch_size, settings))

    model = OpsNet(num_classes=source.info.num_classes, weight_decay=1e-4)
    state = state_lib.build(model, [32, 32, 3],
                            optimizer=optimizers.make_optimizer("sgd", 0.9, True))
    step = TrainStep(state, schedules.Cosine(0.05, args.steps), batch_size=args.batch_size)
    done = 0
    while done < args.steps:
        result = step(batches, min(50, args.steps - done))  # 50 batches a call: a StepResult
        done = int(state.step.numpy())
        accuracy = float(result.metrics.hits) / max(float(result.metrics.examples), 1.0)
        print(f"step {done}: loss {float(result.loss):.3f}, training accuracy {accuracy:.3f}")
    images, labels = next(iter(pipeline.eval_dataset(source, "test", 1000, settings=settings)))
    state.ema.copy_to(model.trainable_variables)  # the moving averages, as evaluation uses
    correct = tf.reduce_sum(tf.cast(tf.argmax(model(images), 1, tf.int32) == labels, tf.int32))
    print(f"precision @ 1 = {int(correct) / len(labels):.3f} on 1000 test examples (EMA)")


if __name__ == "__main__":
    main()
