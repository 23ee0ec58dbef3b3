"""Tests of GptOssConfig and the rotary scaling models: defaults, field rules and cross-field rules."""

import math
import sys
import types

import pydantic
import pytest

from ossgen.schema import DefaultRopeScaling, GptOssConfig, YarnRopeScaling
from ossgen.schema.config import default_layer_types
from ossgen.schema.errors import issues_from_validation_error
from ossgen.schema.rope import yarn_attention_factor

EXPECTED_DEFAULTS = [
    ("num_hidden_layers", 36),
    ("num_local_experts", 128),
    ("vocab_size", 201088),
    ("hidden_size", 2880),
    ("intermediate_size", 2880),
    ("head_dim", 64),
    ("num_attention_heads", 64),
    ("num_key_value_heads", 8),
    ("sliding_window", 128),
    ("rope_theta", 150000.0),
    ("tie_word_embeddings", False),
    ("hidden_act", "silu"),
    ("initializer_range", 0.02),
    ("max_position_embeddings", 131072),
    ("rms_norm_eps", 1e-5),
    ("attention_dropout", 0.0),
    ("num_experts_per_tok", 4),
    ("router_aux_loss_coef", 0.9),
    ("output_router_logits", False),
    ("use_cache", True),
    ("mlp_activations_limit", 7.0),
    ("swiglu_alpha", 1.702),
    ("model_type", "gpt_oss"),
    ("dtype", "bfloat16"),
    ("pad_token_id", None),
    ("bos_token_id", None),
    ("eos_token_id", None),
]


def error_fields(error: pydantic.ValidationError) -> list[str]:
    return [issue.field for issue in issues_from_validation_error(error, model=GptOssConfig)]


def error_messages(error: pydantic.ValidationError) -> str:
    return "\n".join(issue.message for issue in issues_from_validation_error(error, model=GptOssConfig))


@pytest.mark.parametrize(("name", "expected"), EXPECTED_DEFAULTS)
def test_default_value(name, expected):
    assert getattr(GptOssConfig(), name) == expected


def test_default_rope_scaling_is_gpt_oss_yarn():
    scaling = GptOssConfig().rope_scaling
    assert isinstance(scaling, YarnRopeScaling)
    assert scaling.factor == 32.0
    assert scaling.beta_fast == 32.0
    assert scaling.beta_slow == 1.0
    assert scaling.truncate is False
    assert scaling.original_max_position_embeddings == 4096
    assert scaling.attention_factor is None


def test_field_order_and_descriptions():
    names = list(GptOssConfig.model_fields)
    assert names[:3] == ["num_hidden_layers", "num_local_experts", "vocab_size"]
    assert names[-4:] == ["dtype", "pad_token_id", "bos_token_id", "eos_token_id"]
    assert names.index("rope_scaling") == names.index("rms_norm_eps") + 1
    for name, field in GptOssConfig.model_fields.items():
        assert field.description, f"{name} has no description"


def test_documented_example_validates():
    config = GptOssConfig(num_hidden_layers=24, num_local_experts=64, hidden_size=2048, num_attention_heads=32)
    assert config.num_local_experts == 64
    assert len(config.layer_types) == 24


@pytest.mark.parametrize("num_layers", [1, 2, 24, 36])
def test_layer_types_default_alternates(num_layers):
    layer_types = GptOssConfig(num_hidden_layers=num_layers).layer_types
    assert len(layer_types) == num_layers
    assert layer_types[0] == "sliding_attention"
    assert layer_types == default_layer_types(num_layers)
    for index, kind in enumerate(layer_types):
        assert kind == ("sliding_attention" if index % 2 == 0 else "full_attention")


def test_layer_types_given_list_kept():
    layer_types = ["full_attention", "full_attention", "sliding_attention"]
    assert GptOssConfig(num_hidden_layers=3, layer_types=layer_types).layer_types == layer_types


def test_layer_types_length_mismatch_rejected():
    with pytest.raises(pydantic.ValidationError) as caught:
        GptOssConfig(num_hidden_layers=24, layer_types=default_layer_types(23))
    assert error_fields(caught.value) == ["layer_types"]
    message = error_messages(caught.value)
    assert "expected 24 entries, got 23" in message
    assert "['sliding_attention', 'full_attention', ...]" in message
    assert "starting with 'sliding_attention'" in message


def test_layer_types_unknown_kind_rejected():
    with pytest.raises(pydantic.ValidationError) as caught:
        GptOssConfig(num_hidden_layers=2, layer_types=["sliding_attention", "global"])
    assert error_fields(caught.value) == ["layer_types.1"]


