"""`ossgen convert` and the writers behind it: round trips, transformers, YAML comments, lossy targets."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
import transformers
from support import CONFIGS, tiny_config

from ossgen.codegen.convert import add_convert_parser
from ossgen.schema.config import GptOssConfig
from ossgen.schema.formats import OPENAI_KEYS
from ossgen.schema.loaders import load_config, load_config_text
from ossgen.schema.rope import DefaultRopeScaling, YarnRopeScaling
from ossgen.schema.writers import YAML_SCHEMA_COMMENT, to_json_text, to_mapping, to_yaml_text

SHIPPED = [
    "gpt-oss-20b.json",
    "gpt-oss-120b.json",
    "gpt-oss-20b.original.json",
    "gpt-oss-20b.yaml",
    "gpt-oss-120b.yaml",
]
TARGETS = ["yaml", "json", "hf", "openai"]

OUTPUT_NAMES = {"yaml": "converted.yaml", "json": "converted.json", "hf": "config.json", "openai": "original.json"}
LOADED_FORMATS = {"yaml": "ossgen-yaml", "json": "ossgen-json", "hf": "hf", "openai": "openai"}
TARGET_FOR_SOURCE_FORMAT = {"ossgen-yaml": "yaml", "ossgen-json": "json", "hf": "hf", "openai": "openai"}

ALL_FIELDS = frozenset(GptOssConfig.model_fields)
# The fields that OPENAI_KEYS sets, plus max_position_embeddings, which the OpenAI loader
# derives from them. rope_scaling is compared whole: rope_type and truncate are fixed
# by that format, and the shipped files use those fixed values.
OPENAI_FIELDS = frozenset(str(path[0]) for path in OPENAI_KEYS.values()) | {"max_position_embeddings"}


def fields_carried(target: str) -> frozenset[str]:
    return OPENAI_FIELDS if target == "openai" else ALL_FIELDS


def field_values(config: GptOssConfig, names: frozenset[str]) -> dict[str, Any]:
    return {name: getattr(config, name) for name in sorted(names)}


def convert(*argv: str) -> int:
    """Run `ossgen convert` in-process through its own argument parser."""
    parser = argparse.ArgumentParser(prog="ossgen")
    add_convert_parser(parser.add_subparsers(dest="command", required=True))
    arguments = parser.parse_args(["convert", *argv])
    return arguments.handler(arguments)


def small_config(**overrides: Any) -> GptOssConfig:
    """Return the tests' tiny config moved far from the defaults: truncated YaRN, own constants and tokens."""
    values: dict[str, Any] = {
        "rope_theta": 10000.0,
        "rope_scaling": {
            "rope_type": "yarn",
            "factor": 4.0,
            "beta_fast": 16.0,
            "beta_slow": 2.0,
            "truncate": True,
            "original_max_position_embeddings": 64,
            "attention_factor": 1.25,
        },
        "layer_types": ["full_attention", "sliding_attention", "sliding_attention", "full_attention"],
        "rms_norm_eps": 1e-6,
        "mlp_activations_limit": 5.5,
        "swiglu_alpha": 1.5,
        "router_aux_loss_coef": 0.01,
        "pad_token_id": 0,
        "bos_token_id": 1,
        "eos_token_id": [2, 3],
    }
    values.update(overrides)
    return tiny_config(**values)


SMALL_CONFIGS = {
    "truncated-yarn": small_config(),
    "plain-rope": small_config(rope_scaling={"rope_type": "default"}),
    "null-rope-scaling": small_config(rope_scaling=None),
}


