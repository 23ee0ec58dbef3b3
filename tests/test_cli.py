"""The `ossgen` command as a user runs it: exit codes, output formats, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import CONFIGS, REPO_ROOT


def ossgen(*arguments: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ossgen.codegen.cli", *arguments], cwd=cwd, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    ("file", "source_format"),
    [
        ("gpt-oss-20b.json", "hf"),
        ("gpt-oss-120b.json", "hf"),
        ("gpt-oss-20b.original.json", "openai"),
        ("gpt-oss-20b.yaml", "ossgen-yaml"),
    ],
)
def test_validate_shipped_configs(file: str, source_format: str) -> None:
    result = ossgen("validate", f"configs/{file}")

    assert result.returncode == 0, result.stderr
    assert f"valid {source_format} config" in result.stdout


def test_validate_with_mesh_prints_summary() -> None:
    result = ossgen("validate", "configs/gpt-oss-120b.json", "--mesh", "configs/mesh-120b.yaml")

    assert result.returncode == 0, result.stderr
    assert "devices                     32" in result.stdout
    assert "parameters                  116,829,156,672 (116.83B)" in result.stdout
    assert "experts per ep shard        16" in result.stdout


def test_validate_verbose_lists_ignored_keys() -> None:
    result = ossgen("validate", "configs/gpt-oss-20b.json", "--verbose")

    assert "accepted but not used by the model: architectures" in result.stdout
    assert "quantization_config" in result.stdout


def test_invalid_config_exits_1_with_every_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("num_hidden_layers: 4\nnum_local_expert: 8\nnum_experts_per_tok: 0\n")

    result = ossgen("validate", str(bad))

    assert result.returncode == 1
    assert f"{bad}:2:1: error: num_local_expert" in result.stderr
    assert "did you mean 'num_local_experts'?" in result.stderr
    assert f"{bad}:3:1: error: num_experts_per_tok" in result.stderr
    assert "Traceback" not in result.stderr


def test_json_format_lists_issue_fields(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("num_hidden_layers: 4\nnum_local_expert: 8\n")

    result = ossgen("validate", str(bad), "--format", "json")

    report = json.loads(result.stdout)
    issues = report["issues"]
    assert result.returncode == 1
    assert report["valid"] is False
    assert issues[0]["line"] == 2
    assert issues[0]["column"] == 1
    assert issues[0]["field"] == "num_local_expert"
    assert issues[0]["code"] == "unknown_key"
    assert set(issues[0]) >= {"file", "line", "column", "field", "code", "message", "hint"}


@pytest.mark.parametrize(
    ("content", "name"),
    [(None, "missing.yaml"), ('{"vocab_size": 10,,}', "broken.json"), ("a: [1, 2\n", "broken.yaml")],
)
def test_unreadable_input_exits_2(content: str | None, name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)

    result = ossgen("validate", str(path))

    assert result.returncode == 2
    assert str(path) in result.stderr
    assert "Traceback" not in result.stderr


def test_json_format_reports_mesh_facts() -> None:
    result = ossgen("validate", "configs/gpt-oss-20b.json", "--mesh", "configs/mesh-20b.yaml", "--format", "json")

    report = json.loads(result.stdout)
    assert result.returncode == 0
    assert report["valid"] is True
    assert report["source_format"] == "hf"
    assert report["issues"] == []
    assert report["mesh"]["devices"] == 8
    assert report["mesh"]["parameters"] == 20_914_757_184
    assert report["mesh"]["experts_per_ep_shard"] == 8


def test_unresolved_axis_leaves_bytes_unknown() -> None:
    result = ossgen("validate", "configs/gpt-oss-120b.json", "--mesh", "ep=-1,tp=2")

    assert result.returncode == 0, result.stderr
    assert "parameter bytes per device  unknown" in result.stdout


def test_mesh_mismatch_exits_1_with_sizes_that_work() -> None:
    result = ossgen("validate", "configs/gpt-oss-120b.json", "--mesh", "ep=48")

    assert result.returncode == 1
    assert "num_local_experts=128 is not divisible by mesh axis 'ep'=48" in result.stderr
    assert "(1, 2, 4, 8, 16, 32, 64, 128)" in result.stderr


def test_invalid_mesh_file_exits_1(tmp_path: Path) -> None:
    mesh = tmp_path / "mesh.yaml"
    mesh.write_text("ep: 4\ntp: 4\nnum_devices: 8\n")

    result = ossgen("validate", str(CONFIGS / "gpt-oss-20b.json"), "--mesh", str(mesh))

    assert result.returncode == 1
    assert "multiply to 16, not num_devices=8" in result.stderr
    assert "Traceback" not in result.stderr


def test_generate_then_import_and_run(tmp_path: Path) -> None:
    result = ossgen("generate", "configs/gpt-oss-20b.json", "--mesh", "configs/mesh-20b.yaml", "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr

    example = subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / "quickstart.py"), str(tmp_path / "gpt_oss_20b"), "--length", "140"],
        capture_output=True, text=True,
    )

    assert example.returncode == 0, example.stderr
    assert "logits         (2, 140, 1024), finite: True" in example.stdout


def test_summary_notes_replicated_kv_heads() -> None:
    result = ossgen("validate", "configs/gpt-oss-120b.json", "--mesh", "tp=16")

    assert result.returncode == 0, result.stderr
    assert "key/value heads             8, replicated across tp (2 copies of each)" in result.stdout


def test_convert_is_wired_into_cli(tmp_path: Path) -> None:
    target = tmp_path / "config.json"

    result = ossgen("convert", "configs/gpt-oss-20b.yaml", "--to", "hf", "-o", str(target))

    assert result.returncode == 0, result.stderr
    assert json.loads(target.read_text())["swiglu_limit"] == 7.0


def test_unresolved_axis_warns_and_strict_rejects() -> None:
    lenient = ossgen("validate", "configs/gpt-oss-20b.json", "--mesh", "ep=-1")
    strict = ossgen("validate", "configs/gpt-oss-20b.json", "--mesh", "ep=-1", "--strict")

    assert lenient.returncode == 0
    assert "warning: ep: mesh axis 'ep' is -1 and num_devices is not given" in lenient.stderr
    assert strict.returncode == 1
    assert "error: ep: mesh axis 'ep' is -1" in strict.stderr
