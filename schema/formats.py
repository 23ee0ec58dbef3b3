"""Key names of the configuration formats that ossgen reads, and their mapping to ossgen's fields.

Three formats describe a GPT-OSS model:

- ossgen's own YAML or JSON, whose keys are the fields of `GptOssConfig`,
- the Hugging Face ``config.json`` read by ``transformers.GptOssConfig``, including the
  transformers 5.x ``rope_parameters`` key,
- OpenAI's ``original/config.json`` read by the ``gpt_oss`` reference package.

The tables are plain data so that a converter can also use them from ossgen's fields
back to a format's keys. The mapping functions also record which source key set
each field, so that errors can point at the key the user wrote.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ossgen.schema.config import GptOssConfig
from ossgen.schema.errors import FieldPath, Issue, dotted, render_key, render_value, suggest_key
from ossgen.schema.mesh import MESH_AXIS_NAMES
from ossgen.schema.rope import YarnRopeScaling, scaled_context_length

SourceFormat = Literal["ossgen-yaml", "ossgen-json", "hf", "openai"]

FORMAT_LABELS: dict[str, str] = {
    "ossgen-yaml": "ossgen YAML",
    "ossgen-json": "ossgen JSON",
    "hf": "Hugging Face config.json",
    "openai": "OpenAI original/config.json",
}

# Keys of mesh files, which users sometimes put into a config file.
MESH_KEYS: tuple[str, ...] = (*MESH_AXIS_NAMES, "num_devices")

# Top-level key that editors use to associate a JSON Schema. ossgen ignores it.
SCHEMA_KEY = "$schema"

# Hugging Face keys whose ossgen field has another name. Several keys may set the same
# field (the published files carry both experts_per_token and num_experts_per_tok).
HF_RENAMED_KEYS: dict[str, str] = {
    "swiglu_limit": "mlp_activations_limit",
    "experts_per_token": "num_experts_per_tok",
    "num_experts": "num_local_experts",
    "torch_dtype": "dtype",
}

# The Hugging Face key that a converter writes for each renamed ossgen field.
HF_KEY_FOR_FIELD: dict[str, str] = {"mlp_activations_limit": "swiglu_limit"}

# Hugging Face keys spelled exactly like the ossgen field.
HF_SHARED_KEYS: tuple[str, ...] = tuple(name for name in GptOssConfig.model_fields if name not in HF_KEY_FOR_FIELD)

# transformers 5.x key that contains rope_theta together with the rope scaling settings.
HF_ROPE_PARAMETERS_KEY = "rope_parameters"

# Hugging Face keys that ossgen accepts but does not use. The mapping still checks that
# attention_bias is true and that initial_context_length matches the YaRN original context.
HF_IGNORED_KEYS: tuple[str, ...] = (
    "architectures",
    "transformers_version",
    "quantization_config",
    "attention_bias",
    "initial_context_length",
    "_name_or_path",
    "auto_map",
)

# OpenAI original/config.json keys and the ossgen field path each one sets.
OPENAI_KEYS: dict[str, FieldPath] = {
    "num_hidden_layers": ("num_hidden_layers",),
    "num_experts": ("num_local_experts",),
    "experts_per_token": ("num_experts_per_tok",),
    "vocab_size": ("vocab_size",),
    "hidden_size": ("hidden_size",),
    "intermediate_size": ("intermediate_size",),
    "swiglu_limit": ("mlp_activations_limit",),
    "head_dim": ("head_dim",),
    "num_attention_heads": ("num_attention_heads",),
    "num_key_value_heads": ("num_key_value_heads",),
    "sliding_window": ("sliding_window",),
    "initial_context_length": ("rope_scaling", "original_max_position_embeddings"),
    "rope_theta": ("rope_theta",),
    "rope_scaling_factor": ("rope_scaling", "factor"),
    "rope_ntk_alpha": ("rope_scaling", "beta_slow"),
    "rope_ntk_beta": ("rope_scaling", "beta_fast"),
}

# JSON keys that identify a format when a file does not say which one it is.
OPENAI_MARKER_KEYS: tuple[str, ...] = ("num_experts", "rope_scaling_factor", "rope_ntk_alpha")
HF_MARKER_KEYS: tuple[str, ...] = ("architectures", "transformers_version", "swiglu_limit", HF_ROPE_PARAMETERS_KEY)


def hf_key(field_name: str) -> str:
    """Return the Hugging Face key for a top-level ossgen field."""
    return HF_KEY_FOR_FIELD.get(field_name, field_name)


def openai_key(path: FieldPath) -> str | None:
    """Return the OpenAI key for an ossgen field path, or None when that format has no such key."""
    for key, target in OPENAI_KEYS.items():
        if target == tuple(path):
            return key
    return None


def accepted_keys(source_format: SourceFormat) -> tuple[str, ...]:
    """Return the top-level keys that a file of this format may contain."""
    if source_format == "hf":
        return HF_SHARED_KEYS + tuple(HF_RENAMED_KEYS) + (HF_ROPE_PARAMETERS_KEY,) + HF_IGNORED_KEYS
    if source_format == "openai":
        return tuple(OPENAI_KEYS)
    return tuple(GptOssConfig.model_fields) + (SCHEMA_KEY,)


def detect_json_format(data: Mapping[str, Any]) -> SourceFormat:
    """Guess the format of a JSON configuration from its keys.

    OpenAI's files have no model_type. Hugging Face files have model_type or one of
    its own keys, but ossgen's JSON may contain model_type too, so a file with
    mlp_activations_limit and no Hugging Face-only key counts as ossgen's.
    """
    if "model_type" not in data and any(key in data for key in OPENAI_MARKER_KEYS):
        return "openai"
    if any(key in data for key in HF_MARKER_KEYS):
        return "hf"
    if "mlp_activations_limit" in data:
        return "ossgen-json"
    if "model_type" in data:
        return "hf"
    return "ossgen-json"


def _field_for_key(key: str) -> str:
    """Return the ossgen field, as a dotted path, that a key of any known format sets."""
    if key in HF_RENAMED_KEYS:
        return HF_RENAMED_KEYS[key]
    if key in OPENAI_KEYS:
        return dotted(OPENAI_KEYS[key])
    return key


def _key_in_format(field_path: str, source_format: SourceFormat) -> str | None:
    if source_format == "hf":
        return hf_key(field_path) if "." not in field_path else None
    if source_format == "openai":
        return openai_key(tuple(field_path.split(".")))
    return field_path


def unknown_key_hint(key: str, source_format: SourceFormat) -> str | None:
    """Suggest the intended key for an unknown key, looking also at the other formats' names."""
    if key in MESH_KEYS:
        return f"'{key}' belongs in a mesh file: pass mesh sizes with --mesh FILE or --mesh {key}=N"
    accepted = accepted_keys(source_format)
    other_names = set(GptOssConfig.model_fields) | set(HF_RENAMED_KEYS) | set(OPENAI_KEYS)
    match = suggest_key(key, set(accepted) | other_names)
    if match is None:
        return None
    if match in accepted:
        return f"did you mean '{match}'?"

    field_path = _field_for_key(match)
    format_key = _key_in_format(field_path, source_format)
    label = FORMAT_LABELS[source_format]
    if format_key is None:
        return f"ossgen's '{field_path}' cannot be set in {label} files"
    if format_key != field_path:
        return f"did you mean '{format_key}'? It is the {label} name of ossgen's '{field_path}'"
    return f"did you mean '{format_key}'?"


