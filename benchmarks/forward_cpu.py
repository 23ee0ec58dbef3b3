"""Time one forward pass of a generated package against `transformers` on the same weights.

Usage: python benchmarks/forward_cpu.py [--layers 4] [--hidden 512] [--experts 16] [--length 512]

Both models run in float32 on the CPU with the same random weights; the JAX
model is compiled once with `nnx.jit` before timing. The script prints one row
per implementation and the ratio of their median times, and checks that the
logits agree so the two are timed doing the same work.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
import torch
from flax import nnx

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))

from support import generate_and_import, random_hf_model  # noqa: E402

from ossgen.schema.config import GptOssConfig  # noqa: E402
from ossgen.schema.mesh import MeshConfig  # noqa: E402


def benchmark_config(arguments: argparse.Namespace) -> GptOssConfig:
    return GptOssConfig(
        num_hidden_layers=arguments.layers,
        num_local_experts=arguments.experts,
        num_experts_per_tok=4,
        vocab_size=8192,
        hidden_size=arguments.hidden,
        intermediate_size=arguments.hidden,
        head_dim=64,
        num_attention_heads=8,
        num_key_value_heads=2,
        sliding_window=128,
        max_position_embeddings=max(4 * arguments.length, 8192),
        rope_scaling={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 2048},
        dtype="float32",
    )


def median_milliseconds(run: object, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=4, help="decoder layers (default: 4)")
    parser.add_argument("--hidden", type=int, default=512, help="hidden and expert sizes (default: 512)")
    parser.add_argument("--experts", type=int, default=16, help="experts, top 4 routed (default: 16)")
    parser.add_argument("--length", type=int, default=512, help="tokens per sequence, batch of 2 (default: 512)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per implementation (default: 5)")
    arguments = parser.parse_args()

    config = benchmark_config(arguments)
    with tempfile.TemporaryDirectory() as folder:
        package = generate_and_import(config, MeshConfig(), "benchmark_model", Path(folder))
        importlib.invalidate_caches()
        reference = random_hf_model(config, seed=0)
        model = package.GptOssForCausalLM(package.GptOssConfig(), rngs=nnx.Rngs(0))
        package.load_hf_state_dict(model, reference.state_dict())

    input_ids = np.random.default_rng(0).integers(0, config.vocab_size, size=(2, arguments.length))
    torch_ids = torch.from_numpy(input_ids)
    jax_ids = jax.numpy.asarray(input_ids)
    forward = nnx.jit(lambda model, ids: model(ids).logits)

    def run_transformers() -> np.ndarray:
        with torch.no_grad():
            return reference(input_ids=torch_ids).logits.numpy()

    def run_generated() -> np.ndarray:
        return np.asarray(jax.block_until_ready(forward(model, jax_ids)))

    start = time.perf_counter()
    ours = run_generated()
    compile_ms = (time.perf_counter() - start) * 1000
    theirs = run_transformers()
    error = np.abs(ours - theirs).max()
    scale = np.abs(theirs).max()
    if error > 1e-4 * max(scale, 1.0):
        raise SystemExit(f"logits differ by {error:.3g} at scale {scale:.3g}; the timings would compare different work")

    generated_ms = median_milliseconds(run_generated, arguments.repeats)
    transformers_ms = median_milliseconds(run_transformers, arguments.repeats)
    tokens = input_ids.size

    print(f"config: {config.num_hidden_layers} layers, hidden {config.hidden_size}, {config.num_local_experts} experts "
          f"(top {config.num_experts_per_tok}), batch 2 x {arguments.length} tokens, float32, "
          f"{jax.devices()[0].platform} ({jax.device_count()} devices), max |logit difference| {error:.2g} "
          f"at logit scale {scale:.3g}")
    print(f"{'implementation':<28}{'median ms':>12}{'tokens/s':>12}")
    print(f"{'ossgen generated (jax jit)':<28}{generated_ms:>12.1f}{tokens / generated_ms * 1000:>12.0f}")
    print(f"{'transformers (torch eager)':<28}{transformers_ms:>12.1f}{tokens / transformers_ms * 1000:>12.0f}")
    print(f"speed ratio (transformers time / generated time): {transformers_ms / generated_ms:.2f}")
    print(f"first generated call, including compilation: {compile_ms:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
