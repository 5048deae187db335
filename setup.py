"""convnet: a low-level TensorFlow 2 training library in the cuda-convnet style."""

import setuptools

setuptools.setup(
    name="convnet",
    version="0.1.0",
    description="Low-level TensorFlow 2 CIFAR-10 training library (cuda-convnet style).",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    packages=setuptools.find_packages(include=["convnet", "convnet.*"]),
    python_requires=">=3.10",
    # Ranges tested: tensorflow 2.21 with Keras 3 on Python 3.11 (see BUILD.md).
    install_requires=[
        "tensorflow>=2.16,<2.22",
        "tensorflow-datasets>=4.9,<5",
        "numpy>=1.26,<3",
        "absl-py>=2.0,<3",
        "tensorboard>=2.16,<3",  # tf.summary ops live in tensorboard since TF 2.20
        "matplotlib>=3.7,<4",  # plots of convnet.compare
    ],
    extras_require={"test": ["pytest>=8", "pytest-xdist>=3"]},
    entry_points={
        "console_scripts": [
            "convnet-train=convnet.train:run",
            "convnet-eval=convnet.eval:run",
            "convnet-compare=convnet.compare:run",
            "convnet-summary=convnet.summary:run",
            "convnet-predict=convnet.predict:run",
            "convnet-export=convnet.export:run",
            "convnet-report=convnet.report:run",
            "convnet-bench=convnet.bench:run",
        ],
    },
    scripts=["bin/convnet-download-cifar10", "bin/convnet-train-default"],
)
