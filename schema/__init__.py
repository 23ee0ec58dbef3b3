"""Validation of GPT-OSS model configurations and loading of configuration files."""

from ossgen.schema.config import GptOssConfig
from ossgen.schema.errors import ConfigError, Issue
from ossgen.schema.loaders import LoadedConfig, config_from_mapping, load_config, load_config_text
from ossgen.schema.mesh import MeshConfig
from ossgen.schema.mesh_loader import load_mesh
from ossgen.schema.rope import DefaultRopeScaling, RopeScaling, YarnRopeScaling
from ossgen.schema.sharding import check_mesh, partition_rules

__all__ = [
    "ConfigError",
    "DefaultRopeScaling",
    "GptOssConfig",
    "Issue",
    "LoadedConfig",
    "MeshConfig",
    "RopeScaling",
    "YarnRopeScaling",
    "check_mesh",
    "config_from_mapping",
    "load_config",
    "load_config_text",
    "load_mesh",
    "partition_rules",
]
