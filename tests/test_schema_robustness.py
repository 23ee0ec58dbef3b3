"""Hostile and malformed configuration files: each must give positioned issues, fast, and never crash.

The cases are the kinds of input that used to raise a Python exception, hang or build
huge lists: non-finite YaRN factors, deep nesting, YAML alias tricks, absurd sizes,
values of the wrong type and keys that are not strings.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic
import pytest

from ossgen.schema.config import MAX_HIDDEN_LAYERS, GptOssConfig
from ossgen.schema.errors import ConfigError, Issue, issues_from_validation_error
from ossgen.schema.loaders import MAX_DOCUMENT_NODES, MAX_NESTING_DEPTH, load_config, load_config_text
from ossgen.schema.rope import scaled_context_length

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
OPENAI_TEXT = (CONFIGS / "gpt-oss-20b.original.json").read_text()
HF_TEXT = (CONFIGS / "gpt-oss-20b.json").read_text()
YAML_TEXT = (CONFIGS / "gpt-oss-20b.yaml").read_text()

# Nine aliases of nine aliases, eight levels deep: 9**8 list items once expanded.
ALIAS_BOMB = "".join(
    f"{name}: &{name} [{', '.join([previous] * 9)}]\n"
    for name, previous in zip("abcdefgh", ['"x"', "*a", "*b", "*c", "*d", "*e", "*f", "*g"])
)


class TimeLimitExceeded(Exception):
    """Raised inside a test body that runs longer than its `time_limit`."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the body with TimeLimitExceeded after `seconds`, so that a hang fails the test."""

    def interrupt(signal_number: int, frame: Any) -> None:
        raise TimeLimitExceeded(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def load_issues(text: str, filename: str) -> list[Issue]:
    """Load text that must be invalid and return its issues."""
    with time_limit(5), pytest.raises(ConfigError) as caught:
        load_config_text(text, filename=filename)
    return caught.value.issues


def position_of(text: str, fragment: str) -> tuple[int, int]:
    """Return the 1-based line and column where `fragment` first occurs in `text`."""
    offset = text.index(fragment)
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def with_json_value(text: str, key: str, value: Any) -> str:
    """Return JSON text with one top-level key set; json.dumps writes NaN and Infinity as Python reads them."""
    data = json.loads(text)
    data[key] = value
    return json.dumps(data, indent=2)


def with_yaml_line(text: str, old: str, new: str) -> str:
    """Replace one line of YAML text."""
    assert text.count(old) == 1
    return text.replace(old, new)


# Non-finite or overflowing rope_scaling_factor in OpenAI's format.


@pytest.mark.parametrize(
    ("factor", "message"),
    [(math.nan, "finite number (got nan)"), (math.inf, "finite number (got inf)"), (1e308, "too large")],
)
def test_openai_bad_factor_reported_at_key(factor: float, message: str) -> None:
    text = with_json_value(OPENAI_TEXT, "rope_scaling_factor", factor)

    issues = load_issues(text, "config.json")

    assert len(issues) == 1
    assert issues[0].field == "rope_scaling.factor"
    assert issues[0].key == "rope_scaling_factor"
    assert (issues[0].line, issues[0].column) == position_of(text, '"rope_scaling_factor"')
    assert message in issues[0].message


def test_scaled_context_length_overflow() -> None:
    assert scaled_context_length(4096, 32.0) == 131072
    assert scaled_context_length(4096, 1e308) is None
    assert scaled_context_length(10**400, 2.0) is None


# Overflowing products in the YaRN hints.


def test_hf_huge_factor_warning_has_no_crash() -> None:
    data = json.loads(HF_TEXT)
    data["rope_scaling"]["factor"] = 1e308

    with time_limit(5):
        loaded = load_config_text(json.dumps(data, indent=2), filename="config.json")

    assert [warning.field for warning in loaded.warnings] == ["rope_scaling.factor"]
    assert loaded.warnings[0].hint == "if the two should agree, set factor to 32"


def test_huge_factor_context_violation_hint() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        GptOssConfig(
            max_position_embeddings=4096,
            sliding_window=128,
            rope_scaling={"rope_type": "yarn", "factor": 1e308, "original_max_position_embeddings": 4096},
        )

    issues = issues_from_validation_error(caught.value, model=GptOssConfig)
    assert [issue.field for issue in issues] == ["rope_scaling.original_max_position_embeddings"]
    assert issues[0].hint == (
        "set max_position_embeddings to original_max_position_embeddings * factor, "
        "or use rope_type: default for no scaling"
    )


# Deep nesting and recursive aliases.


def test_json_nesting_beyond_recursion_limit() -> None:
    # 2000 levels make json.loads raise RecursionError; one bracket per line keeps the YAML parse fast.
    text = '{"quantization_config":' + "[\n" * 2000 + "]\n" * 2000 + "}"

    issues = load_issues(text, "config.json")

    assert len(issues) == 1
    assert issues[0].code == "syntax"
    assert issues[0].message == f"nesting deeper than {MAX_NESTING_DEPTH} levels"
    # The top-level object is level 1 and the first list level 2, on line 1.
    assert (issues[0].line, issues[0].column) == (MAX_NESTING_DEPTH, 1)


def test_json_nesting_within_recursion_limit() -> None:
    text = '{"quantization_config": ' + "[" * 150 + "]" * 150 + "}"

    issues = load_issues(text, "config.json")

    assert [issue.code for issue in issues] == ["syntax"]
    assert issues[0].message == f"nesting deeper than {MAX_NESTING_DEPTH} levels"
    assert (issues[0].line, issues[0].column) == (1, len('{"quantization_config": ') + MAX_NESTING_DEPTH)


def test_yaml_block_nesting_too_deep() -> None:
    text = "".join("  " * level + "k:\n" for level in range(3000)) + "  " * 3000 + "v\n"

    issues = load_issues(text, "config.yaml")

    assert [issue.code for issue in issues] == ["syntax"]
    assert issues[0].message == f"nesting deeper than {MAX_NESTING_DEPTH} levels"
    assert issues[0].line == MAX_NESTING_DEPTH


def test_yaml_flow_nesting_too_deep() -> None:
    # One bracket per line keeps ruamel.yaml's scanner fast: it looks ahead up to 1024 characters for a
    # key, so 1000 brackets on one line took about 0.7 s on an AMD EPYC host.
    text = "layer_types:\n" + "  [\n" * 3000 + "  ]\n" * 3000

    issues = load_issues(text, "config.yaml")

    assert [issue.code for issue in issues] == ["syntax"]
    assert issues[0].message == f"nesting deeper than {MAX_NESTING_DEPTH} levels"


def test_yaml_recursive_alias() -> None:
    text = "rope_scaling: &r\n  rope_type: yarn\n  nested: *r\n"

    issues = load_issues(text, "config.yaml")

    assert len(issues) == 1
    assert issues[0].code == "syntax"
    assert issues[0].message.startswith("recursive alias")
    assert (issues[0].line, issues[0].column) == (3, 3)


def test_yaml_recursive_merge_key() -> None:
    text = "rope_scaling: &r {rope_type: yarn, <<: *r}\n"

    issues = load_issues(text, "config.yaml")

    assert [issue.code for issue in issues] == ["syntax"]
    assert issues[0].message.startswith("recursive alias")
    assert (issues[0].line, issues[0].column) == position_of(text, "<<")


def test_yaml_alias_chain_too_deep() -> None:
    # Every alias adds a level once expanded, though the text itself nests two levels.
    text = "a0: &a0 [1]\n" + "".join(f"a{index}: &a{index} [*a{index - 1}]\n" for index in range(1, 120))

    issues = load_issues(text, "config.yaml")

    assert [issue.code for issue in issues] == ["syntax"]
    assert issues[0].message == f"nesting deeper than {MAX_NESTING_DEPTH} levels"


# Alias bombs.


def test_yaml_alias_bomb_stops_early() -> None:
    issues = load_issues(ALIAS_BOMB, "config.yaml")

    assert len(issues) == 1
    assert issues[0].code == "syntax"
    assert f"more than {MAX_DOCUMENT_NODES} values and list items" in issues[0].message
    # a to e expand to fewer items than the limit; f is the first key past it.
    assert (issues[0].line, issues[0].column) == position_of(ALIAS_BOMB, "f:")


def test_yaml_alias_bomb_as_key() -> None:
    text = ALIAS_BOMB + "? *h\n: 1\n"

    issues = load_issues(text, "config.yaml")

    assert [issue.code for issue in issues] == ["syntax"]
    assert f"more than {MAX_DOCUMENT_NODES} values and list items" in issues[0].message


# Divisor hint for a huge head count.


def test_divisor_hint_for_prime_head_count() -> None:
    with time_limit(2), pytest.raises(pydantic.ValidationError) as caught:
        GptOssConfig(num_attention_heads=1000000007, num_key_value_heads=2)

    issues = issues_from_validation_error(caught.value, model=GptOssConfig)
    assert [issue.field for issue in issues] == ["num_key_value_heads"]
    assert issues[0].hint == "choose num_key_value_heads among the divisors of 1000000007: 1, ..."


def test_divisor_hint_cut_at_limit() -> None:
    with time_limit(2), pytest.raises(pydantic.ValidationError) as caught:
        GptOssConfig(num_attention_heads=2**20, num_key_value_heads=3)

    hint = issues_from_validation_error(caught.value, model=GptOssConfig)[0].hint
    assert hint is not None
    assert hint.endswith(": 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, ...")


# Upper bound of num_hidden_layers.


def test_huge_layer_count_rejected_fast() -> None:
    text = with_yaml_line(YAML_TEXT, "num_hidden_layers: 24\n", "num_hidden_layers: 1000000000\n")

    issues = load_issues(text, "config.yaml")

    assert [issue.field for issue in issues] == ["num_hidden_layers"]
    assert f"less than or equal to {MAX_HIDDEN_LAYERS}" in issues[0].message
    assert (issues[0].line, issues[0].column) == position_of(text, "num_hidden_layers")


def test_layer_count_at_bound_accepted() -> None:
    with time_limit(2):
        config = GptOssConfig(num_hidden_layers=MAX_HIDDEN_LAYERS)

    assert config.layer_types is not None
    assert len(config.layer_types) == MAX_HIDDEN_LAYERS


# Strict integers and numbers.


@pytest.mark.parametrize(("written", "shown"), [("true", "true"), ("'24'", "'24'"), ("24.0", "24.0"), ("!!str 24", "'24'")])
def test_integer_field_rejects_non_integers(written: str, shown: str) -> None:
    text = with_yaml_line(YAML_TEXT, "num_hidden_layers: 24\n", f"num_hidden_layers: {written}\n")

    issues = load_issues(text, "config.yaml")

    assert [issue.field for issue in issues] == ["num_hidden_layers"]
    assert issues[0].code == "type"
    assert issues[0].message == f"expected a valid integer, got {shown}"
    assert issues[0].hint == "write a whole number without quotes, such as 64"


@pytest.mark.parametrize(("key", "value"), [("num_experts", "32"), ("initial_context_length", True)])
def test_openai_integer_keys_strict(key: str, value: Any) -> None:
    text = with_json_value(OPENAI_TEXT, key, value)

    issues = load_issues(text, "config.json")

    assert [issue.key for issue in issues] == [key]
    assert issues[0].message.startswith("expected a valid integer, got ")


@pytest.mark.parametrize("written", ["true", "'1e6'"])
def test_float_field_rejects_bool_and_string(written: str) -> None:
    text = with_yaml_line(YAML_TEXT, "rope_theta: 150000.0\n", f"rope_theta: {written}\n")

    issues = load_issues(text, "config.yaml")

    assert [issue.field for issue in issues] == ["rope_theta"]
    assert issues[0].message == f"expected a valid number, got {written}"


def test_float_field_accepts_integer() -> None:
    text = with_yaml_line(YAML_TEXT, "rope_theta: 150000.0\n", "rope_theta: 150000\n")

    config = load_config_text(text, filename="config.yaml").config

    assert config.rope_theta == 150000.0
    assert isinstance(config.rope_theta, float)


def test_keyword_construction_still_works() -> None:
    config = GptOssConfig(num_hidden_layers=24, num_local_experts=64, hidden_size=2048, num_attention_heads=32)

    assert (config.num_hidden_layers, config.num_local_experts, config.hidden_size) == (24, 64, 2048)


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("gpt-oss-*")), ids=lambda path: path.name)
def test_shipped_configs_still_valid(path: Path) -> None:
    assert load_config(path).config.model_type == "gpt_oss"


