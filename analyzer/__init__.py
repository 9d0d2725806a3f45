"""convlint: static analysis of convolutional network architectures."""

__version__ = "0.1.0"