def test_unknown_field_rejected():
    with pytest.raises(pydantic.ValidationError) as caught:
        GptOssConfig(num_local_expert=64)
    issues = issues_from_validation_error(caught.value, model=GptOssConfig)
    assert [issue.code for issue in issues] == ["unknown_key"]
    assert "num_local_experts" in issues[0].hint


@pytest.mark.parametrize(
    ("legacy", "expected_type"),
    [
        ({"type": "yarn", "factor": 8.0}, YarnRopeScaling),
        ({"type": "default"}, DefaultRopeScaling),
        ({"type": "yarn", "rope_type": "yarn"}, YarnRopeScaling),
    ],
)
def test_legacy_type_key_accepted(legacy, expected_type):
    scaling = GptOssConfig(rope_scaling=legacy).rope_scaling
    assert isinstance(scaling, expected_type)


def test_legacy_type_key_keeps_values():
    scaling = GptOssConfig(rope_scaling={"type": "yarn", "factor": 8.0}).rope_scaling
    assert scaling.rope_type == "yarn"
    assert scaling.factor == 8.0


def test_legacy_type_key_conflict_rejected():
    with pytest.raises(pydantic.ValidationError) as caught:
        GptOssConfig(rope_scaling={"type": "yarn", "rope_type": "default"})
    assert error_fields(caught.value) == ["rope_scaling.rope_type"]
    assert "disagrees" in error_messages(caught.value)


@pytest.mark.parametrize("scaling", [None, {"rope_type": "default"}])
def test_plain_rope_accepted(scaling):
    config = GptOssConfig(rope_scaling=scaling)
    assert not isinstance(config.rope_scaling, YarnRopeScaling)
    assert config.validation_warnings() == []


def test_missing_rope_type_rejected():
    with pytest.raises(pydantic.ValidationError) as caught:
        GptOssConfig(rope_scaling={"factor": 8.0})
    issues = issues_from_validation_error(caught.value, model=GptOssConfig)
    assert [(issue.field, issue.code) for issue in issues] == [("rope_scaling", "missing")]


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"num_experts_per_tok": 129}, "num_experts_per_tok", "exceeds num_local_experts = 128"),
        ({"num_local_experts": 2, "num_experts_per_tok": 4}, "num_experts_per_tok", "num_experts_per_tok = 4"),
        ({"num_key_value_heads": 7}, "num_key_value_heads", "not divisible"),
        ({"num_attention_heads": 12, "num_key_value_heads": 8}, "num_key_value_heads", "num_attention_heads = 12"),
        ({"sliding_window": 131072}, "sliding_window", "must be less than max_position_embeddings = 131072"),
        (
            {"max_position_embeddings": 4096},
            "rope_scaling.original_max_position_embeddings",
            "must be less than max_position_embeddings = 4096",
        ),
        ({"pad_token_id": 201088}, "pad_token_id", "outside the vocabulary"),
        ({"eos_token_id": [1, 300000]}, "eos_token_id.1", "outside the vocabulary"),
    ],
)
def test_cross_field_rule_rejected(overrides, field, fragment):
    with pytest.raises(pydantic.ValidationError) as caught:
        GptOssConfig(**overrides)
    issues = issues_from_validation_error(caught.value, model=GptOssConfig)
    assert [issue.field for issue in issues] == [field]
    assert issues[0].code == "cross_field"
    assert fragment in issues[0].message
    assert issues[0].hint


def test_cross_field_rules_all_reported():
    with pytest.raises(pydantic.ValidationError) as caught:
        GptOssConfig(num_experts_per_tok=129, num_key_value_heads=7, sliding_window=200000)
    assert sorted(error_fields(caught.value)) == ["num_experts_per_tok", "num_key_value_heads", "sliding_window"]


def test_cross_field_error_names_field_in_pydantic_message():
    with pytest.raises(pydantic.ValidationError) as caught:
        GptOssConfig(num_experts_per_tok=129)
    assert "num_experts_per_tok" in str(caught.value)


@pytest.mark.parametrize("head_dim", [1, 63, 65])
def test_odd_head_dim_rejected(head_dim):
    with pytest.raises(pydantic.ValidationError) as caught:
        GptOssConfig(head_dim=head_dim)
    assert error_fields(caught.value) == ["head_dim"]
    assert "must be even" in error_messages(caught.value)


