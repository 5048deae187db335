"""Your own model, trained and evaluated by convnet from Python.

    python examples/custom_model.py --train_dir=/tmp/my_net [--data_dir=DIR] [--max_steps=N]

The model is a `convnet.models.Model` written with `convnet.layers`; `convnet.fit` gives it the
whole machinery (checkpoints that resume, run.json, the exact evaluator, TensorBoard, export).
With --data_dir it reads CIFAR-10 there; without, a synthetic CIFAR-shaped dataset.
"""

import argparse

import tensorflow as tf

import convnet
from convnet import layers
from convnet.models import SequentialModel


class TinyNet(SequentialModel):
    """float32 [batch, H, W, 3] -> [batch, num_classes] logits: two conv blocks and a head."""

    image_size = None  # the dataset's native size (32 for CIFAR)
    default_name = "tiny_net"

    def body_layers(self):
        relu, wd = tf.nn.relu, self.weight_decay
        return [
            layers.Conv2D(16, 3, wd=wd, activation=relu, name="conv1"),
            layers.MaxPool(2, 2),
            layers.Conv2D(32, 3, wd=wd, activation=relu, name="conv2"),
            layers.GlobalAvgPool(),
            layers.Dense(self.num_classes, wd=wd, name="logits"),
        ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train_dir", default="/tmp/convnet_custom_model")
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--max_steps", type=int, default=300)
    args = parser.parse_args()
    data = ({"data_dir": args.data_dir, "download": False} if args.data_dir
            else {"data_source": "synthetic"})
    result = convnet.fit(model=TinyNet, train_dir=args.train_dir, max_steps=args.max_steps,
                         batch_size=64, optimizer="adam", learning_rate=3e-3,
                         save_checkpoint_steps=args.max_steps, log_frequency=50, **data)
    print(f"trained to step {result.step}, last loss {result.loss:.3f}, "
          f"checkpoint {result.checkpoint}")
    scores = convnet.evaluate(args.train_dir, num_examples=2000, **data)
    print(f"precision @ 1 = {scores.precision:.3f} on {scores.num_examples} test examples")


if __name__ == "__main__":
    main()
