"""Inventory of what a generated package holds: config fields and parameters.

Both lists come from the validated config; the templates only lay them out.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from ossgen.schema.config import GptOssConfig
from ossgen.schema.mesh import MeshConfig
from ossgen.schema.rope import YarnRopeScaling
from ossgen.schema.sharding import LAYER, parameter_rules

# Fields of the emitted config dataclass, in order, with their Python annotations.
# `model_type` is left out because it never varies.
EMITTED_FIELDS: tuple[tuple[str, str], ...] = (
    ("num_hidden_layers", "int"),
    ("num_local_experts", "int"),
    ("vocab_size", "int"),
    ("hidden_size", "int"),
    ("intermediate_size", "int"),
    ("head_dim", "int"),
    ("num_attention_heads", "int"),
    ("num_key_value_heads", "int"),
    ("sliding_window", "int"),
    ("rope_theta", "float"),
    ("tie_word_embeddings", "bool"),
    ("hidden_act", "str"),
    ("initializer_range", "float"),
    ("max_position_embeddings", "int"),
    ("rms_norm_eps", "float"),
    ("rope_scaling", "YarnRopeScaling | None"),
    ("attention_dropout", "float"),
    ("num_experts_per_tok", "int"),
    ("router_aux_loss_coef", "float"),
    ("output_router_logits", "bool"),
    ("use_cache", "bool"),
    ("layer_types", "tuple[LayerType, ...]"),
    ("mlp_activations_limit", "float"),
    ("swiglu_alpha", "float"),
    ("dtype", 'Literal["float32", "bfloat16", "float16"]'),
    ("pad_token_id", "int | None"),
    ("bos_token_id", "int | None"),
    ("eos_token_id", "int | tuple[int, ...] | None"),
)


@dataclass(frozen=True)
class EmittedField:
    """One field of the emitted config dataclass: name, annotation and default as Python source."""

    name: str
    annotation: str
    default: str


@dataclass(frozen=True)
class Parameter:
    """One concrete parameter of the generated model."""

    path: str
    shape: tuple[int, ...]
    dtype: str
    spec: tuple[str | None, ...]

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def python_literal(value: object) -> str:
    """Return Python source for a config value.

    Strings get double quotes, lists become tuples, and dicts keep their order.
    """
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        items = ", ".join(python_literal(item) for item in value)
        return f"({items},)" if len(value) == 1 else f"({items})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{python_literal(key)}: {python_literal(item)}" for key, item in value.items()) + "}"
    return repr(value)


def emitted_fields(config: GptOssConfig) -> list[EmittedField]:
    """Return the emitted config fields with the validated values as defaults."""
    fields = []
    for name, annotation in EMITTED_FIELDS:
        value = getattr(config, name)
        if name == "rope_scaling":
            default = "YarnRopeScaling()" if isinstance(value, YarnRopeScaling) else "None"
        elif name == "layer_types":
            default = _repeated_tuple_literal(list(value))
        elif name in ("rope_theta", "initializer_range", "rms_norm_eps", "attention_dropout",
                      "router_aux_loss_coef", "mlp_activations_limit", "swiglu_alpha"):
            default = python_literal(float(value))
        else:
            default = python_literal(value)
        fields.append(EmittedField(name, annotation, default))
    return fields


def _repeated_tuple_literal(items: list[object]) -> str:
    """Write a list as a tuple literal, folded to `(pattern) * n` when it repeats a shorter pattern."""
    for period in range(1, len(items) // 2 + 1):
        if len(items) % period == 0 and items == items[:period] * (len(items) // period):
            return f"{python_literal(items[:period])} * {len(items) // period}"
    return python_literal(items)


def yarn_defaults(config: GptOssConfig) -> YarnRopeScaling:
    """Return the YaRN settings the emitted `YarnRopeScaling` defaults to.

    A config without YaRN still gets the class, with the GPT-OSS settings as defaults.
    """
    if isinstance(config.rope_scaling, YarnRopeScaling):
        return config.rope_scaling
    return YarnRopeScaling()


def expand_parameters(config: GptOssConfig, mesh: MeshConfig | None = None) -> list[Parameter]:
    """List every parameter of the generated model with its shape, dtype and mesh axes.

    Paths follow the rules' patterns with the layer index and alternatives filled in.
    """
    mesh = mesh or MeshConfig()
    parameters = []
    for rule in parameter_rules(config, mesh):
        body = rule.pattern.strip("^$")
        alternatives = re.search(r"\(([^)]*)\)", body)
        names = alternatives.group(1).split("|") if alternatives else [None]
        layers = range(config.num_hidden_layers) if LAYER in body else [None]
        for layer in layers:
            for name in names:
                path = body
                if layer is not None:
                    path = path.replace(LAYER, str(layer), 1)
                if name is not None:
                    path = path.replace(alternatives.group(0), name, 1)
                parameters.append(Parameter(path, rule.shape(config), rule.dtype, rule.spec()))
    return sorted(parameters, key=lambda parameter: _natural_key(parameter.path))


def _natural_key(path: str) -> list[object]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]
