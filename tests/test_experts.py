"""The block layout of the expert computation against a plain per-row loop, on hard routings."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from support import tiny_config


def expected_mix(experts_module: Any, x: np.ndarray, weights: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Compute each token's weighted sum of its experts' MLP outputs, one row at a time."""
    gate_up_proj = np.asarray(experts_module.gate_up_proj[...])
    gate_up_bias = np.asarray(experts_module.gate_up_proj_bias[...])
    down_proj = np.asarray(experts_module.down_proj[...])
    down_bias = np.asarray(experts_module.down_proj_bias[...])
    out = np.zeros_like(x)
    for token in range(x.shape[0]):
        for slot in range(chosen.shape[1]):
            expert = chosen[token, slot]
            gate_up = x[token] @ gate_up_proj[expert] + gate_up_bias[expert]
            hidden = np.asarray(experts_module.activation(jnp.asarray(gate_up)))
            out[token] += weights[token, slot] * (hidden @ down_proj[expert] + down_bias[expert])
    return out


ROUTINGS = {
    "one_token": lambda rng, experts: np.array([[5, 1, 6]]),
    "every_row_on_three_experts": lambda rng, experts: np.tile([0, 1, 2], (40, 1)),
    "uniform_random": lambda rng, experts: np.stack([rng.permutation(experts)[:3] for _ in range(37)]),
    "skewed_random": lambda rng, experts: np.stack(
        [rng.choice(experts, size=3, replace=False, p=np.linspace(8, 1, experts) / np.linspace(8, 1, experts).sum())
         for _ in range(300)]
    ),
}


@pytest.mark.parametrize("routing", sorted(ROUTINGS))
def test_block_layout_matches_row_loop(routing: str, package_factory: Any) -> None:
    package = package_factory(tiny_config(), "parity_yarn_mixed_layers")
    model = package.GptOssForCausalLM(package.GptOssConfig(), rngs=nnx.Rngs(3))
    experts_module = model.model.layers[0].mlp.experts
    rng = np.random.default_rng(0)
    for name in ("gate_up_proj_bias", "down_proj_bias"):
        variable = getattr(experts_module, name)
        variable.set_value(jnp.asarray(rng.normal(size=variable[...].shape), jnp.float32))
    chosen = ROUTINGS[routing](rng, 8)
    x = rng.normal(size=(chosen.shape[0], 64)).astype(np.float32)
    weights = rng.dirichlet(np.ones(3), size=chosen.shape[0]).astype(np.float32)

    actual = experts_module(jnp.asarray(x), jnp.asarray(weights), jnp.asarray(chosen))

    np.testing.assert_allclose(np.asarray(actual), expected_mix(experts_module, x, weights, chosen), atol=1e-4, rtol=1e-4)
