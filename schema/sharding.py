"""Which mesh axis shards which dimension of every GPT-OSS parameter.

This table is the single source of the partition rules that `codegen` emits and
of the mesh checks in `check_mesh`. Parameter paths are the Flax NNX paths of the
generated model, joined with "/" (for example `model/layers/3/self_attn/q_proj/kernel`).

Layout choices:
- embeddings, q/k/v and `lm_head` are column-wise: their output features split on `tp`;
- `o_proj` is row-wise: its input features (the heads) split on `tp`;
- experts split on `ep` along the expert axis, their hidden layer on `tp`;
- the hidden size splits on `fsdp`; norms, the router and row biases are replicated.
Key/value heads split on `tp` when `tp` divides them. With fewer key/value heads
than `tp`, they are replicated across `tp`, which then must be a multiple of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ossgen.schema.divisors import format_divisors
from ossgen.schema.errors import Issue
from ossgen.schema.mesh import MeshConfig

if TYPE_CHECKING:
    from ossgen.schema.config import GptOssConfig

# A per-layer path segment in the rules: any layer index.
LAYER = r"\d+"


@dataclass(frozen=True)
class Dimension:
    """One axis of a parameter: the config field that sets its size, and the mesh axis that shards it.

    The size is `getattr(config, field) * multiplier`; divisibility is checked on the
    field alone, so a sharded head axis always keeps whole heads together.
    """

    field: str
    mesh_axis: str | None
    multiplier_field: str | None = None
    factor: int = 1

    def size(self, config: GptOssConfig) -> int:
        size = int(getattr(config, self.field)) * self.factor
        if self.multiplier_field is not None:
            size *= int(getattr(config, self.multiplier_field))
        return size


@dataclass(frozen=True)
class ParameterRule:
    """An anchored regex over NNX parameter paths and the dimensions of the parameters it matches."""

    pattern: str
    dimensions: tuple[Dimension, ...]
    dtype: str

    def shape(self, config: GptOssConfig) -> tuple[int, ...]:
        return tuple(dimension.size(config) for dimension in self.dimensions)

    def spec(self) -> tuple[str | None, ...]:
        """Return the mesh axis of each dimension, as `PartitionSpec` takes them."""
        return tuple(dimension.mesh_axis for dimension in self.dimensions)


def kv_heads_axis(config: GptOssConfig, mesh: MeshConfig) -> str | None:
    """Return `tp` when key/value heads can split on it, None when they are replicated across it."""
    tp = mesh.size("tp")
    if tp == -1 or config.num_key_value_heads % tp == 0:
        return "tp"
    return None


def parameter_rules(config: GptOssConfig, mesh: MeshConfig) -> tuple[ParameterRule, ...]:
    """Return the ordered rule table for a config and mesh; the first matching rule wins."""
    dtype = config.dtype
    hidden_fsdp = Dimension("hidden_size", "fsdp")
    hidden_replicated = Dimension("hidden_size", None)
    q_features = Dimension("num_attention_heads", "tp", multiplier_field="head_dim")
    kv_features = Dimension("num_key_value_heads", kv_heads_axis(config, mesh), multiplier_field="head_dim")
    experts = Dimension("num_local_experts", "ep")
    layer = f"model/layers/{LAYER}"

    rules = (
        ParameterRule(
            "^model/embed_tokens/embedding$",
            (Dimension("vocab_size", "fsdp"), Dimension("hidden_size", "tp")),
            dtype,
        ),
        ParameterRule(f"^{layer}/(input_layernorm|post_attention_layernorm)/scale$", (hidden_replicated,), "float32"),
        ParameterRule(f"^{layer}/self_attn/q_proj/kernel$", (hidden_fsdp, q_features), dtype),
        ParameterRule(f"^{layer}/self_attn/q_proj/bias$", (q_features,), dtype),
        ParameterRule(f"^{layer}/self_attn/(k_proj|v_proj)/kernel$", (hidden_fsdp, kv_features), dtype),
        ParameterRule(f"^{layer}/self_attn/(k_proj|v_proj)/bias$", (kv_features,), dtype),
        ParameterRule(f"^{layer}/self_attn/o_proj/kernel$", (q_features, hidden_fsdp), dtype),
        ParameterRule(f"^{layer}/self_attn/o_proj/bias$", (hidden_replicated,), dtype),
        ParameterRule(f"^{layer}/self_attn/sinks$", (Dimension("num_attention_heads", "tp"),), dtype),
        ParameterRule(
            f"^{layer}/mlp/router/kernel$",
            (hidden_replicated, Dimension("num_local_experts", None)),
            dtype,
        ),
        ParameterRule(f"^{layer}/mlp/router/bias$", (Dimension("num_local_experts", None),), dtype),
        ParameterRule(
            f"^{layer}/mlp/experts/gate_up_proj$",
            (experts, hidden_fsdp, Dimension("intermediate_size", "tp", factor=2)),
            dtype,
        ),
        ParameterRule(
            f"^{layer}/mlp/experts/gate_up_proj_bias$",
            (experts, Dimension("intermediate_size", "tp", factor=2)),
            dtype,
        ),
        ParameterRule(
            f"^{layer}/mlp/experts/down_proj$",
            (experts, Dimension("intermediate_size", "tp"), hidden_fsdp),
            dtype,
        ),
        ParameterRule(f"^{layer}/mlp/experts/down_proj_bias$", (experts, hidden_replicated), dtype),
        ParameterRule("^model/norm/scale$", (hidden_replicated,), "float32"),
    )
    if config.tie_word_embeddings:
        # The head reuses the embedding matrix, so it has no parameter of its own.
        return rules
    return (*rules, ParameterRule("^lm_head/kernel$", (hidden_fsdp, Dimension("vocab_size", "tp")), dtype))


def partition_rules(config: GptOssConfig, mesh: MeshConfig) -> list[tuple[str, Any]]:
    """Return the `(regex, jax.sharding.PartitionSpec)` pairs for a config and mesh, in match order.

    Raises:
      ValueError: the config does not shard on the mesh; the message lists every
        problem `check_mesh` finds.
    """
    issues = check_mesh(config, mesh)
    if issues:
        raise ValueError("; ".join(f"{issue.message} ({issue.hint})" for issue in issues))
    from jax.sharding import PartitionSpec  # jax is needed only for this return type

    return [(rule.pattern, PartitionSpec(*rule.spec())) for rule in parameter_rules(config, mesh)]


def check_mesh(config: GptOssConfig, mesh: MeshConfig) -> list[Issue]:
    """Return every error that stops `config` from sharding on `mesh`, one per (field, axis) pair.

    Each issue's `field` is the config field and its `key` the mesh axis; neither
    carries a file position, which the caller adds. A -1 axis is resolved with the
    mesh's `num_devices` when given, and is not checked otherwise.
    """
    if not mesh.is_resolved and mesh.num_devices is not None:
        mesh = mesh.resolve()
    issues: list[Issue] = []
    seen: set[tuple[str, str]] = set()

    tp = mesh.size("tp")
    if tp != -1 and config.num_key_value_heads % tp != 0 and tp % config.num_key_value_heads != 0:
        seen.add(("num_key_value_heads", "tp"))
        issues.append(
            Issue(
                file=None,
                line=None,
                column=None,
                field="num_key_value_heads",
                key="tp",
                code="mesh",
                message=(
                    f"num_key_value_heads={config.num_key_value_heads} does not fit mesh axis 'tp'={tp}: "
                    "key/value heads split on 'tp' when 'tp' divides them, and are replicated across "
                    "'tp' when 'tp' is a multiple of them; neither holds"
                ),
                hint=(
                    f"choose a size for mesh axis 'tp' that divides {config.num_key_value_heads} "
                    f"({format_divisors(config.num_key_value_heads)}) "
                    f"or a multiple of it that divides num_attention_heads={config.num_attention_heads}"
                ),
            )
        )

    for rule in parameter_rules(config, mesh):
        for dimension in rule.dimensions:
            if dimension.mesh_axis is None:
                continue
            axis_size = mesh.size(dimension.mesh_axis)
            if axis_size == -1 or (dimension.field, dimension.mesh_axis) in seen:
                continue
            value = int(getattr(config, dimension.field))
            if value % axis_size == 0:
                continue
            seen.add((dimension.field, dimension.mesh_axis))
            issues.append(
                Issue(
                    file=None,
                    line=None,
                    column=None,
                    field=dimension.field,
                    key=dimension.mesh_axis,
                    code="mesh",
                    message=(
                        f"{dimension.field}={value} is not divisible by mesh axis "
                        f"'{dimension.mesh_axis}'={axis_size}, which shards it "
                        f"(parameter {rule.pattern.strip('^$').replace(LAYER, 'N')})"
                    ),
                    hint=(
                        f"choose a size for mesh axis '{dimension.mesh_axis}' that divides {value} "
                        f"({format_divisors(value)})"
                    ),
                )
            )
    return issues


def per_device_parameter_bytes(config: GptOssConfig, mesh: MeshConfig) -> int:
    """Return the parameter bytes stored on one device under the rules, from shapes alone.

    Assumes every sharded dimension divides evenly (`check_mesh` passes) and an
    unresolved -1 axis counts as size 1.
    """
    layer_count = config.num_hidden_layers
    total = 0
    for rule in parameter_rules(config, mesh):
        shard_elements = 1
        for dimension in rule.dimensions:
            size = dimension.size(config)
            if dimension.mesh_axis is not None:
                size //= max(mesh.size(dimension.mesh_axis), 1)
            shard_elements *= size
        copies = _parameters_per_rule(rule) * (layer_count if LAYER in rule.pattern else 1)
        total += copies * shard_elements * _dtype_bytes(rule.dtype)
    return total


def parameter_count(config: GptOssConfig, mesh: MeshConfig | None = None) -> int:
    """Return the number of parameter elements the rules describe."""
    mesh = mesh or MeshConfig()
    layer_count = config.num_hidden_layers
    total = 0
    for rule in parameter_rules(config, mesh):
        copies = _parameters_per_rule(rule) * (layer_count if LAYER in rule.pattern else 1)
        total += copies * math.prod(rule.shape(config))
    return total


def _parameters_per_rule(rule: ParameterRule) -> int:
    """Return how many parameters of one layer a rule matches: one per alternative in its group."""
    if "(" not in rule.pattern:
        return 1
    group = rule.pattern[rule.pattern.index("(") + 1 : rule.pattern.index(")")]
    return group.count("|") + 1


def _dtype_bytes(dtype: str) -> int:
    return {"float32": 4, "bfloat16": 2, "float16": 2}[dtype]