@dataclass(frozen=True)
class MappingIssue:
    """A problem found while mapping keys, with the source key path that locates it."""

    source_path: tuple[str | int, ...]
    issue: Issue


@dataclass
class MappedConfig:
    """Input for `GptOssConfig` built from one file, and where each value came from."""

    source_format: SourceFormat
    values: dict[str, Any] = field(default_factory=dict)
    # Field path -> source key path. A path below a listed field maps below its key.
    origins: dict[FieldPath, tuple[str | int, ...]] = field(default_factory=dict)
    ignored_keys: list[str] = field(default_factory=list)
    issues: list[MappingIssue] = field(default_factory=list)

    def set(self, target: FieldPath, value: Any, source: tuple[str | int, ...]) -> None:
        """Set a field from a source key, reporting a conflict when another key set it differently."""
        if target in self.origins and self.origins[target] != source:
            previous = self._get(target)
            if previous != value:
                first_key = dotted(self.origins[target])
                self.add_issue(
                    source,
                    field_name=dotted(target),
                    code="conflict",
                    message=(
                        f"{dotted(source)} = {render_value(value)} disagrees with {first_key} = "
                        f"{render_value(previous)}, but both set {dotted(target)}"
                    ),
                    hint="remove one of the two keys or give them the same value",
                )
            return

        container = self.values
        for part in target[:-1]:
            container = container.setdefault(part, {})
        container[target[-1]] = value
        self.origins[target] = source

    def _get(self, target: FieldPath) -> Any:
        value: Any = self.values
        for part in target:
            value = value[part]
        return value

    def add_issue(
        self,
        source: tuple[str | int, ...],
        *,
        field_name: str,
        code: str,
        message: str,
        hint: str | None = None,
    ) -> None:
        """Record an error at a source key. The loader fills in its position."""
        issue = Issue(
            file=None,
            line=None,
            column=None,
            field=field_name,
            key=dotted(source),
            code=code,
            message=message,
            hint=hint,
        )
        self.issues.append(MappingIssue(source_path=source, issue=issue))

    def reject_unknown_key(self, key: Any) -> None:
        name = render_key(key)
        self.add_issue(
            (name,),
            field_name=name,
            code="unknown_key",
            message=f"unknown key for the {FORMAT_LABELS[self.source_format]} format",
            hint=unknown_key_hint(name, self.source_format),
        )


