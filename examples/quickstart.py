"""Import a generated package and run a forward pass of a scaled-down variant.

Usage: python examples/quickstart.py generated/gpt_oss_20b

The variant keeps the structure of the generated config (its attention pattern,
YaRN settings, grouped-query ratio, top-k routing and SwiGLU constants) and
shrinks the sizes so it runs on a laptop CPU in seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
from flax import nnx


def scaled_down(config, layers: int = 4):
    """Return `config` with small sizes and the same structure."""
    kv_heads = 2
    return dataclasses.replace(
        config,
        num_hidden_layers=layers,
        layer_types=tuple(config.layer_types[:layers]),
        num_local_experts=8,
        num_experts_per_tok=min(config.num_experts_per_tok, 8),
        vocab_size=1024,
        hidden_size=128,
        intermediate_size=128,
        head_dim=32,
        num_attention_heads=kv_heads * config.num_key_value_groups,
        num_key_value_heads=kv_heads,
        dtype="float32",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path, help="generated package project, e.g. generated/gpt_oss_20b")
    parser.add_argument("--length", type=int, default=160, help="tokens per sequence (default: 160, beyond the window)")
    arguments = parser.parse_args()

    sys.path.insert(0, str(arguments.project))
    package = importlib.import_module(arguments.project.name)
    config = scaled_down(package.GptOssConfig())
    model = package.GptOssForCausalLM(config, rngs=nnx.Rngs(0))

    input_ids = jax.random.randint(jax.random.key(0), (2, arguments.length), 0, config.vocab_size)
    output = nnx.jit(lambda model, ids: model(ids, labels=ids, output_router_logits=True))(model, input_ids)

    parameters = sum(variable[...].size for _, variable in nnx.to_flat_state(nnx.state(model, nnx.Param)))
    print(f"package        {package.__name__} (full size: {package.GptOssConfig().num_hidden_layers} layers, "
          f"{package.GptOssConfig().num_local_experts} experts, mesh {package.MESH_SHAPE})")
    print(f"variant        {config.num_hidden_layers} layers {list(config.layer_types)}, "
          f"{config.num_local_experts} experts (top {config.num_experts_per_tok}), {parameters:,} parameters")
    print(f"logits         {tuple(output.logits.shape)}, finite: {bool(jnp.isfinite(output.logits).all())}")
    print(f"loss           {float(output.loss):.4f} (cross-entropy + {config.router_aux_loss_coef} x aux)")
    print(f"aux loss       {float(output.aux_loss):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
