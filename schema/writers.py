"""Write a validated `GptOssConfig` in each configuration format that ossgen reads.

The functions here build mappings and text and never touch files. The key names come
from the tables in `ossgen.schema.formats`, used from ossgen's fields back to each
format's keys. Whether a format can carry a config is not decided by a hand-kept
list: the output is read back with ossgen's own loader and compared field by field.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping
from typing import Any, Literal

import pydantic
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.representer import RoundTripRepresenter

from ossgen.schema.config import GptOssConfig
from ossgen.schema.errors import ConfigError, FieldPath, Issue, dotted
from ossgen.schema.formats import (
    FORMAT_LABELS,
    OPENAI_KEYS,
    SCHEMA_KEY,
    SourceFormat,
    hf_key,
    openai_key,
)
from ossgen.schema.loaders import load_config_text, plain_scalar
from ossgen.schema.rope import DefaultRopeScaling, YarnRopeScaling

WriteTarget = Literal["ossgen", "hf", "openai"]

# The first line of YAML files that ossgen writes, so that editors can validate the
# file. The path is relative to the configs/ folder of this repository.
YAML_SCHEMA_COMMENT = "yaml-language-server: $schema=../schema/gpt-oss-config.schema.json"

HF_ARCHITECTURE = "GptOssForCausalLM"

# Hugging Face keys that the published files carry in addition to the field's own key.
# transformers keeps them as plain attributes, and ossgen's loader requires them to agree.
HF_DUPLICATE_KEYS: dict[str, str] = {"experts_per_token": "num_experts_per_tok"}

_TOKEN_ID_FIELDS = ("pad_token_id", "bos_token_id", "eos_token_id")

# The format each target is read back as, to find the values that it cannot carry.
_READ_BACK_FORMAT: dict[str, SourceFormat] = {"ossgen": "ossgen-json", "hf": "hf", "openai": "openai"}


def to_mapping(config: GptOssConfig, target: WriteTarget) -> tuple[dict[str, Any], list[Issue]]:
    """Build the mapping that a file of `target` format contains for `config`.

    Returns the mapping and one warning (code "lossy") for each field that reading the
    mapping back with ossgen's loader would change. The list is empty for "ossgen" and
    "hf", whose formats carry every field. Raises ValueError for an unknown target.
    """
    if target == "ossgen":
        mapping = _ossgen_mapping(config)
    elif target == "hf":
        mapping = _hf_mapping(config)
    elif target == "openai":
        mapping = _openai_mapping(config)
    else:
        raise ValueError(f"unknown target format {target!r}, expected 'ossgen', 'hf' or 'openai'")
    return mapping, find_lossy_fields(config, mapping, target)


def _ossgen_mapping(config: GptOssConfig) -> dict[str, Any]:
    """Return every field in field order, with rope_scaling as a nested mapping or None."""
    return config.model_dump(mode="python")


def _hf_mapping(config: GptOssConfig) -> dict[str, Any]:
    """Return the keys of a Hugging Face config.json, sorted like the published files."""
    fields = config.model_dump(mode="python")
    values: dict[str, Any] = {
        "architectures": [HF_ARCHITECTURE],
        "attention_bias": True,
    }
    for name, value in fields.items():
        if name == "rope_scaling":
            continue
        # The published files leave out token ids that are not set.
        if name in _TOKEN_ID_FIELDS and value is None:
            continue
        values[hf_key(name)] = value
    for key, name in HF_DUPLICATE_KEYS.items():
        values[key] = fields[name]

    scaling = config.rope_scaling
    if isinstance(scaling, YarnRopeScaling):
        # attention_factor None means "computed from factor" in transformers too.
        rope = scaling.model_dump(mode="python", exclude_none=True)
        values["initial_context_length"] = scaling.original_max_position_embeddings
    else:
        # transformers and ossgen's loader read a missing or null rope_scaling as the
        # GPT-OSS YaRN default, so plain RoPE must be written out.
        rope = {"rope_type": "default"}
    values["rope_scaling"] = dict(sorted(rope.items()))
    return dict(sorted(values.items()))


def _openai_mapping(config: GptOssConfig) -> dict[str, Any]:
    """Return the keys of OpenAI's original/config.json, in the order of OPENAI_KEYS."""
    fields = config.model_dump(mode="python")
    if not isinstance(config.rope_scaling, YarnRopeScaling):
        # OpenAI's reference uses plain RoPE when rope_scaling_factor is 1. It then
        # ignores the two ntk values, and initial_context_length is the context length.
        yarn_defaults = YarnRopeScaling()
        fields["rope_scaling"] = {
            "factor": 1.0,
            "original_max_position_embeddings": config.max_position_embeddings,
            "beta_slow": yarn_defaults.beta_slow,
            "beta_fast": yarn_defaults.beta_fast,
        }
    return {key: _value_at(fields, path) for key, path in OPENAI_KEYS.items()}


