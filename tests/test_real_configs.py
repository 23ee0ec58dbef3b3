"""The published gpt-oss-20b and gpt-oss-120b configs: full-size shapes without memory.

The checked-in packages under `generated/` are initialised abstractly (shapes
only), and their parameter count and per-device bytes under the shipped mesh are
compared with a count written out here from the config alone.
"""

from __future__ import annotations

import importlib
import math
import sys
from typing import Any

import jax
import pytest
from flax import nnx
from jax.sharding import AbstractMesh, NamedSharding
from support import CONFIGS, GENERATED

from ossgen.schema.loaders import load_config
from ossgen.schema.mesh_loader import load_mesh
from ossgen.schema.sharding import check_mesh, parameter_count, per_device_parameter_bytes

# name -> (HF config file, shipped mesh, published parameter count in billions)
SHIPPED = {
    "gpt_oss_20b": ("gpt-oss-20b.json", "mesh-20b.yaml", 20.9),
    "gpt_oss_120b": ("gpt-oss-120b.json", "mesh-120b.yaml", 116.8),
}


def import_generated(name: str) -> Any:
    project_dir = str(GENERATED / name)
    if project_dir not in sys.path:
        sys.path.insert(0, project_dir)
    return importlib.import_module(name)


def count_from_config(c: Any) -> int:
    """Count parameters from the config by the GPT-OSS layer structure."""
    attention = (
        c.hidden_size * c.num_attention_heads * c.head_dim + c.num_attention_heads * c.head_dim  # q
        + 2 * (c.hidden_size * c.num_key_value_heads * c.head_dim + c.num_key_value_heads * c.head_dim)  # k, v
        + c.num_attention_heads * c.head_dim * c.hidden_size + c.hidden_size  # o
        + c.num_attention_heads  # sinks
    )
    router = c.hidden_size * c.num_local_experts + c.num_local_experts
    expert = c.hidden_size * 2 * c.intermediate_size + 2 * c.intermediate_size + c.intermediate_size * c.hidden_size + c.hidden_size
    layer = 2 * c.hidden_size + attention + router + c.num_local_experts * expert
    return 2 * c.vocab_size * c.hidden_size + c.num_hidden_layers * layer + c.hidden_size


def bytes_per_device_from_config(c: Any, m: Any) -> int:
    """Per-device parameter bytes for the shipped meshes, written out tensor by tensor.

    Valid when tp divides the key/value heads, as in both shipped meshes.
    """
    assert c.num_key_value_heads % m.tp == 0
    width = {"bfloat16": 2, "float32": 4}[c.dtype]
    h, q, kv, inner, e = c.hidden_size, c.num_attention_heads * c.head_dim, c.num_key_value_heads * c.head_dim, c.intermediate_size, c.num_local_experts
    layer = (
        2 * h * 4  # two float32 norms, replicated
        + (h // m.fsdp) * (q // m.tp) * width + (q // m.tp) * width  # q
        + 2 * ((h // m.fsdp) * (kv // m.tp) * width + (kv // m.tp) * width)  # k, v
        + (q // m.tp) * (h // m.fsdp) * width + h * width  # o, bias replicated
        + (c.num_attention_heads // m.tp) * width  # sinks
        + (h * e + e) * width  # router, replicated
        + (e // m.ep) * (h // m.fsdp) * (2 * inner // m.tp) * width  # gate_up
        + (e // m.ep) * (2 * inner // m.tp) * width  # gate_up bias
        + (e // m.ep) * (inner // m.tp) * (h // m.fsdp) * width  # down
        + (e // m.ep) * h * width  # down bias
    )
    embeddings = (c.vocab_size // m.fsdp) * (h // m.tp) * width + (h // m.fsdp) * (c.vocab_size // m.tp) * width
    return embeddings + c.num_hidden_layers * layer + h * 4


@pytest.fixture(scope="module", params=sorted(SHIPPED))
def shipped(request: pytest.FixtureRequest) -> tuple[str, Any, Any, float]:
    config_file, mesh_file, published_billions = SHIPPED[request.param]
    config = load_config(CONFIGS / config_file).config
    mesh = load_mesh(CONFIGS / mesh_file)
    return request.param, config, mesh, published_billions


def abstract_parameters(package: Any) -> dict[str, jax.ShapeDtypeStruct]:
    abstract_model = nnx.eval_shape(lambda: package.GptOssForCausalLM(package.GptOssConfig(), rngs=nnx.Rngs(0)))
    return {
        "/".join(str(part) for part in path): variable.get_value()
        for path, variable in nnx.to_flat_state(nnx.state(abstract_model, nnx.Param))
    }


def test_shipped_mesh_fits_config(shipped: tuple[str, Any, Any, float]) -> None:
    _, config, mesh, _ = shipped
    assert check_mesh(config, mesh) == []


def test_abstract_init_parameter_count(shipped: tuple[str, Any, Any, float]) -> None:
    name, config, _, published_billions = shipped
    parameters = abstract_parameters(import_generated(name))

    count = sum(math.prod(array.shape) for array in parameters.values())

    assert all(isinstance(array, jax.ShapeDtypeStruct) for array in parameters.values())
    assert count == count_from_config(config)
    assert count == parameter_count(config)
    assert round(count / 1e9, 1) == published_billions


def test_bytes_per_device_under_shipped_mesh(shipped: tuple[str, Any, Any, float]) -> None:
    name, config, mesh, _ = shipped
    package = import_generated(name)
    parameters = abstract_parameters(package)
    axis_sizes = tuple(package.MESH_SHAPE[axis] for axis in package.MESH_AXIS_NAMES)
    abstract_mesh = AbstractMesh(axis_sizes, package.MESH_AXIS_NAMES)

    per_device = 0
    for path, array in parameters.items():
        shard_shape = NamedSharding(abstract_mesh, package.partition_spec(path)).shard_shape(array.shape)
        per_device += math.prod(shard_shape) * array.dtype.itemsize

    assert per_device == bytes_per_device_from_config(config, mesh)
    assert per_device == per_device_parameter_bytes(config, mesh)


def test_generated_defaults_equal_config(shipped: tuple[str, Any, Any, float]) -> None:
    name, config, mesh, _ = shipped
    package = import_generated(name)
    emitted = package.GptOssConfig()

    assert emitted.num_hidden_layers == config.num_hidden_layers
    assert emitted.num_local_experts == config.num_local_experts
    assert list(emitted.layer_types) == list(config.layer_types)
    assert emitted.mlp_activations_limit == config.mlp_activations_limit
    assert emitted.rope_scaling.factor == config.rope_scaling.factor
    assert emitted.rope_scaling.truncate is False
    assert package.MESH_SHAPE == mesh.shape