# Round trips with the shipped files


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("source", SHIPPED)
def test_shipped_round_trip(tmp_path: Path, source: str, target: str) -> None:
    original = load_config(CONFIGS / source)
    output = tmp_path / OUTPUT_NAMES[target]

    assert convert(str(CONFIGS / source), "--to", target, "-o", str(output)) == 0
    converted = load_config(output)

    assert converted.source_format == LOADED_FORMATS[target]
    carried = fields_carried(target)
    assert field_values(converted.config, carried) == field_values(original.config, carried)

    back_target = TARGET_FOR_SOURCE_FORMAT[original.source_format]
    back = tmp_path / f"back-{OUTPUT_NAMES[back_target]}"
    assert convert(str(output), "--to", back_target, "-o", str(back)) == 0
    restored = load_config(back)

    assert restored.source_format == original.source_format
    carried_both_ways = carried & fields_carried(back_target)
    assert field_values(restored.config, carried_both_ways) == field_values(original.config, carried_both_ways)


@pytest.mark.parametrize("source", ["gpt-oss-20b.yaml", "gpt-oss-120b.yaml"])
def test_shipped_yaml_to_yaml_unchanged(tmp_path: Path, source: str) -> None:
    output = tmp_path / "out.yaml"

    assert convert(str(CONFIGS / source), "--to", "yaml", "-o", str(output)) == 0

    assert output.read_text(encoding="utf-8") == (CONFIGS / source).read_text(encoding="utf-8")


def test_openai_to_openai_same_values(tmp_path: Path) -> None:
    output = tmp_path / "original.json"

    assert convert(str(CONFIGS / "gpt-oss-20b.original.json"), "--to", "openai", "-o", str(output)) == 0

    written = json.loads(output.read_text(encoding="utf-8"))
    published = json.loads((CONFIGS / "gpt-oss-20b.original.json").read_text(encoding="utf-8"))
    assert list(written) == list(published)
    assert written == published


@pytest.mark.parametrize("source", ["gpt-oss-20b.json", "gpt-oss-120b.json"])
def test_hf_output_matches_published_file(source: str) -> None:
    published = json.loads((CONFIGS / source).read_text(encoding="utf-8"))
    config = load_config(CONFIGS / source).config

    written, issues = to_mapping(config, "hf")

    assert issues == []
    assert list(written) == sorted(written)
    assert list(written["rope_scaling"]) == sorted(written["rope_scaling"])
    not_written = {"quantization_config", "transformers_version"}
    assert set(written) == (set(published) - not_written) | {"dtype", "swiglu_alpha"}
    for key in set(published) - not_written:
        assert written[key] == published[key], key


def test_ossgen_json_keeps_field_order() -> None:
    config = small_config()

    mapping, issues = to_mapping(config, "ossgen")

    assert issues == []
    assert list(mapping) == list(GptOssConfig.model_fields)
    assert mapping["rope_scaling"]["truncate"] is True
    assert load_config_text(to_json_text(mapping), filename="small.json").config == config


@pytest.mark.parametrize("name", sorted(SMALL_CONFIGS))
def test_small_configs_hf_lossless(name: str) -> None:
    config = SMALL_CONFIGS[name]

    mapping, issues = to_mapping(config, "hf")
    loaded = load_config_text(to_json_text(mapping), filename="config.json")

    assert issues == []
    assert loaded.source_format == "hf"
    if config.rope_scaling is None:
        # Hugging Face has no null rope scaling that means plain RoPE, so it comes back as rope_type default.
        assert loaded.config.rope_scaling == DefaultRopeScaling()
        assert loaded.config.model_copy(update={"rope_scaling": None}) == config
    else:
        assert loaded.config == config


@pytest.mark.parametrize("name", sorted(SMALL_CONFIGS))
def test_small_configs_yaml_lossless(name: str) -> None:
    config = SMALL_CONFIGS[name]

    text = to_yaml_text(config)

    assert load_config_text(text, filename="small.yaml").config == config


# transformers reads the Hugging Face output


