"""Helpers the tests share: tiny configs and generating a package to import."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import torch
import transformers

from ossgen.codegen.render import GenerationRequest, render_package
from ossgen.codegen.writer import write_files
from ossgen.schema.config import GptOssConfig
from ossgen.schema.mesh import MeshConfig
from ossgen.schema.rope import YarnRopeScaling

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIGS = REPO_ROOT / "configs"
GENERATED = REPO_ROOT / "generated"


def tiny_config(**overrides: Any) -> GptOssConfig:
    """Return a small float32 config with every GPT-OSS feature engaged.

    Four layers mixing both attention kinds out of the usual alternation,
    grouped-query attention, top-3 of 8 experts, a window of 8 keys and a YaRN
    range whose ramp covers several dimensions.
    """
    values: dict[str, Any] = {
        "num_hidden_layers": 4,
        "num_local_experts": 8,
        "vocab_size": 128,
        "hidden_size": 64,
        "intermediate_size": 48,
        "head_dim": 16,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "sliding_window": 8,
        "num_experts_per_tok": 3,
        "max_position_embeddings": 256,
        "rope_scaling": {
            "rope_type": "yarn",
            "factor": 4.0,
            "beta_fast": 32.0,
            "beta_slow": 1.0,
            "truncate": False,
            "original_max_position_embeddings": 64,
        },
        "layer_types": ["sliding_attention", "full_attention", "full_attention", "sliding_attention"],
        "dtype": "float32",
    }
    values.update(overrides)
    return GptOssConfig(**values)


def generate_and_import(config: GptOssConfig, mesh: MeshConfig, name: str, root: Path) -> Any:
    """Render a package for `config` under `root/name`, put it on sys.path and import it."""
    request = GenerationRequest(
        config=config, mesh=mesh, package_name=name, config_path=f"{name}.yaml", mesh_source=None, output_dir="out"
    )
    project_dir = root / name
    write_files(render_package(request), project_dir)
    sys.path.insert(0, str(project_dir))
    importlib.invalidate_caches()
    return importlib.import_module(name)


def hf_config(config: GptOssConfig) -> transformers.GptOssConfig:
    """Build the `transformers` config with the same settings as ours."""
    rope: dict[str, Any] = {"rope_type": "default", "rope_theta": config.rope_theta}
    if isinstance(config.rope_scaling, YarnRopeScaling):
        rope = {
            "rope_type": "yarn",
            "rope_theta": config.rope_theta,
            "factor": config.rope_scaling.factor,
            "beta_fast": config.rope_scaling.beta_fast,
            "beta_slow": config.rope_scaling.beta_slow,
            "truncate": config.rope_scaling.truncate,
            "original_max_position_embeddings": config.rope_scaling.original_max_position_embeddings,
        }
        if config.rope_scaling.attention_factor is not None:
            rope["attention_factor"] = config.rope_scaling.attention_factor
    return transformers.GptOssConfig(
        num_hidden_layers=config.num_hidden_layers,
        num_local_experts=config.num_local_experts,
        vocab_size=config.vocab_size,
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        head_dim=config.head_dim,
        num_attention_heads=config.num_attention_heads,
        num_key_value_heads=config.num_key_value_heads,
        sliding_window=config.sliding_window,
        max_position_embeddings=config.max_position_embeddings,
        rms_norm_eps=config.rms_norm_eps,
        num_experts_per_tok=config.num_experts_per_tok,
        layer_types=list(config.layer_types),
        rope_parameters=rope,
        swiglu_limit=config.mlp_activations_limit,
        swiglu_alpha=config.swiglu_alpha,
        router_aux_loss_coef=config.router_aux_loss_coef,
        attn_implementation="eager",
    )


def random_hf_model(config: GptOssConfig, seed: int) -> transformers.GptOssForCausalLM:
    """Return a float32 `transformers` model with every parameter drawn at random, biases and sinks included."""
    torch.manual_seed(seed)
    model = transformers.GptOssForCausalLM(hf_config(config)).float().eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name:
                parameter.copy_(1.0 + 0.2 * torch.randn_like(parameter))
            elif name.endswith("sinks"):
                parameter.copy_(torch.randn_like(parameter))
            elif "bias" in name:
                parameter.copy_(0.3 * torch.randn_like(parameter))
            else:
                parameter.copy_(0.1 * torch.randn_like(parameter))
    return model
