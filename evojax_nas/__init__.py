"""evojax_nas: a code language model designs neural networks (EvoPrompting, LLMatic) in JAX/Flax."""

__version__ = "0.1.0"
