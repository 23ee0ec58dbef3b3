"""One small bad file per validation rule, with the line, column, field and message it must produce.

The files live in tests/data/invalid/; each row names the rule it exercises.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import CONFIGS, REPO_ROOT

from ossgen.schema.errors import ConfigError
from ossgen.schema.loaders import load_config
from ossgen.schema.mesh_loader import load_mesh

INVALID = Path(__file__).resolve().parent / "data" / "invalid"

# file -> (line, column, field, message fragment, hint fragment or None)
CONFIG_CASES: dict[str, tuple[int, int, str, str, str | None]] = {
    "unknown_key.yaml": (2, 1, "num_local_expert", "unknown key", "did you mean 'num_local_experts'?"),
    "duplicate_key.yaml": (3, 1, "num_hidden_layers", "duplicate key 'num_hidden_layers', first given on line 1", None),
    "layer_types_length.yaml": (2, 1, "layer_types", "expected 4 entries, got 3", "remove layer_types to use the default"),
    "layer_types_entry.yaml": (4, 5, "layer_types.1", "'sliding_attention' or 'full_attention' (got 'full')", None),
    "rope_type.yaml": (2, 3, "rope_scaling.rope_type", "'ntk'", "'yarn', 'default'"),
    "yarn_factor.yaml": (3, 3, "rope_scaling.factor", "greater than or equal to 1 (got 0.5)", "at least 1"),
    "yarn_betas.yaml": (3, 3, "rope_scaling.beta_fast", "beta_fast = 1 must be greater than beta_slow = 32", "swap"),
    "yarn_original_context.yaml": (
        4, 3, "rope_scaling.original_max_position_embeddings", "8192 must be less than max_position_embeddings = 4096", None,
    ),
    "yarn_truncate.yaml": (3, 3, "rope_scaling.truncate", "valid boolean (got 'no')", "true or false"),
    "head_dim_odd.yaml": (1, 1, "head_dim", "head_dim = 63 must be even", None),
    "size_zero.yaml": (2, 1, "hidden_size", "greater than 0 (got 0)", "greater than 0"),
    "sliding_window_too_large.yaml": (2, 1, "sliding_window", "sliding_window = 128 must be less than max_position_embeddings = 128", None),
    "experts_per_token_too_many.yaml": (2, 1, "num_experts_per_tok", "num_experts_per_tok = 5 exceeds num_local_experts = 4", "at most 4"),
    "heads_not_divisible.yaml": (2, 1, "num_key_value_heads", "64 is not divisible by num_key_value_heads = 6", "1, 2, 4, 8, 16, 32, 64"),
    "dtype.yaml": (1, 1, "dtype", "(got 'float64')", "'float32', 'bfloat16' or 'float16'"),
    "hidden_act.yaml": (1, 1, "hidden_act", "(got 'gelu')", "'silu'"),
    "not_a_mapping.yaml": (1, 1, "", "expected a mapping of configuration keys at the top level, found a list", None),
    "syntax.json": (3, 21, "", "invalid JSON", None),
    "hf_experts_conflict.json": (4, 3, "num_experts_per_tok", "num_experts_per_tok = 2 disagrees with experts_per_token = 4", None),
    "hf_attention_bias.json": (3, 3, "attention_bias", "attention_bias is false", "set attention_bias to true"),
    "hf_yarn_missing_key.json": (
        3, 3, "rope_scaling.original_max_position_embeddings", "without original_max_position_embeddings", "4096",
    ),
    "openai_unknown_key.json": (4, 3, "swiglu_limt", "unknown key", "did you mean 'swiglu_limit'?"),
}

# Rules that are warnings unless --strict.
STRICT_CASES: dict[str, tuple[int, int, str, str]] = {
    "yarn_factor_mismatch.yaml": (1, 1, "rope_scaling.factor", "65536 / 4096 = 16, but rope_scaling.factor = 32"),
}

# mesh file -> (line, column, message fragment), validated against the gpt-oss-120b config.
MESH_CASES: dict[str, tuple[int, int, str]] = {
    "mesh_zero_axis.yaml": (2, 1, "mesh axis 'ep'=0 is invalid"),
    "mesh_two_wildcards.yaml": (1, 1, "at most one axis may be -1"),
    "mesh_device_count.yaml": (1, 1, "multiply to 16, not num_devices=8"),
    "mesh_unknown_axis.yaml": (2, 1, "unknown key"),
    "mesh_not_divisible.yaml": (1, 1, "vocab_size=201088 is not divisible by mesh axis 'fsdp'=7"),
}


@pytest.mark.parametrize("name", sorted(CONFIG_CASES))
def test_bad_config_file(name: str) -> None:
    line, column, field, message, hint = CONFIG_CASES[name]

    with pytest.raises(ConfigError) as caught:
        load_config(INVALID / name)

    first = caught.value.issues[0]
    assert first.file == str(INVALID / name)
    assert (first.line, first.column) == (line, column)
    assert first.field == field
    assert message in first.message
    if hint is not None:
        assert first.hint is not None and hint in first.hint


@pytest.mark.parametrize("name", sorted(STRICT_CASES))
def test_warning_becomes_error_with_strict(name: str) -> None:
    line, column, field, message = STRICT_CASES[name]

    warnings = load_config(INVALID / name).warnings
    with pytest.raises(ConfigError) as caught:
        load_config(INVALID / name, strict=True)

    assert [(warning.line, warning.column, warning.field) for warning in warnings] == [(line, column, field)]
    assert message in warnings[0].message
    assert warnings[0].severity == "warning"
    assert caught.value.issues[0].severity == "error"
    assert message in caught.value.issues[0].message


def run_cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ossgen.codegen.cli", *arguments], cwd=REPO_ROOT, capture_output=True, text=True)


@pytest.mark.parametrize("name", sorted(MESH_CASES))
def test_bad_mesh_file(name: str) -> None:
    line, column, message = MESH_CASES[name]

    result = run_cli("validate", str(CONFIGS / "gpt-oss-120b.json"), "--mesh", str(INVALID / name), "--format", "json")

    issues = json.loads(result.stdout)["issues"]
    assert result.returncode == 1
    assert issues[0]["file"] == str(INVALID / name)
    assert (issues[0]["line"], issues[0]["column"]) == (line, column)
    assert message in issues[0]["message"]
    assert "Traceback" not in result.stderr


def test_mesh_issue_names_config_position() -> None:
    result = run_cli("validate", "configs/gpt-oss-120b.json", "--mesh", str(INVALID / "mesh_not_divisible.yaml"))

    assert "num_local_experts is set at configs/gpt-oss-120b.json:59:3" in result.stderr


def test_inline_mesh_issue_points_at_config_key() -> None:
    result = run_cli("validate", "configs/gpt-oss-20b.original.json", "--mesh", "ep=3", "--format", "json")

    issue = json.loads(result.stdout)["issues"][0]
    assert (issue["file"], issue["line"], issue["column"]) == ("configs/gpt-oss-20b.original.json", 3, 3)
    assert issue["field"] == "num_local_experts"


def test_all_errors_of_a_file_reported_together(tmp_path: Path) -> None:
    bad = tmp_path / "many.yaml"
    bad.write_text("num_hidden_layers: 0\nhead_dim: 63\ndtype: float8\nnum_local_expert: 2\n")

    with pytest.raises(ConfigError) as caught:
        load_config(bad)

    assert [issue.line for issue in caught.value.issues] == [1, 2, 3, 4]


def test_mesh_loader_raises_with_positions() -> None:
    with pytest.raises(ConfigError) as caught:
        load_mesh(INVALID / "mesh_unknown_axis.yaml")

    assert (caught.value.issues[0].line, caught.value.issues[0].column) == (2, 1)
    assert caught.value.issues[0].hint.endswith("dp, fsdp, ep, tp, sp, num_devices")