def test_union_type_error_merged() -> None:
    text = with_yaml_line(YAML_TEXT, "eos_token_id: 200002\n", "eos_token_id: end\n")

    issues = load_issues(text, "config.yaml")

    assert [issue.field for issue in issues] == ["eos_token_id"]
    assert issues[0].message == "expected a valid integer, or a valid list (got 'end')"


# rope_scaling without rope_type.


@pytest.mark.parametrize("key", ["rope_scaling", "rope_parameters"])
def test_hf_yarn_keys_without_rope_type(key: str) -> None:
    data = json.loads(HF_TEXT)
    scaling = data.pop("rope_scaling")
    del scaling["rope_type"]
    data[key] = scaling
    text = json.dumps(data, indent=2)

    issues = load_issues(text, "config.json")

    assert len(issues) == 1
    assert issues[0].field == "rope_scaling.rope_type"
    assert issues[0].code == "missing"
    assert issues[0].message.startswith("rope_type is missing, but ")
    assert issues[0].hint == f'add "rope_type": "yarn" to {key}'
    assert (issues[0].line, issues[0].column) == position_of(text, f'"{key}"')


def test_hf_rope_parameters_theta_only_is_plain() -> None:
    data = json.loads(HF_TEXT)
    del data["rope_scaling"]
    del data["rope_theta"]
    data["rope_parameters"] = {"rope_theta": 150000.0}

    config = load_config_text(json.dumps(data), filename="config.json").config

    assert config.rope_scaling is not None
    assert config.rope_scaling.rope_type == "default"


