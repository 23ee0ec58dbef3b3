"""ossgen: validate GPT-OSS configurations and generate Flax NNX model packages."""

__version__ = "0.1.0"
