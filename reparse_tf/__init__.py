"""reparse_tf: model parsing of generative models in Keras 3 (TensorFlow at the edges)."""

__version__ = "0.1.0"