# Position of an unknown rope_type.


def test_unknown_rope_type_points_at_key() -> None:
    text = "rope_scaling:\n  factor: 2.0\n  rope_type: ntk\n"

    issues = load_issues(text, "config.yaml")

    assert len(issues) == 1
    assert issues[0].field == "rope_scaling.rope_type"
    assert (issues[0].line, issues[0].column) == (3, 3)
    assert "'ntk'" in issues[0].message
    assert issues[0].hint == "use one of: 'yarn', 'default'"


def test_unknown_legacy_type_points_at_key() -> None:
    data = json.loads(HF_TEXT)
    data["rope_scaling"] = {"type": "ntk", "factor": 2.0}
    text = json.dumps(data, indent=2)

    issues = load_issues(text, "config.json")

    assert [issue.field for issue in issues] == ["rope_scaling.rope_type"]
    assert (issues[0].line, issues[0].column) == position_of(text, '"type"')


# Wording of types, keys and values in messages.


@pytest.mark.parametrize(
    ("text", "found"),
    [("42\n", "an integer: 42"), ("1.5\n", "a number: 1.5"), ("hello\n", "a string: 'hello'"), ("- 1\n", "a list: [1]")],
)
def test_top_level_type_in_words(text: str, found: str) -> None:
    issues = load_issues(text, "config.yaml")

    assert issues[0].message == f"expected a mapping of configuration keys at the top level, found {found}"


