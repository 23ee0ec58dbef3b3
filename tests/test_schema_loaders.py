"""Tests of configuration loading: the shipped files, format mapping and error positions."""

import json
from pathlib import Path

import pytest

from ossgen.schema import ConfigError, GptOssConfig, Issue, config_from_mapping, load_config, load_config_text
from ossgen.schema.formats import detect_json_format, hf_key, openai_key

CONFIGS = Path(__file__).resolve().parent.parent / "configs"

# Fields that OpenAI's original/config.json sets, directly or (max_position_embeddings)
# as initial_context_length * rope_scaling_factor.
OPENAI_CARRIED_FIELDS = [
    "num_hidden_layers",
    "num_local_experts",
    "num_experts_per_tok",
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "mlp_activations_limit",
    "head_dim",
    "num_attention_heads",
    "num_key_value_heads",
    "sliding_window",
    "rope_theta",
    "rope_scaling",
    "max_position_embeddings",
]


def line_of(text: str, fragment: str) -> int:
    """Return the 1-based number of the first line that contains `fragment`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(f"{fragment!r} not in text")


def load_errors(text: str, filename: str, **options) -> list[Issue]:
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, filename=filename, **options)
    return caught.value.issues


@pytest.mark.parametrize(
    ("name", "source_format", "num_layers", "num_experts"),
    [
        ("gpt-oss-20b.json", "hf", 24, 32),
        ("gpt-oss-120b.json", "hf", 36, 128),
        ("gpt-oss-20b.original.json", "openai", 24, 32),
        ("gpt-oss-20b.yaml", "ossgen-yaml", 24, 32),
        ("gpt-oss-120b.yaml", "ossgen-yaml", 36, 128),
    ],
)
def test_shipped_file_loads(name, source_format, num_layers, num_experts):
    loaded = load_config(CONFIGS / name)
    assert loaded.source_format == source_format
    assert loaded.path == CONFIGS / name
    assert loaded.config.num_hidden_layers == num_layers
    assert loaded.config.num_local_experts == num_experts
    assert loaded.config.num_experts_per_tok == 4
    assert loaded.warnings == ()
    assert len(loaded.config.layer_types) == num_layers


def test_shipped_yaml_starts_with_schema_comment():
    for name in ("gpt-oss-20b.yaml", "gpt-oss-120b.yaml"):
        first_line = (CONFIGS / name).read_text().splitlines()[0]
        assert first_line == "# yaml-language-server: $schema=../schema/gpt-oss-config.schema.json"


@pytest.mark.parametrize("other", ["gpt-oss-20b.original.json", "gpt-oss-20b.yaml"])
@pytest.mark.parametrize("field", OPENAI_CARRIED_FIELDS)
def test_20b_formats_agree_on_openai_fields(other, field):
    reference = load_config(CONFIGS / "gpt-oss-20b.json").config
    assert getattr(load_config(CONFIGS / other).config, field) == getattr(reference, field)


@pytest.mark.parametrize("size", ["20b", "120b"])
def test_hf_and_yaml_fully_equal(size):
    from_hf = load_config(CONFIGS / f"gpt-oss-{size}.json").config
    from_yaml = load_config(CONFIGS / f"gpt-oss-{size}.yaml").config
    assert from_yaml.model_dump() == from_hf.model_dump()
    assert from_yaml == from_hf


def test_openai_file_derives_context_length():
    config = load_config(CONFIGS / "gpt-oss-20b.original.json").config
    assert config.max_position_embeddings == 4096 * 32
    assert config.rope_scaling.rope_type == "yarn"
    assert config.rope_scaling.truncate is False
    assert config.rope_scaling.beta_slow == 1.0
    assert config.rope_scaling.beta_fast == 32.0
    assert config.pad_token_id is None


def test_hf_ignored_keys_listed():
    ignored = load_config(CONFIGS / "gpt-oss-20b.json").ignored_keys
    for key in ("architectures", "transformers_version", "quantization_config"):
        assert key in ignored


def test_yaml_has_no_ignored_keys():
    assert load_config(CONFIGS / "gpt-oss-20b.yaml").ignored_keys == ()


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"num_experts": 32, "rope_scaling_factor": 32.0}, "openai"),
        ({"model_type": "gpt_oss", "num_hidden_layers": 2}, "hf"),
        ({"architectures": ["GptOssForCausalLM"]}, "hf"),
        ({"swiglu_limit": 7.0, "model_type": "gpt_oss"}, "hf"),
        ({"rope_parameters": {}}, "hf"),
        ({"num_hidden_layers": 2}, "ossgen-json"),
        ({"model_type": "gpt_oss", "mlp_activations_limit": 7.0}, "ossgen-json"),
    ],
)
def test_json_format_detected(keys, expected):
    assert detect_json_format(keys) == expected


def test_key_tables_reverse():
    assert hf_key("mlp_activations_limit") == "swiglu_limit"
    assert hf_key("num_local_experts") == "num_local_experts"
    assert openai_key(("rope_scaling", "beta_slow")) == "rope_ntk_alpha"
    assert openai_key(("rope_scaling", "beta_fast")) == "rope_ntk_beta"
    assert openai_key(("pad_token_id",)) is None


def test_unknown_yaml_key_position_and_hint():
    text = "num_hidden_layers: 24\nhidden_size: 2048\nnum_local_expert: 64\n"
    issues = load_errors(text, "model.yaml")
    assert len(issues) == 1
    assert (issues[0].line, issues[0].column) == (3, 1)
    assert issues[0].field == "num_local_expert"
    assert issues[0].code == "unknown_key"
    assert "num_local_experts" in issues[0].hint


def test_unknown_nested_key_position():
    text = "rope_scaling:\n  rope_type: yarn\n  mscale: 1.0\n"
    issues = load_errors(text, "model.yaml")
    assert [(issue.line, issue.column, issue.field, issue.code) for issue in issues] == [
        (3, 3, "rope_scaling.mscale", "unknown_key")
    ]


def test_duplicate_yaml_key():
    text = "num_hidden_layers: 24\nhidden_size: 2048\nnum_hidden_layers: 12\n"
    issues = load_errors(text, "model.yaml")
    assert [(issue.line, issue.column, issue.code) for issue in issues] == [(3, 1, "duplicate_key")]
    assert issues[0].field == "num_hidden_layers"
    assert "first given on line 1" in issues[0].message


def test_duplicate_json_key():
    text = '{\n  "num_hidden_layers": 24,\n  "rope_scaling": {"rope_type": "yarn", "rope_type": "yarn"}\n}\n'
    issues = load_errors(text, "model.json")
    second_key_column = text.splitlines()[2].rindex('"rope_type"') + 1
    assert [(issue.line, issue.column, issue.code) for issue in issues] == [(3, second_key_column, "duplicate_key")]
    assert issues[0].field == "rope_scaling.rope_type"


def test_json_syntax_error_position():
    text = '{\n  "num_hidden_layers": 24,\n  "hidden_size": 2048,\n}\n'
    issues = load_errors(text, "model.json")
    assert [(issue.line, issue.column, issue.code) for issue in issues] == [(4, 1, "syntax")]
    assert "invalid JSON" in issues[0].message


def test_yaml_syntax_error_position():
    text = "num_hidden_layers: 24\nlayer_types: [sliding_attention,\n"
    issues = load_errors(text, "model.yaml")
    assert [(issue.line, issue.code) for issue in issues] == [(3, "syntax")]
    assert "invalid YAML" in issues[0].message


@pytest.mark.parametrize(("text", "fragment"), [("", "empty document"), ("- 1\n- 2\n", "found a list")])
def test_yaml_top_level_must_be_mapping(text, fragment):
    issues = load_errors(text, "model.yaml")
    assert [issue.code for issue in issues] == ["type"]
    assert fragment in issues[0].message


def test_two_errors_both_reported():
    text = "num_hidden_layers: 0\nhidden_size: 2048\nrope_scaling:\n  rope_type: yarn\n  factor: 0.5\n"
    issues = load_errors(text, "model.yaml")
    assert [(issue.line, issue.column, issue.field) for issue in issues] == [
        (1, 1, "num_hidden_layers"),
        (5, 3, "rope_scaling.factor"),
    ]
    assert "greater than 0" in issues[0].message
    assert "greater than or equal to 1" in issues[1].message


def test_mapping_and_value_errors_both_reported():
    text = "num_local_expert: 64\nnum_attention_heads: 0\n"
    issues = load_errors(text, "model.yaml")
    assert [(issue.line, issue.code) for issue in issues] == [(1, "unknown_key"), (2, "invalid_value")]


def test_layer_types_item_position():
    text = "num_hidden_layers: 2\nlayer_types:\n  - sliding_attention\n  - global_attention\n"
    issues = load_errors(text, "model.yaml")
    assert [(issue.line, issue.column, issue.field) for issue in issues] == [(4, 5, "layer_types.1")]
    assert "'global_attention'" in issues[0].message


def test_cross_field_error_position():
    text = "num_local_experts: 8\nnum_key_value_heads: 8\nnum_experts_per_tok: 16\n"
    issues = load_errors(text, "model.yaml")
    assert [(issue.line, issue.column, issue.field, issue.code) for issue in issues] == [
        (3, 1, "num_experts_per_tok", "cross_field")
    ]


def test_hf_renamed_key_error_position():
    text = (CONFIGS / "gpt-oss-20b.json").read_text().replace('"swiglu_limit": 7.0', '"swiglu_limit": -7.0')
    issues = load_errors(text, "gpt-oss-20b.json")
    assert len(issues) == 1
    issue = issues[0]
    assert (issue.line, issue.column) == (line_of(text, '"swiglu_limit"'), 3)
    assert issue.field == "mlp_activations_limit"
    assert issue.key == "swiglu_limit"
    assert issue.format().startswith(f"gpt-oss-20b.json:{issue.line}:3: error: mlp_activations_limit (swiglu_limit): ")


def test_hf_nested_rope_error_position():
    text = (CONFIGS / "gpt-oss-20b.json").read_text().replace('"beta_fast": 32.0', '"beta_fast": 0.5')
    issues = load_errors(text, "gpt-oss-20b.json")
    assert [(issue.line, issue.column, issue.field) for issue in issues] == [
        (line_of(text, '"beta_fast"'), 5, "rope_scaling.beta_fast")
    ]
    assert "beta_slow = 1" in issues[0].message


def test_hf_unknown_key_hint_uses_hf_names():
    text = '{\n  "transformers_version": "4.55.0",\n  "swiglu_limt": 7.0,\n  "mlp_activations_limit": 7.0\n}\n'
    issues = load_errors(text, "config.json")
    assert [(issue.line, issue.code) for issue in issues] == [(3, "unknown_key"), (4, "unknown_key")]
    assert "'swiglu_limit'" in issues[0].hint
    assert "'swiglu_limit'" in issues[1].hint


@pytest.mark.parametrize(
    ("replace", "by", "key", "code", "fragment"),
    [
        ('"num_experts_per_tok": 4', '"num_experts_per_tok": 8', "num_experts_per_tok", "conflict", "experts_per_token"),
        ('"attention_bias": true', '"attention_bias": false', "attention_bias", "invalid_value", "always have biases"),
        (
            '"initial_context_length": 4096',
            '"initial_context_length": 8192',
            "initial_context_length",
            "conflict",
            "original_max_position_embeddings = 4096",
        ),
        ('"architectures"', '"architecture"', "architecture", "unknown_key", "unknown key"),
    ],
)
def test_hf_key_rule_rejected(replace, by, key, code, fragment):
    text = (CONFIGS / "gpt-oss-20b.json").read_text().replace(replace, by)
    issues = load_errors(text, "gpt-oss-20b.json")
    assert [(issue.key, issue.code) for issue in issues] == [(key, code)]
    assert issues[0].line == line_of(text, by)
    assert fragment in issues[0].message


def test_openai_key_error_position():
    text = (CONFIGS / "gpt-oss-20b.original.json").read_text().replace('"rope_ntk_beta": 32', '"rope_ntk_beta": 0.5')
    issues = load_errors(text, "original.json")
    assert [(issue.line, issue.field, issue.key) for issue in issues] == [
        (line_of(text, "rope_ntk_beta"), "rope_scaling.beta_fast", "rope_ntk_beta")
    ]


def test_legacy_type_key_in_hf_file():
    data = json.loads((CONFIGS / "gpt-oss-20b.json").read_text())
    data["rope_scaling"]["type"] = data["rope_scaling"].pop("rope_type")
    assert config_from_mapping(data) == load_config(CONFIGS / "gpt-oss-20b.json").config


@pytest.mark.parametrize(
    ("rope", "rope_theta", "scaling_type"),
    [
        ('"rope_parameters": {"rope_theta": 10000.0}', 10000.0, "default"),
        ('"rope_parameters": {"rope_type": "default", "rope_theta": 5e5}', 5e5, "default"),
        ('"rope_scaling": null, "rope_theta": 150000', 150000.0, "yarn"),
    ],
)
def test_hf_rope_variants(rope, rope_theta, scaling_type):
    text = '{"model_type": "gpt_oss", "num_hidden_layers": 2, ' + rope + "}"
    config = load_config_text(text, filename="config.json").config
    assert config.rope_theta == rope_theta
    assert config.rope_scaling.rope_type == scaling_type


def test_hf_yarn_without_original_context_rejected():
    text = '{"model_type": "gpt_oss", "rope_scaling": {"rope_type": "yarn", "factor": 32.0}}'
    issues = load_errors(text, "config.json")
    assert [(issue.field, issue.code) for issue in issues] == [
        ("rope_scaling.original_max_position_embeddings", "missing")
    ]


def test_utf8_byte_order_mark_accepted(tmp_path):
    path = tmp_path / "config.json"
    path.write_bytes(b"\xef\xbb\xbf" + (CONFIGS / "gpt-oss-20b.json").read_bytes())
    assert load_config(path).config == load_config(CONFIGS / "gpt-oss-20b.json").config


def test_factor_mismatch_is_warning():
    text = "max_position_embeddings: 65536\nrope_scaling:\n  rope_type: yarn\n  factor: 32.0\n"
    loaded = load_config_text(text, filename="model.yaml")
    assert [(w.line, w.column, w.field, w.severity) for w in loaded.warnings] == [
        (4, 3, "rope_scaling.factor", "warning")
    ]
    assert "65536" in loaded.warnings[0].message


def test_strict_turns_warning_into_error():
    text = "max_position_embeddings: 65536\n"
    issues = load_errors(text, "model.yaml", strict=True)
    assert [(issue.field, issue.severity) for issue in issues] == [("rope_scaling.factor", "error")]


def test_missing_file_raises_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "absent.yaml")


def test_non_utf8_file_is_syntax_error(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_bytes(b"num_hidden_layers: 24\nname: \xff\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert [(issue.line, issue.column, issue.code) for issue in caught.value.issues] == [(2, 7, "syntax")]


def test_schema_key_ignored_in_ossgen_json():
    loaded = load_config_text('{"$schema": "gpt-oss-config.schema.json", "num_hidden_layers": 2}', filename="m.json")
    assert loaded.source_format == "ossgen-json"
    assert loaded.ignored_keys == ("$schema",)


def test_ossgen_json_round_trip():
    config = GptOssConfig(num_hidden_layers=4, num_local_experts=8)
    loaded = load_config_text(config.model_dump_json(), filename="model.json")
    assert loaded.source_format == "ossgen-json"
    assert loaded.config == config


def test_config_from_mapping_plain_dict():
    config = config_from_mapping({"num_hidden_layers": 2, "num_local_experts": 8})
    assert config.num_hidden_layers == 2
    assert config.layer_types == ["sliding_attention", "full_attention"]


def test_config_from_mapping_errors_have_no_position():
    with pytest.raises(ConfigError) as caught:
        config_from_mapping({"num_hidden_layers": 0, "num_local_expert": 8})
    issues = caught.value.issues
    assert [(issue.field, issue.line, issue.file) for issue in issues] == [
        ("num_local_expert", None, None),
        ("num_hidden_layers", None, None),
    ]


def test_issue_format_and_dict():
    issue = Issue(
        file="a.yaml",
        line=3,
        column=1,
        field="num_local_experts",
        key="num_local_expert",
        code="unknown_key",
        message="unknown key",
        hint="did you mean 'num_local_experts'?",
    )
    assert issue.format() == (
        "a.yaml:3:1: error: num_local_experts (num_local_expert): unknown key\n"
        "  hint: did you mean 'num_local_experts'?"
    )
    assert issue.to_dict()["line"] == 3
    assert json.loads(json.dumps(issue.to_dict()))["severity"] == "error"


def test_issue_format_without_position():
    issue = Issue(file=None, line=None, column=None, field="dtype", key=None, code="type", message="bad")
    assert issue.format() == "error: dtype: bad"


def test_config_error_lists_every_issue():
    issues = load_errors("num_hidden_layers: 0\nvocab_size: 0\n", "m.yaml")
    message = str(ConfigError(issues))
    assert "m.yaml:1:1: error: num_hidden_layers" in message
    assert "m.yaml:2:1: error: vocab_size" in message


def test_transformers_agrees_on_20b():
    transformers = pytest.importorskip("transformers")
    data = json.loads((CONFIGS / "gpt-oss-20b.json").read_text())
    reference = transformers.GptOssConfig.from_dict(data)
    config = load_config(CONFIGS / "gpt-oss-20b.json").config

    shared_fields = [
        "num_hidden_layers",
        "num_local_experts",
        "vocab_size",
        "hidden_size",
        "intermediate_size",
        "head_dim",
        "num_attention_heads",
        "num_key_value_heads",
        "sliding_window",
        "tie_word_embeddings",
        "hidden_act",
        "initializer_range",
        "max_position_embeddings",
        "rms_norm_eps",
        "attention_dropout",
        "num_experts_per_tok",
        "router_aux_loss_coef",
        "output_router_logits",
        "use_cache",
        "layer_types",
        "swiglu_alpha",
        "model_type",
        "pad_token_id",
        "bos_token_id",
        "eos_token_id",
    ]
    for name in shared_fields:
        assert getattr(config, name) == getattr(reference, name), name

    assert config.mlp_activations_limit == reference.swiglu_limit
    rope_parameters = dict(reference.rope_parameters)
    assert config.rope_theta == rope_parameters.pop("rope_theta")
    assert config.rope_scaling.model_dump(exclude={"attention_factor"}) == rope_parameters


def test_transformers_5_file_loads(tmp_path):
    transformers = pytest.importorskip("transformers")
    data = json.loads((CONFIGS / "gpt-oss-20b.json").read_text())
    path = tmp_path / "config.json"
    path.write_text(transformers.GptOssConfig.from_dict(data).to_json_string(use_diff=True))
    assert "rope_parameters" in path.read_text()

    loaded = load_config(path)
    assert loaded.source_format == "hf"
    assert loaded.config == load_config(CONFIGS / "gpt-oss-20b.json").config


def test_mesh_key_in_config_points_to_mesh_option():
    errors = load_errors("num_hidden_layers: 4\nep: 4\n", "config.yaml")

    assert errors[0].field == "ep"
    assert "--mesh" in errors[0].hint