def transformers_values(hf_config: transformers.GptOssConfig) -> dict[str, Any]:
    names = [
        "num_hidden_layers",
        "num_local_experts",
        "num_experts_per_tok",
        "experts_per_token",
        "vocab_size",
        "hidden_size",
        "intermediate_size",
        "head_dim",
        "num_attention_heads",
        "num_key_value_heads",
        "sliding_window",
        "layer_types",
        "rms_norm_eps",
        "max_position_embeddings",
        "swiglu_limit",
        "swiglu_alpha",
        "router_aux_loss_coef",
        "tie_word_embeddings",
        "attention_bias",
        "pad_token_id",
        "bos_token_id",
        "eos_token_id",
        "rope_parameters",
    ]
    values = {name: getattr(hf_config, name) for name in names}
    values["dtype"] = str(hf_config.dtype).removeprefix("torch.")
    return values


def expected_transformers_values(config: GptOssConfig) -> dict[str, Any]:
    rope: dict[str, Any] = {"rope_type": "default", "rope_theta": config.rope_theta}
    if isinstance(config.rope_scaling, YarnRopeScaling):
        rope = {"rope_theta": config.rope_theta, **config.rope_scaling.model_dump(exclude_none=True)}
    return {
        "num_hidden_layers": config.num_hidden_layers,
        "num_local_experts": config.num_local_experts,
        "num_experts_per_tok": config.num_experts_per_tok,
        "experts_per_token": config.num_experts_per_tok,
        "vocab_size": config.vocab_size,
        "hidden_size": config.hidden_size,
        "intermediate_size": config.intermediate_size,
        "head_dim": config.head_dim,
        "num_attention_heads": config.num_attention_heads,
        "num_key_value_heads": config.num_key_value_heads,
        "sliding_window": config.sliding_window,
        "layer_types": config.layer_types,
        "rms_norm_eps": config.rms_norm_eps,
        "max_position_embeddings": config.max_position_embeddings,
        "swiglu_limit": config.mlp_activations_limit,
        "swiglu_alpha": config.swiglu_alpha,
        "router_aux_loss_coef": config.router_aux_loss_coef,
        "tie_word_embeddings": config.tie_word_embeddings,
        "attention_bias": True,
        "pad_token_id": config.pad_token_id,
        "bos_token_id": config.bos_token_id,
        "eos_token_id": config.eos_token_id,
        "rope_parameters": rope,
        "dtype": config.dtype,
    }


TRANSFORMERS_CASES = {
    "20b": load_config(CONFIGS / "gpt-oss-20b.json").config,
    "120b": load_config(CONFIGS / "gpt-oss-120b.yaml").config,
    "20b-from-openai": load_config(CONFIGS / "gpt-oss-20b.original.json").config,
    **SMALL_CONFIGS,
}


@pytest.mark.parametrize("name", sorted(TRANSFORMERS_CASES))
def test_transformers_from_dict_reads_hf(name: str) -> None:
    config = TRANSFORMERS_CASES[name]
    hf_text = to_json_text(to_mapping(config, "hf")[0])

    hf_config = transformers.GptOssConfig.from_dict(json.loads(hf_text))

    assert transformers_values(hf_config) == expected_transformers_values(config)


@pytest.mark.parametrize("name", sorted(TRANSFORMERS_CASES))
def test_transformers_auto_config_reads_hf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = TRANSFORMERS_CASES[name]
    (tmp_path / "config.json").write_text(to_json_text(to_mapping(config, "hf")[0]), encoding="utf-8")

    hf_config = transformers.AutoConfig.from_pretrained(tmp_path)

    assert isinstance(hf_config, transformers.GptOssConfig)
    assert transformers_values(hf_config) == expected_transformers_values(config)


# YAML output and comments

COMMENTED_YAML = """\
# A small GPT-OSS model for the convert tests.
num_hidden_layers: 4  # two sliding, two full
num_local_experts: 8
rms_norm_eps: 1.0e-5
rope_scaling:
  rope_type: yarn
  factor: 32.0  # the published factor
"""


def test_yaml_to_yaml_keeps_comments(tmp_path: Path) -> None:
    source = tmp_path / "small.yaml"
    source.write_text(COMMENTED_YAML, encoding="utf-8")
    output = tmp_path / "out.yaml"

    assert convert(str(source), "--to", "yaml", "-o", str(output)) == 0

    text = output.read_text(encoding="utf-8")
    assert "# A small GPT-OSS model for the convert tests.\n" in text
    assert "num_hidden_layers: 4  # two sliding, two full\n" in text
    assert text == COMMENTED_YAML
    assert load_config(output).config == load_config(source).config


