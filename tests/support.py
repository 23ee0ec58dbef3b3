"""Helpers the tests share: tiny configs and generating a package to import."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from ossgen.codegen.render import GenerationRequest, render_package
from ossgen.codegen.writer import write_files
from ossgen.schema.config import GptOssConfig
from ossgen.schema.mesh import MeshConfig

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