def map_ossgen(data: Mapping[Any, Any], source_format: SourceFormat = "ossgen-yaml") -> MappedConfig:
    """Map ossgen's own format, whose keys are the field names, skipping a `$schema` key."""
    mapped = MappedConfig(source_format=source_format)
    for key, value in data.items():
        if key == SCHEMA_KEY:
            mapped.ignored_keys.append(key)
        elif key in GptOssConfig.model_fields:
            mapped.set((key,), value, (key,))
        else:
            mapped.reject_unknown_key(key)
    return mapped


# Keys of a rope scaling mapping that only YaRN has.
_YARN_SETTING_KEYS = frozenset(name for name in YarnRopeScaling.model_fields if name != "rope_type")


def _map_hf_rope(mapped: MappedConfig, key: str, value: Any) -> None:
    """Split a Hugging Face rope_scaling or rope_parameters value into rope_theta and rope_scaling."""
    # transformers treats a null value like a missing key and uses its YaRN default.
    if value is None:
        return
    if not isinstance(value, Mapping):
        mapped.set(("rope_scaling",), value, (key,))
        return

    scaling = dict(value)
    if "rope_theta" in scaling:
        mapped.set(("rope_theta",), scaling.pop("rope_theta"), (key, "rope_theta"))
    if "rope_type" not in scaling and "type" not in scaling:
        yarn_keys = [name for name in scaling if name in _YARN_SETTING_KEYS]
        if yarn_keys:
            # One issue names the missing type, because validating against plain RoPE would
            # report every YaRN key as unknown.
            mapped.add_issue(
                (key,),
                field_name="rope_scaling.rope_type",
                code="missing",
                message=f"rope_type is missing, but {', '.join(yarn_keys)} are YaRN settings",
                hint=f'add "rope_type": "yarn" to {key}',
            )
            scaling["rope_type"] = "yarn"
        else:
            # transformers 5.x reads rope parameters without a type as plain RoPE.
            scaling["rope_type"] = "default"

    rope_type = scaling.get("rope_type", scaling.get("type"))
    if rope_type == "yarn" and "original_max_position_embeddings" not in scaling:
        mapped.add_issue(
            (key,),
            field_name="rope_scaling.original_max_position_embeddings",
            code="missing",
            message=(
                "YaRN scaling without original_max_position_embeddings is ambiguous: transformers "
                "then uses max_position_embeddings, while ossgen's default is 4096"
            ),
            hint="add original_max_position_embeddings (4096 for the published GPT-OSS models)",
        )
    mapped.set(("rope_scaling",), scaling, (key,))


def _check_hf_attention_bias(mapped: MappedConfig, value: Any) -> None:
    if value is True:
        return
    if value is False:
        message = (
            "attention_bias is false, but GPT-OSS attention projections always have biases "
            "and ossgen always generates them"
        )
        mapped.add_issue(
            ("attention_bias",),
            field_name="attention_bias",
            code="invalid_value",
            message=message,
            hint="set attention_bias to true or remove the key",
        )
        return
    mapped.add_issue(
        ("attention_bias",),
        field_name="attention_bias",
        code="type",
        message=f"attention_bias must be true (got {render_value(value)})",
        hint="set attention_bias to true or remove the key",
    )