def test_complex_keys_rendered_as_yaml() -> None:
    text = "? [a, b]\n: 1\n? {x: 1}\n: 2\nnull: 4\n"

    issues = load_issues(text, "config.yaml")

    assert [(issue.field, issue.line, issue.column) for issue in issues] == [
        ("[a, b]", 1, 3),
        ("{x: 1}", 3, 3),
        ("null", 5, 1),
    ]
    assert not any("ordereddict" in issue.format() or "None" in issue.format() for issue in issues)


def test_nested_non_string_key_located() -> None:
    text = "rope_scaling:\n  rope_type: yarn\n  ? [a]\n  : 1\n"

    issues = load_issues(text, "config.yaml")

    assert [issue.field for issue in issues] == ["rope_scaling.[a]"]
    assert (issues[0].line, issues[0].column) == (3, 5)


def test_tagged_value_rendered_as_yaml() -> None:
    text = with_yaml_line(YAML_TEXT, "hidden_size: 2880\n", "hidden_size: !custom 2880\n")

    issues = load_issues(text, "config.yaml")

    assert issues[0].message == "expected a valid integer, got !custom '2880'"


def test_long_key_shortened_in_format() -> None:
    # YAML limits a key written without "?" to 1024 characters.
    key = "k" * 200
    text = YAML_TEXT + f"{key}: 1\n"

    issues = load_issues(text, "config.yaml")

    assert issues[0].field == key
    first_line = issues[0].format().splitlines()[0]
    assert "k" * 77 + "...: unknown key" in first_line
    assert len(first_line) < 200


# Derived max_position_embeddings from invalid inputs.


def test_openai_negative_context_single_issue() -> None:
    text = with_json_value(OPENAI_TEXT, "initial_context_length", -4096)

    issues = load_issues(text, "config.json")

    assert [issue.field for issue in issues] == ["rope_scaling.original_max_position_embeddings"]
    assert "(got -4096)" in issues[0].message


# Values the parsers cannot convert.


@pytest.mark.parametrize(
    ("text", "filename"),
    [('{"hidden_size": ' + "1" * 5000 + "}", "config.json"), ("hidden_size: " + "1" * 5000 + "\n", "config.yaml")],
)
def test_integer_with_too_many_digits(text: str, filename: str) -> None:
    issues = load_issues(text, filename)

    assert [issue.code for issue in issues] == ["syntax"]
    assert "a number has more than" in issues[0].message
    assert (issues[0].line, issues[0].column) == position_of(text, "1111")


def test_impossible_date_is_syntax_issue() -> None:
    issues = load_issues("hidden_size: 2024-02-30\n", "config.yaml")

    assert [issue.code for issue in issues] == ["syntax"]
    assert "day is out of range" in issues[0].message