def test_yaml_update_keeps_comments() -> None:
    changed = GptOssConfig(
        num_hidden_layers=6,
        num_local_experts=8,
        rms_norm_eps=1e-5,
        rope_scaling={"rope_type": "default"},
        swiglu_alpha=1.5,
    )

    text = to_yaml_text(changed, source_text=COMMENTED_YAML)

    assert text.startswith("# A small GPT-OSS model for the convert tests.\n")
    assert "num_hidden_layers: 6  # two sliding, two full\n" in text
    assert "rms_norm_eps: 1.0e-5\n" in text
    assert "factor" not in text
    assert "swiglu_alpha: 1.5\n" in text
    # The default pattern for six layers needs no explicit list.
    assert "layer_types" not in text
    assert load_config_text(text, filename="changed.yaml").config == changed


def test_yaml_update_adds_nondefault_layer_types() -> None:
    changed = GptOssConfig(
        num_hidden_layers=4,
        num_local_experts=8,
        layer_types=["full_attention"] * 4,
    )

    text = to_yaml_text(changed, source_text=COMMENTED_YAML)

    assert "num_hidden_layers: 4  # two sliding, two full\n" in text
    assert "layer_types:\n" in text
    assert load_config_text(text, filename="changed.yaml").config == changed


def test_json_to_yaml_schema_comment(tmp_path: Path) -> None:
    output = tmp_path / "gpt-oss-20b.yaml"

    assert convert(str(CONFIGS / "gpt-oss-20b.json"), "--to", "yaml", "-o", str(output)) == 0

    text = output.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../schema/gpt-oss-config.schema.json\n")
    assert "\nrope_theta: 150000.0\n" in text
    assert "\nrms_norm_eps: 1.0e-05\n" in text
    assert "\nmlp_activations_limit: 7.0\n" in text
    assert "\nbos_token_id: null\n" in text


def test_yaml_without_schema_comment() -> None:
    text = to_yaml_text(small_config(), schema_comment=False)

    assert YAML_SCHEMA_COMMENT not in text
    assert text.startswith("num_hidden_layers: 4\n")


# Lossy OpenAI output

CUSTOM_LAYERS_YAML = """\
num_hidden_layers: 4
num_local_experts: 8
layer_types: [full_attention, full_attention, sliding_attention, sliding_attention]
"""


def test_openai_lossy_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "layers.yaml"
    source.write_text(CUSTOM_LAYERS_YAML, encoding="utf-8")
    output = tmp_path / "original.json"

    assert convert(str(source), "--to", "openai", "-o", str(output)) == 0

    stderr = capsys.readouterr().err
    assert "warning: layer_types:" in stderr
    assert output.is_file()
    assert load_config(output).config.layer_types == ["sliding_attention", "full_attention"] * 2


def test_openai_lossy_strict_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "layers.yaml"
    source.write_text(CUSTOM_LAYERS_YAML, encoding="utf-8")
    output = tmp_path / "original.json"

    assert convert(str(source), "--to", "openai", "-o", str(output), "--strict") == 1

    stderr = capsys.readouterr().err
    assert "error: layer_types:" in stderr
    assert "nothing was written" in stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["layers.yaml"]


def test_openai_lossy_fields_listed() -> None:
    config = small_config(max_position_embeddings=512)

    _, issues = to_mapping(config, "openai")

    assert {issue.field for issue in issues} == {
        "max_position_embeddings",
        "rope_scaling.truncate",
        "rope_scaling.attention_factor",
        "layer_types",
        "rms_norm_eps",
        "swiglu_alpha",
        "router_aux_loss_coef",
        "dtype",
        "pad_token_id",
        "bos_token_id",
        "eos_token_id",
    }
    assert {issue.code for issue in issues} == {"lossy"}
    assert {issue.severity for issue in issues} == {"warning"}


