"""Numerical parity of generated packages with `transformers`' GPT-OSS (float32, CPU).

Weights come from a randomly initialised `transformers.GptOssForCausalLM` whose
norms, sinks and biases are redrawn with non-trivial values, and sequences are
longer than the sliding window so the window masks real keys.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest
import torch
from support import random_hf_model, tiny_config
from flax import nnx

from ossgen.schema.config import GptOssConfig

LOGIT_TOLERANCE = 1e-5


def run_both(package: Any, config: GptOssConfig, input_ids: np.ndarray, attention_mask: np.ndarray | None = None,
             seed: int = 0) -> tuple[Any, Any]:
    """Run the `transformers` model and the generated one on the same weights and inputs."""
    reference = random_hf_model(config, seed)
    model = package.GptOssForCausalLM(package.GptOssConfig(), rngs=nnx.Rngs(0))
    package.load_hf_state_dict(model, reference.state_dict())

    ids = torch.from_numpy(input_ids)
    mask = None if attention_mask is None else torch.from_numpy(attention_mask)
    with torch.no_grad():
        expected = reference(input_ids=ids, attention_mask=mask, labels=ids, output_router_logits=True)
    actual = model(
        jnp.asarray(input_ids),
        attention_mask=None if attention_mask is None else jnp.asarray(attention_mask),
        labels=jnp.asarray(input_ids),
        output_router_logits=True,
    )
    return expected, actual


PARITY_CASES = {
    "yarn_mixed_layers": tiny_config(),
    "yarn_truncated_with_attention_factor": tiny_config(
        rope_scaling={
            "rope_type": "yarn",
            "factor": 8.0,
            "beta_fast": 16.0,
            "beta_slow": 2.0,
            "truncate": True,
            "original_max_position_embeddings": 32,
            "attention_factor": 1.2,
        },
        layer_types=["full_attention", "sliding_attention", "sliding_attention", "full_attention"],
    ),
    "plain_rope_top2_groups4": tiny_config(
        rope_scaling=None,
        num_attention_heads=8,
        num_key_value_heads=2,
        num_experts_per_tok=2,
        sliding_window=5,
        mlp_activations_limit=0.5,
        swiglu_alpha=1.3,
        layer_types=None,
    ),
}


@pytest.mark.parametrize("case", sorted(PARITY_CASES))
def test_logits_match_transformers(case: str, package_factory: Any) -> None:
    config = PARITY_CASES[case]
    package = package_factory(config, f"parity_{case}")
    input_ids = np.random.default_rng(1).integers(0, config.vocab_size, size=(2, 3 * config.sliding_window + 7))

    expected, actual = run_both(package, config, input_ids)

    logits_error = np.abs(np.asarray(actual.logits) - expected.logits.numpy()).max()
    assert logits_error < LOGIT_TOLERANCE, f"max |logit difference| {logits_error:.3g}"
    assert np.abs(expected.logits.numpy()).max() > 0.5, "logits too small for the comparison to mean anything"
    np.testing.assert_allclose(float(actual.aux_loss), float(expected.aux_loss), rtol=1e-6)
    np.testing.assert_allclose(float(actual.loss), float(expected.loss), rtol=1e-6)


def test_router_logits_match_transformers(package_factory: Any) -> None:
    config = tiny_config()
    package = package_factory(config, "parity_yarn_mixed_layers")
    input_ids = np.random.default_rng(2).integers(0, config.vocab_size, size=(2, 30))

    expected, actual = run_both(package, config, input_ids, seed=3)

    assert len(actual.router_logits) == config.num_hidden_layers
    for layer, (ours, theirs) in enumerate(zip(actual.router_logits, expected.router_logits, strict=True)):
        ours_flat = np.asarray(ours).reshape(-1, config.num_local_experts)
        error = np.abs(ours_flat - theirs.numpy()).max()
        assert error < LOGIT_TOLERANCE, f"layer {layer}: max |router logit difference| {error:.3g}"


def test_padding_matches_transformers(package_factory: Any) -> None:
    config = tiny_config()
    package = package_factory(config, "parity_yarn_mixed_layers")
    length = 3 * config.sliding_window
    input_ids = np.random.default_rng(4).integers(0, config.vocab_size, size=(2, length))
    # The second row ends with 6 padding tokens.
    attention_mask = np.ones((2, length), dtype=np.int64)
    attention_mask[1, -6:] = 0

    expected, actual = run_both(package, config, input_ids, attention_mask, seed=5)

    real = attention_mask.astype(bool)
    logits_error = np.abs(np.asarray(actual.logits)[real] - expected.logits.numpy()[real]).max()
    assert logits_error < LOGIT_TOLERANCE, f"max |logit difference| on real tokens {logits_error:.3g}"
    np.testing.assert_allclose(float(actual.aux_loss), float(expected.aux_loss), rtol=1e-6)


def test_sliding_window_sees_exactly_window_keys(package_factory: Any) -> None:
    package = package_factory(tiny_config(), "parity_yarn_mixed_layers")
    window = 4

    mask = np.asarray(package.model.attention_mask(10, window, None))[0, 0, 0]

    assert mask.sum(axis=1).tolist() == [1, 2, 3, 4, 4, 4, 4, 4, 4, 4]
    assert mask[9].nonzero()[0].tolist() == [6, 7, 8, 9]


def test_bfloat16_error_matches_transformers_bfloat16(package_factory: Any) -> None:
    """In bfloat16 both models round; ours may drift from float32 no more than `transformers`' own does."""
    package = package_factory(tiny_config(dtype="bfloat16"), "parity_bfloat16")
    input_ids = np.random.default_rng(6).integers(0, 128, size=(2, 40))
    reference = random_hf_model(tiny_config(), seed=7)
    model = package.GptOssForCausalLM(package.GptOssConfig(), rngs=nnx.Rngs(0))
    package.load_hf_state_dict(model, reference.state_dict())

    with torch.no_grad():
        exact = reference(torch.from_numpy(input_ids)).logits.numpy()
        theirs = reference.to(torch.bfloat16)(torch.from_numpy(input_ids)).logits.float().numpy()
    ours = model(jnp.asarray(input_ids)).logits

    assert ours.dtype == jnp.bfloat16
    assert model.model.layers[0].input_layernorm.scale[...].dtype == jnp.float32
    our_error = np.median(np.abs(np.asarray(ours.astype(jnp.float32)) - exact))
    their_error = np.median(np.abs(theirs - exact))
    assert our_error <= 1.5 * their_error + 1e-3, f"median error {our_error:.4g} vs transformers {their_error:.4g}"
