"""Loading `transformers` state dicts: plain, MXFP4-quantised, and broken ones."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx
from support import random_hf_model, tiny_config
from transformers.integrations.mxfp4 import convert_moe_packed_tensors


def random_mxfp4(experts: int, out_features: int, in_features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return random MXFP4 blocks [E, out, in/32, 16] and scales [E, out, in/32] near 2**0."""
    generator = np.random.default_rng(seed)
    blocks = generator.integers(0, 256, size=(experts, out_features, in_features // 32, 16), dtype=np.uint8)
    scales = generator.integers(122, 131, size=(experts, out_features, in_features // 32), dtype=np.uint8)
    return blocks, scales


@pytest.fixture(scope="module")
def package(package_factory: Any) -> Any:
    # hidden and intermediate sizes must be multiples of 32 for MXFP4 blocks.
    return package_factory(tiny_config(hidden_size=64, intermediate_size=64), "weights_tiny")


def test_dequantize_matches_transformers(package: Any) -> None:
    blocks, scales = random_mxfp4(3, 10, 64, seed=0)

    expected = convert_moe_packed_tensors(torch.from_numpy(blocks), torch.from_numpy(scales), dtype=torch.float32)
    actual = package.dequantize_mxfp4(blocks, scales)

    assert actual.shape == (3, 64, 10)
    np.testing.assert_array_equal(actual, expected.numpy())


def test_mxfp4_state_dict_loads_dequantised_experts(package: Any) -> None:
    config = package.GptOssConfig()
    state_dict = dict(random_hf_model(tiny_config(hidden_size=64, intermediate_size=64), seed=0).state_dict())
    gate_up = random_mxfp4(config.num_local_experts, 2 * config.intermediate_size, config.hidden_size, seed=1)
    down = random_mxfp4(config.num_local_experts, config.hidden_size, config.intermediate_size, seed=2)
    for layer in range(config.num_hidden_layers):
        prefix = f"model.layers.{layer}.mlp.experts"
        del state_dict[f"{prefix}.gate_up_proj"], state_dict[f"{prefix}.down_proj"]
        state_dict[f"{prefix}.gate_up_proj_blocks"], state_dict[f"{prefix}.gate_up_proj_scales"] = gate_up
        state_dict[f"{prefix}.down_proj_blocks"], state_dict[f"{prefix}.down_proj_scales"] = down
    model = package.GptOssForCausalLM(config, rngs=nnx.Rngs(0))

    package.load_hf_state_dict(model, state_dict)

    expected = convert_moe_packed_tensors(torch.from_numpy(down[0]), torch.from_numpy(down[1]), dtype=torch.float32)
    np.testing.assert_array_equal(np.asarray(model.model.layers[2].mlp.experts.down_proj[...]), expected.numpy())
    assert np.abs(np.asarray(model.model.layers[0].mlp.experts.gate_up_proj[...])).max() > 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("drop_sinks", "parameters with no entry: model/layers/1/self_attn/sinks"),
        ("add_unknown", "unknown entries: model.layers.0.mlp.gate.weight"),
        ("wrong_shape", "model.norm.weight: expected (64,) after layout change, got (63,)"),
        ("orphan_scales", "model.layers.0.mlp.experts.down_proj_scales has no matching"),
    ],
)
def test_bad_state_dict_is_rejected_and_model_unchanged(change: str, message: str, package: Any) -> None:
    config = package.GptOssConfig()
    state_dict = dict(random_hf_model(tiny_config(hidden_size=64, intermediate_size=64), seed=0).state_dict())
    if change == "drop_sinks":
        del state_dict["model.layers.1.self_attn.sinks"]
    elif change == "add_unknown":
        state_dict["model.layers.0.mlp.gate.weight"] = torch.zeros(8, 64)
    elif change == "wrong_shape":
        state_dict["model.norm.weight"] = torch.ones(63)
    elif change == "orphan_scales":
        state_dict["model.layers.0.mlp.experts.down_proj_scales"] = torch.zeros(8, 64, 2, dtype=torch.uint8)
    model = package.GptOssForCausalLM(config, rngs=nnx.Rngs(0))
    before = np.asarray(model.model.embed_tokens.embedding[...]).copy()

    with pytest.raises(ValueError, match="cannot load the state dict|has no matching") as error:
        package.load_hf_state_dict(model, state_dict)

    assert message in str(error.value)
    np.testing.assert_array_equal(np.asarray(model.model.embed_tokens.embedding[...]), before)


def test_state_dict_round_trip_preserves_values(package: Any) -> None:
    config = package.GptOssConfig()
    reference = random_hf_model(tiny_config(hidden_size=64, intermediate_size=64), seed=4)
    model = package.GptOssForCausalLM(config, rngs=nnx.Rngs(0))

    package.load_hf_state_dict(model, reference.state_dict())

    attention = model.model.layers[1].self_attn
    np.testing.assert_array_equal(
        np.asarray(attention.q_proj.kernel[...]), reference.model.layers[1].self_attn.q_proj.weight.detach().numpy().T
    )
    np.testing.assert_array_equal(np.asarray(attention.sinks[...]), reference.model.layers[1].self_attn.sinks.detach().numpy())
    assert jnp.asarray(model.lm_head.kernel[...]).shape == (64, 128)