def _value_at(values: Mapping[str, Any], path: FieldPath) -> Any:
    value: Any = values
    for part in path:
        value = value[part]
    return value


def find_lossy_fields(config: GptOssConfig, mapping: Mapping[str, Any], target: WriteTarget) -> list[Issue]:
    """Read `mapping` back as `target` and warn about each field that comes back different.

    A rope_scaling of None and one with rope_type "default" both mean plain RoPE, so
    they count as equal. When the mapping cannot be read back at all, each error of
    the loader becomes a warning.
    """
    label = FORMAT_LABELS[_READ_BACK_FORMAT[target]]
    try:
        loaded = load_config_text(
            to_json_text(mapping), filename="config.json", source_format=_READ_BACK_FORMAT[target]
        )
    except ConfigError as error:
        return [
            _lossy_issue(
                issue.field,
                _format_key(issue.field, target),
                f"the {label} output cannot be read back: {issue.message}",
            )
            for issue in error.issues
        ]

    issues = []
    for field_name, expected, actual in _differences(config, loaded.config):
        message = (
            f"the {label} format cannot carry {field_name} = {_describe(expected)}, "
            f"so reading the output back gives {_describe(actual)}"
        )
        issues.append(_lossy_issue(field_name, _format_key(field_name, target), message))
    return issues


def _lossy_issue(field_name: str, key: str | None, message: str) -> Issue:
    return Issue(
        file=None,
        line=None,
        column=None,
        field=field_name,
        key=key,
        code="lossy",
        message=message,
        hint="convert to ossgen's YAML or JSON, or to the Hugging Face format, to keep this value",
        severity="warning",
    )


def _format_key(field_name: str, target: WriteTarget) -> str | None:
    """Return the key that `target` uses for a dotted field path, or None when it has none."""
    path = tuple(field_name.split("."))
    if target == "openai":
        return openai_key(path)
    if target == "hf" and len(path) == 1:
        return hf_key(field_name)
    return field_name


def _differences(expected: GptOssConfig, actual: GptOssConfig) -> list[tuple[str, Any, Any]]:
    """List (dotted field, expected value, actual value) for every field that differs."""
    differences = []
    for name in GptOssConfig.model_fields:
        expected_value = getattr(expected, name)
        actual_value = getattr(actual, name)
        if name == "rope_scaling":
            expected_value = expected_value or DefaultRopeScaling()
            actual_value = actual_value or DefaultRopeScaling()
            if isinstance(expected_value, YarnRopeScaling) and isinstance(actual_value, YarnRopeScaling):
                for sub_name in YarnRopeScaling.model_fields:
                    expected_sub = getattr(expected_value, sub_name)
                    actual_sub = getattr(actual_value, sub_name)
                    if expected_sub != actual_sub:
                        differences.append((dotted((name, sub_name)), expected_sub, actual_sub))
                continue
            expected_value = expected_value.model_dump(mode="python")
            actual_value = actual_value.model_dump(mode="python")
        if expected_value != actual_value:
            differences.append((name, expected_value, actual_value))
    return differences


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def to_json_text(mapping: Mapping[str, Any]) -> str:
    """Format a mapping as JSON with an indent of 2 and a trailing newline, keeping the key order."""
    return json.dumps(mapping, indent=2, ensure_ascii=False) + "\n"


class _ConfigRepresenter(RoundTripRepresenter):
    """ruamel.yaml round-trip representer that writes null as `null` and floats with a decimal point."""