def _check_hf_initial_context_length(mapped: MappedConfig, value: Any) -> None:
    """Require initial_context_length to match the YaRN original context length it duplicates."""
    scaling = mapped.values.get("rope_scaling", {"rope_type": "yarn"})
    if not isinstance(scaling, Mapping) or scaling.get("rope_type") != "yarn":
        return
    default_original = YarnRopeScaling.model_fields["original_max_position_embeddings"].default
    original = scaling.get("original_max_position_embeddings", default_original)
    if value != original:
        mapped.add_issue(
            ("initial_context_length",),
            field_name="rope_scaling.original_max_position_embeddings",
            code="conflict",
            message=(
                f"initial_context_length = {render_value(value)} differs from the YaRN "
                f"original_max_position_embeddings = {render_value(original)}, but both give the pretraining "
                "context length"
            ),
            hint="make the two values equal, or remove initial_context_length",
        )


def map_hf(data: Mapping[Any, Any]) -> MappedConfig:
    """Map a Hugging Face config.json, as written by transformers 4.x or 5.x."""
    mapped = MappedConfig(source_format="hf")
    for key, value in data.items():
        if key in ("rope_scaling", HF_ROPE_PARAMETERS_KEY):
            _map_hf_rope(mapped, key, value)
        elif key in ("dtype", "torch_dtype"):
            # transformers writes null when no dtype was chosen.
            if value is not None:
                mapped.set(("dtype",), value, (key,))
        elif key in HF_RENAMED_KEYS:
            mapped.set((HF_RENAMED_KEYS[key],), value, (key,))
        elif key in HF_SHARED_KEYS:
            mapped.set((key,), value, (key,))
        elif key in HF_IGNORED_KEYS:
            mapped.ignored_keys.append(key)
        else:
            mapped.reject_unknown_key(key)

    if "attention_bias" in data:
        _check_hf_attention_bias(mapped, data["attention_bias"])
    if "initial_context_length" in data:
        _check_hf_initial_context_length(mapped, data["initial_context_length"])
    return mapped


def _is_valid_context_length(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _is_valid_yarn_factor(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    # math.isfinite cannot convert an int beyond the float range, and every int is finite.
    return (isinstance(value, int) or math.isfinite(value)) and value >= 1


def map_openai(data: Mapping[Any, Any]) -> MappedConfig:
    """Map OpenAI's original/config.json.

    That format uses YaRN without truncation, or plain RoPE when rope_scaling_factor is 1,
    and has no max_position_embeddings, so the context length is
    initial_context_length * rope_scaling_factor.
    """
    mapped = MappedConfig(source_format="openai")
    for key, value in data.items():
        if key in OPENAI_KEYS:
            mapped.set(OPENAI_KEYS[key], value, (key,))
        else:
            mapped.reject_unknown_key(key)

    scaling = mapped.values.setdefault("rope_scaling", {})
    scaling["rope_type"] = "yarn"
    scaling["truncate"] = False

    yarn_fields = YarnRopeScaling.model_fields
    original = scaling.get("original_max_position_embeddings", yarn_fields["original_max_position_embeddings"].default)
    factor = scaling.get("factor", yarn_fields["factor"].default)
    # Invalid inputs are left to the field validation, which reports them at their keys.
    # Deriving a context length from them would add an error about a value the file
    # does not contain.
    if not (_is_valid_context_length(original) and _is_valid_yarn_factor(factor)):
        return mapped

    context_length = scaled_context_length(original, factor)
    if context_length is None:
        source = "rope_scaling_factor" if "rope_scaling_factor" in data else "initial_context_length"
        mapped.add_issue(
            (source,),
            field_name=dotted(OPENAI_KEYS[source]),
            code="invalid_value",
            message=(
                f"the context length initial_context_length * rope_scaling_factor = {render_value(original)} * "
                f"{render_value(factor)} is too large to be a number of tokens"
            ),
            hint="use the factor the model was trained with (32 for the published GPT-OSS models)",
        )
        return mapped

    mapped.values["max_position_embeddings"] = context_length
    if "initial_context_length" in data:
        mapped.origins[("max_position_embeddings",)] = ("initial_context_length",)
    # The gpt_oss reference applies YaRN only when rope_scaling_factor > 1, and ignores
    # rope_ntk_alpha and rope_ntk_beta otherwise, so a factor of 1 is plain RoPE.
    if factor == 1:
        mapped.values["rope_scaling"] = {"rope_type": "default"}
    return mapped


def map_to_fields(data: Mapping[Any, Any], source_format: SourceFormat) -> MappedConfig:
    """Map a parsed configuration of the given format to ossgen's field names."""
    if source_format == "hf":
        return map_hf(data)
    if source_format == "openai":
        return map_openai(data)
    return map_ossgen(data, source_format)
