"""Partition rules on eight fake CPU devices: coverage, placement and sharded numerics."""

from __future__ import annotations

import re
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec
from support import tiny_config

from ossgen.codegen.inventory import expand_parameters
from ossgen.schema.mesh import MeshConfig
from ossgen.schema.sharding import check_mesh

MESHES = {
    "fsdp2_ep2_tp2": MeshConfig(fsdp=2, ep=2, tp=2, num_devices=8),
    "ep8": MeshConfig(ep=8, num_devices=8),
    # Four tp shards with two key/value heads: k and v are replicated across tp.
    "dp2_tp4": MeshConfig(dp=2, tp=4, num_devices=8),
}


def flat_parameters(model: Any) -> dict[str, Any]:
    return {
        "/".join(str(part) for part in path): variable
        for path, variable in nnx.to_flat_state(nnx.state(model, nnx.Param))
    }


@pytest.fixture(scope="module", params=sorted(MESHES))
def sharded(request: pytest.FixtureRequest, package_factory: Any) -> tuple[Any, Any, Any, MeshConfig]:
    """Return a package generated for one mesh, a model created sharded on it, and the meshes."""
    assert jax.device_count() == 8, "conftest must give JAX eight CPU devices"
    mesh_config = MESHES[request.param]
    config = tiny_config()
    assert check_mesh(config, mesh_config) == []
    package = package_factory(config, f"sharded_{request.param}", mesh_config)
    mesh = package.make_mesh()
    model = package.create_sharded_model(package.GptOssConfig(), mesh, seed=1)
    return package, model, mesh, mesh_config


def test_every_parameter_matches_one_rule(sharded: tuple[Any, Any, Any, MeshConfig]) -> None:
    package, model, _, _ = sharded
    paths = list(flat_parameters(model))

    unmatched = [path for path in paths if not any(re.fullmatch(pattern, path) for pattern, _ in package.PARTITION_RULES)]
    unused = [pattern for pattern, _ in package.PARTITION_RULES if not any(re.fullmatch(pattern, path) for path in paths)]

    assert unmatched == []
    assert unused == []


def test_parameters_land_on_rule_shardings(sharded: tuple[Any, Any, Any, MeshConfig]) -> None:
    package, model, mesh, _ = sharded

    for path, variable in flat_parameters(model).items():
        expected = NamedSharding(mesh, package.partition_spec(path))
        assert variable[...].sharding.is_equivalent_to(expected, variable[...].ndim), path


def test_expert_axis_splits_on_ep(sharded: tuple[Any, Any, Any, MeshConfig]) -> None:
    _, model, _, mesh_config = sharded
    config = tiny_config()
    experts = flat_parameters(model)["model/layers/0/mlp/experts/gate_up_proj"][...]

    shard_shapes = {shard.data.shape for shard in experts.addressable_shards}

    expected_experts = config.num_local_experts // mesh_config.ep
    expected_hidden = config.hidden_size // mesh_config.fsdp
    expected_inner = 2 * config.intermediate_size // mesh_config.tp
    assert shard_shapes == {(expected_experts, expected_hidden, expected_inner)}


def test_kv_heads_replicate_when_tp_exceeds_them(sharded: tuple[Any, Any, Any, MeshConfig]) -> None:
    package, _, _, mesh_config = sharded
    spec = package.partition_spec("model/layers/0/self_attn/k_proj/kernel")

    if tiny_config().num_key_value_heads % mesh_config.tp == 0:
        assert spec == PartitionSpec("fsdp", "tp")
    else:
        assert spec == PartitionSpec("fsdp", None)


def test_sharded_forward_matches_single_device(sharded: tuple[Any, Any, Any, MeshConfig]) -> None:
    package, model, mesh, _ = sharded
    input_ids = jnp.asarray(np.random.default_rng(0).integers(0, 128, size=(2, 24)))
    graphdef, state = nnx.split(model)
    single = jax.devices()[0]
    local_state = jax.tree.map(lambda array: jax.device_put(np.asarray(array), single), state)
    expected = nnx.merge(graphdef, local_state)(input_ids).logits

    @nnx.jit
    def forward(model: Any, input_ids: jax.Array) -> jax.Array:
        return model(input_ids).logits

    ids = jax.device_put(input_ids, NamedSharding(mesh, PartitionSpec(("dp", "fsdp"), None)))
    actual = forward(model, ids)

    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), atol=1e-5)


def test_inventory_lists_the_model_parameters(sharded: tuple[Any, Any, Any, MeshConfig]) -> None:
    _, model, _, mesh_config = sharded
    config = tiny_config()

    actual = {path: tuple(variable[...].shape) for path, variable in flat_parameters(model).items()}
    inventory = {parameter.path: parameter.shape for parameter in expand_parameters(config, mesh_config)}

    assert actual == inventory
