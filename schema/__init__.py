"""Validation of GPT-OSS model configurations and loading of configuration files."""

from ossgen.schema.config import GptOssConfig
from ossgen.schema.errors import ConfigError, Issue
from ossgen.schema.loaders import LoadedConfig, config_from_mapping, load_config, load_config_text
from ossgen.schema.rope import DefaultRopeScaling, RopeScaling, YarnRopeScaling

__all__ = [
    "ConfigError",
    "DefaultRopeScaling",
    "GptOssConfig",
    "Issue",
    "LoadedConfig",
    "RopeScaling",
    "YarnRopeScaling",
    "config_from_mapping",
    "load_config",
    "load_config_text",
]
