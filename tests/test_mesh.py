"""Mesh sizes and the config-against-mesh checks, with the fixes they suggest."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from support import CONFIGS

from ossgen.schema.config import GptOssConfig
from ossgen.schema.errors import ConfigError
from ossgen.schema.loaders import load_config
from ossgen.schema.mesh import MeshConfig, parse_mesh_spec
from ossgen.schema.mesh_loader import load_mesh
from ossgen.schema.sharding import check_mesh


@pytest.fixture(scope="module")
def config_120b() -> GptOssConfig:
    return load_config(CONFIGS / "gpt-oss-120b.json").config


def test_shipped_mesh_files_load() -> None:
    assert load_mesh(CONFIGS / "mesh-20b.yaml").shape == {"dp": 1, "fsdp": 1, "ep": 4, "tp": 2, "sp": 1}
    assert load_mesh(CONFIGS / "mesh-120b.yaml").device_count == 32


def test_inline_spec_defaults_other_axes_to_one() -> None:
    mesh = parse_mesh_spec("ep=4, tp=2")

    assert mesh.shape == {"dp": 1, "fsdp": 1, "ep": 4, "tp": 2, "sp": 1}
    assert mesh.device_count == 8


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("ep=4,xp=2", "unknown mesh axis 'xp'"),
        ("ep=four", "invalid size 'four' for mesh axis 'ep'"),
        ("ep4", "invalid mesh entry 'ep4'"),
    ],
)
def test_inline_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_mesh_spec(spec)


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ({"ep": 0}, "mesh axis 'ep'=0 is invalid"),
        ({"tp": -2}, "mesh axis 'tp'=-2 is invalid"),
        ({"ep": -1, "tp": -1, "num_devices": 8}, "at most one axis may be -1"),
        ({"ep": 4, "tp": 4, "num_devices": 8}, "multiply to 16, not num_devices=8"),
        ({"ep": -1, "tp": 3, "num_devices": 8}, "not divisible by the product 3"),
    ],
)
def test_mesh_size_errors(sizes: dict[str, int], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        MeshConfig(**sizes)


def test_wildcard_axis_takes_remaining_devices() -> None:
    mesh = MeshConfig(fsdp=-1, ep=8, num_devices=32).resolve()

    assert mesh.fsdp == 4
    assert mesh.device_count == 32
    assert MeshConfig(ep=-1, tp=2).resolve(16).ep == 8


def test_wildcard_without_device_count_cannot_resolve() -> None:
    with pytest.raises(ValueError, match="no device count"):
        MeshConfig(ep=-1).resolve()


def test_experts_not_divisible_by_ep(config_120b: GptOssConfig) -> None:
    issues = check_mesh(config_120b, MeshConfig(ep=48))

    assert [issue.field for issue in issues] == ["num_local_experts"]
    assert "num_local_experts=128 is not divisible by mesh axis 'ep'=48" in issues[0].message
    assert issues[0].hint == "choose a size for mesh axis 'ep' that divides 128 (1, 2, 4, 8, 16, 32, 64, 128)"


def test_hidden_size_lists_sizes_that_work(config_120b: GptOssConfig) -> None:
    issues = check_mesh(config_120b, MeshConfig(fsdp=7))

    # fsdp shards the vocabulary of the embedding as well as the hidden size.
    assert [issue.field for issue in issues] == ["vocab_size", "hidden_size"]
    assert issues[1].hint.startswith("choose a size for mesh axis 'fsdp' that divides 2880 (1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 15, 16, ...")


def test_vocab_and_heads_against_tp(config_120b: GptOssConfig) -> None:
    issues = check_mesh(config_120b, MeshConfig(tp=3))

    fields = {issue.field for issue in issues}
    # 2880 (hidden and intermediate sizes) divides by 3; 64 heads, 8 kv heads and 201088 do not.
    assert fields == {"num_key_value_heads", "num_attention_heads", "vocab_size"}
    kv_issue = next(issue for issue in issues if issue.field == "num_key_value_heads")
    assert "replicated across 'tp' when 'tp' is a multiple of them" in kv_issue.message


def test_kv_heads_replicate_when_tp_is_a_multiple(config_120b: GptOssConfig) -> None:
    rules = dict(config_120b.get_partition_rules(MeshConfig(tp=16)))

    assert check_mesh(config_120b, MeshConfig(tp=16)) == []
    assert tuple(rules[r"^model/layers/\d+/self_attn/(k_proj|v_proj)/kernel$"]) == ("fsdp", None)
    assert tuple(rules[r"^model/layers/\d+/self_attn/q_proj/kernel$"]) == ("fsdp", "tp")


def test_intermediate_size_against_tp() -> None:
    config = GptOssConfig(intermediate_size=2880 + 4)

    issues = check_mesh(config, MeshConfig(tp=8))

    assert [issue.field for issue in issues] == ["intermediate_size"]
    assert "intermediate_size=2884 is not divisible by mesh axis 'tp'=8" in issues[0].message


def test_each_field_axis_pair_reported_once(config_120b: GptOssConfig) -> None:
    issues = check_mesh(config_120b, MeshConfig(fsdp=7, ep=3))

    pairs = [(issue.field, issue.message.split("'")[1]) for issue in issues]
    assert len(pairs) == len(set(pairs))
    assert {issue.field for issue in issues} == {"hidden_size", "vocab_size", "num_local_experts"}


def test_partition_rules_reject_mesh_that_does_not_fit() -> None:
    config = GptOssConfig(num_local_experts=64)

    with pytest.raises(ValueError, match="num_local_experts=64 is not divisible by mesh axis 'ep'=3"):
        config.get_partition_rules(MeshConfig(ep=3))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("ep=4,ep=2", "mesh axis 'ep' is given twice"),
        ("ep=1_0", "invalid size '1_0'"),
        ("ep=\u0664", "invalid size"),
    ],
)
def test_inline_spec_rejects_ambiguous_sizes(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_mesh_spec(spec)


@pytest.mark.parametrize(
    ("content", "suffix", "line", "column", "message"),
    [
        (b"ep: true\n", ".yaml", 1, 1, "valid integer"),
        (b"ep: '4'\n", ".yaml", 1, 1, "valid integer"),
        (b"num_devices: 4.0\n", ".yaml", 1, 1, "valid integer"),
        (b"mesh: {ep: 4}\ntp: 8\n", ".yaml", 2, 1, "tp would be ignored because the file also has a `mesh:` section"),
        (b'{"ep": 4,}', ".json", 1, 10, "invalid JSON"),
        (b"ep: 4\xff\n", ".yaml", 1, 6, "not valid UTF-8"),
    ],
)
def test_mesh_file_errors(content: bytes, suffix: str, line: int, column: int, message: str, tmp_path) -> None:
    path = tmp_path / f"mesh{suffix}"
    path.write_bytes(content)

    with pytest.raises(ConfigError) as caught:
        load_mesh(path)

    issue = caught.value.issues[0]
    assert (issue.line, issue.column) == (line, column)
    assert message in issue.message


def test_wildcard_axis_resolved_before_checks(config_120b: GptOssConfig) -> None:
    issues = check_mesh(config_120b, MeshConfig(ep=-1, num_devices=6))

    assert [issue.field for issue in issues] == ["num_local_experts"]
    assert "'ep'=6" in issues[0].message


def test_divisor_hint_is_fast_for_huge_values() -> None:
    config = GptOssConfig(vocab_size=1_000_000_000_000_037)

    issues = check_mesh(config, MeshConfig(tp=2))

    assert issues[0].hint.endswith("(1, ...)")