def test_head_width_may_differ_from_hidden_size():
    config = GptOssConfig(hidden_size=2880, num_attention_heads=64, head_dim=64)
    assert config.num_attention_heads * config.head_dim == 4096


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"num_hidden_layers": 0}, "num_hidden_layers"),
        ({"vocab_size": -1}, "vocab_size"),
        ({"rms_norm_eps": 0.0}, "rms_norm_eps"),
        ({"initializer_range": -0.02}, "initializer_range"),
        ({"attention_dropout": 1.0}, "attention_dropout"),
        ({"attention_dropout": -0.1}, "attention_dropout"),
        ({"mlp_activations_limit": 0.0}, "mlp_activations_limit"),
        ({"swiglu_alpha": 0.0}, "swiglu_alpha"),
        ({"router_aux_loss_coef": -0.1}, "router_aux_loss_coef"),
        ({"rope_theta": float("inf")}, "rope_theta"),
        ({"hidden_act": "gelu"}, "hidden_act"),
        ({"dtype": "float64"}, "dtype"),
        ({"model_type": "llama"}, "model_type"),
        ({"tie_word_embeddings": "yes"}, "tie_word_embeddings"),
        ({"pad_token_id": -1}, "pad_token_id"),
    ],
)
def test_field_rule_rejected(overrides, field):
    with pytest.raises(pydantic.ValidationError) as caught:
        GptOssConfig(**overrides)
    assert error_fields(caught.value) == [field]


def test_eos_token_id_accepts_int_and_list():
    assert GptOssConfig(eos_token_id=200002).eos_token_id == 200002
    assert GptOssConfig(eos_token_id=[199999, 200002]).eos_token_id == [199999, 200002]


def test_eos_token_id_union_errors_merged():
    with pytest.raises(pydantic.ValidationError) as caught:
        GptOssConfig(eos_token_id="end")
    issues = issues_from_validation_error(caught.value, model=GptOssConfig)
    assert [issue.field for issue in issues] == ["eos_token_id"]
    assert "valid list" in issues[0].message


@pytest.mark.parametrize(
    ("scaling", "field"),
    [
        ({"factor": 0.5}, "rope_scaling.factor"),
        ({"beta_fast": 1.0, "beta_slow": 1.0}, "rope_scaling.beta_fast"),
        ({"beta_fast": 1.0, "beta_slow": 32.0}, "rope_scaling.beta_fast"),
        ({"beta_slow": 0.0}, "rope_scaling.beta_slow"),
        ({"beta_fast": -1.0}, "rope_scaling.beta_fast"),
        ({"truncate": 0}, "rope_scaling.truncate"),
        ({"truncate": "false"}, "rope_scaling.truncate"),
        ({"original_max_position_embeddings": 0}, "rope_scaling.original_max_position_embeddings"),
        ({"attention_factor": 0.0}, "rope_scaling.attention_factor"),
        ({"mscale": 1.0}, "rope_scaling.mscale"),
    ],
)
def test_yarn_rule_rejected(scaling, field):
    with pytest.raises(pydantic.ValidationError) as caught:
        GptOssConfig(rope_scaling={"rope_type": "yarn", **scaling})
    assert error_fields(caught.value) == [field]


def test_yarn_attention_factor_default():
    assert math.isclose(yarn_attention_factor(YarnRopeScaling(factor=32.0)), 0.1 * math.log(32.0) + 1.0)
    assert math.isclose(yarn_attention_factor(YarnRopeScaling(factor=32.0)), 1.3466, abs_tol=1e-4)


def test_yarn_attention_factor_explicit():
    assert yarn_attention_factor(YarnRopeScaling(attention_factor=1.5)) == 1.5


def test_factor_mismatch_warns():
    config = GptOssConfig(max_position_embeddings=65536)
    warnings = config.validation_warnings()
    assert len(warnings) == 1
    assert warnings[0].severity == "warning"
    assert warnings[0].field == "rope_scaling.factor"
    assert "65536" in warnings[0].message
    assert "4096" in warnings[0].message
    assert "scales the rotary frequencies by factor (32)" in warnings[0].message


def test_matching_factor_does_not_warn():
    assert GptOssConfig().validation_warnings() == []


def test_num_key_value_groups():
    assert GptOssConfig().num_key_value_groups == 8
    assert GptOssConfig(num_attention_heads=32, num_key_value_heads=32).num_key_value_groups == 1


def test_get_partition_rules_delegates(monkeypatch):
    calls = []

    def fake_partition_rules(config, mesh):
        calls.append((config, mesh))
        return "rules"

    fake_module = types.ModuleType("ossgen.schema.sharding")
    fake_module.partition_rules = fake_partition_rules
    monkeypatch.setitem(sys.modules, "ossgen.schema.sharding", fake_module)

    config = GptOssConfig()
    assert config.get_partition_rules("mesh") == "rules"
    assert calls == [(config, "mesh")]
