"""CIFAR-style data from numpy arrays: train, then classify with the trained model.

    python examples/numpy_data.py --train_dir=/tmp/arrays [--examples=N] [--max_steps=N]

`ArraySource` takes uint8 [N, H, W, C] images and integer labels per split (here made up: each
class a colour, with noise); everything downstream is as for CIFAR-10: channel statistics of
the training split, augmentation, exact evaluation, resume, export.
"""

import argparse

import numpy as np

import convnet
from convnet.data.sources.arrays import ArraySource

CLASSES = ("red", "green", "blue")


def make_arrays(count, seed):
    """uint8 [count, 32, 32, 3] images whose colour is the class, and their labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(CLASSES), size=count)
    colours = np.eye(3)[labels] * 160 + 40
    noise = rng.normal(0, 30, size=(count, 32, 32, 3))
    images = np.clip(colours[:, None, None, :] + noise, 0, 255).astype(np.uint8)
    return images, labels


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train_dir", default="/tmp/convnet_numpy_data")
    parser.add_argument("--examples", type=int, default=600)
    parser.add_argument("--max_steps", type=int, default=60)
    args = parser.parse_args()
    source = ArraySource(name="colours", class_names=CLASSES,
                         train=make_arrays(args.examples, seed=0),
                         test=make_arrays(args.examples // 4, seed=1))
    result = convnet.fit(model="simple3", source=source, train_dir=args.train_dir,
                         max_steps=args.max_steps, batch_size=32, optimizer="adam",
                         learning_rate=1e-3, save_checkpoint_steps=args.max_steps,
                         log_frequency=20, eval_at_end=True)
    print(f"step {result.step}: precision @ 1 = {result.precision:.3f} on the test arrays")
    model = convnet.load(args.train_dir)
    images, labels = make_arrays(5, seed=2)
    predicted = model.probabilities(images).argmax(axis=1)
    for label, guess in zip(labels, predicted, strict=True):
        print(f"a {CLASSES[label]} image: predicted {model.class_names[guess]}")


if __name__ == "__main__":
    main()