@pytest.mark.parametrize("rope_scaling", [{"rope_type": "default"}, None])
def test_openai_plain_rope_lossless(rope_scaling: dict[str, str] | None) -> None:
    config = GptOssConfig(max_position_embeddings=8192, rope_scaling=rope_scaling)

    mapping, issues = to_mapping(config, "openai")

    assert issues == []
    assert mapping["rope_scaling_factor"] == 1.0
    assert mapping["initial_context_length"] == 8192
    loaded = load_config_text(to_json_text(mapping), filename="original.json")
    assert loaded.config.rope_scaling == DefaultRopeScaling()
    assert loaded.config.max_position_embeddings == 8192


def test_unknown_target_raises() -> None:
    with pytest.raises(ValueError, match="unknown target format"):
        to_mapping(small_config(), "gguf")  # type: ignore[arg-type]


# Command-line behaviour


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.yaml"

    assert convert(str(missing), "--to", "json") == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert f"{missing}: error: cannot read the file" in captured.err
    assert "Traceback" not in captured.err


def test_invalid_config_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "bad.yaml"
    source.write_text("num_attention_heads: 64\nnum_key_value_heads: 7\n", encoding="utf-8")

    assert convert(str(source), "--to", "hf") == 1

    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{source}:2:1: error: num_key_value_heads:" in captured.err


def test_syntax_error_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "broken.json"
    source.write_text('{"num_hidden_layers": 4,\n', encoding="utf-8")

    assert convert(str(source), "--to", "yaml") == 2

    assert f"{source}:" in capsys.readouterr().err


def test_strict_rejects_load_warnings(tmp_path: Path) -> None:
    # max_position_embeddings / original_max_position_embeddings = 16 differs from factor 32.
    source = tmp_path / "mismatch.yaml"
    source.write_text("max_position_embeddings: 65536\n", encoding="utf-8")

    assert convert(str(source), "--to", "json") == 0
    assert convert(str(source), "--to", "json", "--strict") == 1


def test_output_file_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "config.json"

    assert convert(str(CONFIGS / "gpt-oss-20b.yaml"), "--to", "hf", "-o", str(output)) == 0

    config = load_config(CONFIGS / "gpt-oss-20b.yaml").config
    assert output.read_text(encoding="utf-8") == to_json_text(to_mapping(config, "hf")[0])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["config.json"]
    assert capsys.readouterr().out == f"wrote {output} (hf)\n"


def test_stdout_without_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert convert(str(CONFIGS / "gpt-oss-20b.yaml"), "--to", "json") == 0

    config = load_config(CONFIGS / "gpt-oss-20b.yaml").config
    assert capsys.readouterr().out == to_json_text(to_mapping(config, "ossgen")[0])


def test_failed_conversion_keeps_output(tmp_path: Path) -> None:
    source = tmp_path / "bad.yaml"
    source.write_text("num_attention_heads: 64\nnum_key_value_heads: 7\n", encoding="utf-8")
    output = tmp_path / "out.json"
    output.write_text("previous content\n", encoding="utf-8")

    assert convert(str(source), "--to", "json", "-o", str(output)) == 1

    assert output.read_text(encoding="utf-8") == "previous content\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bad.yaml", "out.json"]


def test_unwritable_output_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "no-such-folder" / "out.json"

    assert convert(str(CONFIGS / "gpt-oss-20b.yaml"), "--to", "json", "-o", str(output)) == 2

    assert f"{output}: error: cannot write the file" in capsys.readouterr().err


def test_openai_factor_one_reads_as_plain_rope() -> None:
    text = json.dumps({"initial_context_length": 8192, "rope_scaling_factor": 1.0, "num_experts": 32})

    config = load_config_text(text, filename="original.json").config

    assert config.rope_scaling == DefaultRopeScaling()
    assert config.max_position_embeddings == 8192
