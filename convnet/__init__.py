"""convnet: a low-level TensorFlow 2 training library in the cuda-convnet style."""

__version__ = "0.1.0"
