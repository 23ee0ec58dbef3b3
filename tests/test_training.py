"""Training-time behaviour of a generated package: dropout modes and gradients."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
import torch
from support import random_hf_model, tiny_config

from ossgen.schema.mesh import MeshConfig


@pytest.fixture(scope="module")
def dropout_package(package_factory: Any) -> Any:
    return package_factory(tiny_config(attention_dropout=0.3), "training_dropout", MeshConfig(ep=2, tp=2, num_devices=4))


def test_dropout_only_after_train(dropout_package: Any) -> None:
    model = dropout_package.GptOssForCausalLM(dropout_package.GptOssConfig(), rngs=nnx.Rngs(0))
    input_ids = jnp.asarray(np.random.default_rng(0).integers(0, 128, size=(2, 20)))

    inference = model(input_ids).logits
    model.train()
    first_training = model(input_ids).logits
    second_training = model(input_ids).logits
    model.eval()
    inference_again = model(input_ids).logits

    np.testing.assert_array_equal(np.asarray(inference_again), np.asarray(inference))
    assert np.abs(np.asarray(first_training - inference)).max() > 1e-3
    assert np.abs(np.asarray(second_training - first_training)).max() > 1e-3


def test_no_dropout_state_without_rate(package_factory: Any) -> None:
    package = package_factory(tiny_config(), "parity_yarn_mixed_layers")
    model = package.GptOssForCausalLM(package.GptOssConfig(), rngs=nnx.Rngs(0))

    kinds = {type(variable).__name__ for _, variable in nnx.to_flat_state(nnx.state(model))}

    assert kinds == {"Param"}


def test_sharded_model_with_dropout_keys(dropout_package: Any) -> None:
    mesh = dropout_package.make_mesh(jax.devices()[:4])

    model = dropout_package.create_sharded_model(dropout_package.GptOssConfig(), mesh)

    for path, variable in nnx.to_flat_state(nnx.state(model)):
        if not isinstance(variable, nnx.Param):
            assert variable.get_value().sharding.is_fully_replicated, path


def test_gradients_reach_every_parameter(package_factory: Any) -> None:
    package = package_factory(tiny_config(), "parity_yarn_mixed_layers")
    model = package.GptOssForCausalLM(package.GptOssConfig(), rngs=nnx.Rngs(0))
    input_ids = jnp.asarray(np.random.default_rng(1).integers(0, 128, size=(2, 24)))

    def loss_of(model: Any) -> jax.Array:
        return model(input_ids, labels=input_ids, output_router_logits=True).loss

    loss, gradients = nnx.jit(nnx.value_and_grad(loss_of))(model)

    assert np.isfinite(float(loss))
    for path, gradient in nnx.to_flat_state(gradients):
        values = np.asarray(gradient.get_value())
        assert np.isfinite(values).all(), path
        # Expert and router weights get gradient only through routed tokens and the
        # auxiliary loss; every tensor still receives some.
        assert np.abs(values).max() > 0, path


def test_gradients_match_transformers(package_factory: Any) -> None:
    package = package_factory(tiny_config(), "parity_yarn_mixed_layers")
    reference = random_hf_model(tiny_config(), seed=8)
    model = package.GptOssForCausalLM(package.GptOssConfig(), rngs=nnx.Rngs(0))
    package.load_hf_state_dict(model, reference.state_dict())
    input_ids = np.random.default_rng(9).integers(0, 128, size=(2, 30))

    reference(input_ids=torch.from_numpy(input_ids), labels=torch.from_numpy(input_ids), output_router_logits=True).loss.backward()

    def loss_of(model: Any) -> jax.Array:
        ids = jnp.asarray(input_ids)
        return model(ids, labels=ids, output_router_logits=True).loss

    gradients = {
        "/".join(str(part) for part in path): np.asarray(gradient.get_value())
        for path, gradient in nnx.to_flat_state(nnx.grad(loss_of)(model))
    }
    compared = 0
    for name, parameter in reference.named_parameters():
        path, to_our_layout = package.weights.hf_name_to_path(name)
        expected = to_our_layout(parameter.grad.numpy())
        scale = np.abs(expected).max()
        error = np.abs(gradients[path] - expected).max()
        assert error <= 1e-5 * max(scale, 1.0), f"{name}: max |gradient difference| {error:.3g} at scale {scale:.3g}"
        compared += 1
    assert compared == len(gradients)