def _represent_null(representer: RoundTripRepresenter, value: None) -> Any:
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def _represent_float(representer: RoundTripRepresenter, value: float) -> Any:
    """Write the shortest text that reads back as the same float, always with a decimal point.

    The point keeps 7.0 a float after reading, and "1.0e-05" is also a float to YAML 1.1
    parsers such as PyYAML, which read "1e-05" as a string.
    """
    if not math.isfinite(value):
        return RoundTripRepresenter.represent_float(representer, value)
    mantissa, separator, exponent = repr(value).partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return representer.represent_scalar("tag:yaml.org,2002:float", mantissa + separator + exponent)


# Registered on the subclass, so that other users of ruamel.yaml in the process are unaffected.
_ConfigRepresenter.add_representer(type(None), _represent_null)
_ConfigRepresenter.add_representer(float, _represent_float)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Representer = _ConfigRepresenter
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


def to_yaml_text(config: GptOssConfig, *, source_text: str | None = None, schema_comment: bool = True) -> str:
    """Format `config` as ossgen YAML.

    With `source_text`, an ossgen YAML document, that document is edited so that it
    reads back as `config`: keys whose value differs are replaced, missing keys are
    appended and rope_scaling keys of another rope_type are removed. Its comments and
    unchanged values are kept as written. A source that is not a YAML mapping is
    ignored. Without a usable source, every field is written in field order, after a
    yaml-language-server comment line when `schema_comment` is true.
    """
    yaml = _yaml()
    document = yaml.load(source_text) if source_text is not None else None
    if isinstance(document, CommentedMap):
        _update_document(document, config)
    else:
        document = _fresh_document(config)
        if schema_comment:
            document.yaml_set_start_comment(YAML_SCHEMA_COMMENT)

    stream = io.StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()


def _to_yaml_node(value: Any) -> Any:
    """Convert plain mappings and lists to ruamel.yaml containers, which dump in block style."""
    if isinstance(value, Mapping):
        node = CommentedMap()
        for key, item in value.items():
            node[key] = _to_yaml_node(item)
        return node
    if isinstance(value, list):
        return CommentedSeq(_to_yaml_node(item) for item in value)
    return value


def _fresh_document(config: GptOssConfig) -> CommentedMap:
    return _to_yaml_node(_ossgen_mapping(config))


def _plain(value: Any) -> Any:
    """Convert ruamel.yaml containers and scalar subclasses to plain Python values."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return plain_scalar(value)


def _validate_document(document: CommentedMap) -> GptOssConfig | None:
    """Return the config that a document reads as, or None when it is invalid."""
    values = {key: value for key, value in _plain(document).items() if key != SCHEMA_KEY}
    try:
        return GptOssConfig.model_validate(values)
    except pydantic.ValidationError:
        return None


def _update_document(document: CommentedMap, config: GptOssConfig) -> None:
    """Edit a round-trip YAML document in place until it reads back as `config`."""
    expected = _ossgen_mapping(config)

    # First the keys that the document has: a key stays as written when its value
    # already reads as the expected one, such as 1.0e-5 for 1e-05 or a YaRN mapping
    # that leaves out default keys.
    current = _validate_document(document)
    for name, value in expected.items():
        if name not in document:
            continue
        if current is not None:
            if getattr(current, name) == getattr(config, name):
                continue
        elif _plain(document[name]) == value:
            continue
        existing = document[name]
        if name == "rope_scaling" and isinstance(existing, CommentedMap) and isinstance(value, dict):
            _update_rope_scaling(existing, value, type(config.rope_scaling))
        else:
            document[name] = _to_yaml_node(value)

    # Then the missing keys, once the keys present have their final values: a missing
    # key stays missing when its default, such as the layer_types pattern derived from
    # num_hidden_layers, is already the expected value.
    current = _validate_document(document)
    for name, value in expected.items():
        if name in document:
            continue
        if current is not None and getattr(current, name) == getattr(config, name):
            continue
        document[name] = _to_yaml_node(value)


def _update_rope_scaling(node: CommentedMap, expected: dict[str, Any], model: type[pydantic.BaseModel]) -> None:
    """Edit a rope_scaling mapping in place, keeping its comments and unchanged keys."""
    for key in list(node):
        if key not in expected:
            # Also drops the legacy "type" key, as rope_type is set below.
            del node[key]
    for key, value in expected.items():
        if key in node:
            if _plain(node[key]) != value:
                node[key] = value
        elif key == "rope_type" or value != model.model_fields[key].default:
            node[key] = value
