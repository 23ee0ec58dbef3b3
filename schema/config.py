"""The validated GPT-OSS model configuration that code generation consumes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictFloat,
    field_validator,
    model_validator,
)

from ossgen.schema.divisors import format_divisors
from ossgen.schema.errors import Issue, Violation, violations_error
from ossgen.schema.rope import (
    RopeScaling,
    YarnRopeScaling,
    rename_legacy_type_key,
    rope_scaling_violations,
    rope_scaling_warnings,
)

LayerType = Literal["sliding_attention", "full_attention"]

# Integer fields accept only integers: pydantic's lax mode would also take true, "24" and 24.0.
StrictPositiveInt = Annotated[int, Strict(), Field(gt=0)]
StrictNonNegativeInt = Annotated[int, Strict(), Field(ge=0)]

# Upper bound of num_hidden_layers, far above any published model (GPT-OSS has 24 or 36
# layers). Validation builds one layer_types entry per layer, and the generated model one
# module per layer, so an absurd count would exhaust memory instead of failing.
MAX_HIDDEN_LAYERS = 65536

DEFAULT_LAYER_PATTERN_TEXT = (
    "alternating ['sliding_attention', 'full_attention', ...] starting with 'sliding_attention'"
)


def default_layer_types(num_hidden_layers: int) -> list[LayerType]:
    """Return the GPT-OSS layer pattern: sliding-window attention on even layers, full attention on odd ones."""
    return ["sliding_attention" if index % 2 == 0 else "full_attention" for index in range(num_hidden_layers)]


class GptOssConfig(BaseModel):
    """Architecture of a GPT-OSS mixture-of-experts decoder.

    Field names follow the Hugging Face `config.json`, except that `mlp_activations_limit`
    is Hugging Face's `swiglu_limit`. The defaults describe openai/gpt-oss-120b, but the
    token ids default to None. `dtype` selects the parameter and compute dtype of the
    generated model.
    """

    model_config = ConfigDict(extra="forbid")

    num_hidden_layers: StrictPositiveInt = Field(
        36,
        le=MAX_HIDDEN_LAYERS,
        description=(
            f"Number of decoder layers, at most {MAX_HIDDEN_LAYERS}. The bound is far above any published "
            "model and keeps validation and generation, which handle each layer, from exhausting memory."
        ),
    )
    num_local_experts: StrictPositiveInt = Field(128, description="Number of experts in each mixture-of-experts layer.")
    vocab_size: StrictPositiveInt = Field(201088, description="Number of tokens in the vocabulary.")
    hidden_size: StrictPositiveInt = Field(2880, description="Width of the residual stream.")
    intermediate_size: StrictPositiveInt = Field(2880, description="Hidden width of each expert's feed-forward network.")
    head_dim: StrictPositiveInt = Field(
        64,
        description="Width of one attention head. num_attention_heads * head_dim need not equal hidden_size.",
    )
    num_attention_heads: StrictPositiveInt = Field(64, description="Number of query heads.")
    num_key_value_heads: StrictPositiveInt = Field(
        8, description="Number of key/value heads, each serving num_attention_heads / num_key_value_heads query heads."
    )
    sliding_window: StrictPositiveInt = Field(
        128, description="Number of keys, including the query's own position, that a sliding-attention layer sees."
    )
    rope_theta: StrictFloat = Field(
        150000.0, gt=0, allow_inf_nan=False, description="Base of the rotary embedding frequencies."
    )
    tie_word_embeddings: StrictBool = Field(
        False, description="Share the token embedding matrix with the output projection (lm_head)."
    )
    hidden_act: Literal["silu"] = Field(
        "silu",
        description="Activation name as stored in the published configs. The experts use the clamped SwiGLU regardless.",
    )
    initializer_range: StrictFloat = Field(
        0.02, gt=0, allow_inf_nan=False, description="Standard deviation of the normal weight initializer."
    )
    max_position_embeddings: StrictPositiveInt = Field(131072, description="Maximum sequence length in tokens.")
    rms_norm_eps: StrictFloat = Field(
        1e-5, gt=0, allow_inf_nan=False, description="Epsilon added to the mean square in RMSNorm."
    )
    rope_scaling: RopeScaling | None = Field(
        default_factory=YarnRopeScaling,
        description="Rotary embedding scaling. Null or rope_type 'default' means plain RoPE.",
    )
    attention_dropout: StrictFloat = Field(
        0.0, ge=0, lt=1, allow_inf_nan=False, description="Dropout probability on the attention weights."
    )
    num_experts_per_tok: StrictPositiveInt = Field(4, description="Number of experts that each token is routed to (top-k).")
    router_aux_loss_coef: StrictFloat = Field(
        0.9, ge=0, allow_inf_nan=False, description="Weight of the load-balancing auxiliary loss in the total loss."
    )
    output_router_logits: StrictBool = Field(
        False, description="Return the router logits and add the auxiliary loss to the model output."
    )
    use_cache: StrictBool = Field(True, description="Keep a key/value cache during generation.")
    layer_types: list[LayerType] | None = Field(
        None,
        description=(
            "Attention kind of each layer, one entry per layer. Null means "
            + DEFAULT_LAYER_PATTERN_TEXT
            + "."
        ),
    )
    mlp_activations_limit: StrictFloat = Field(
        7.0,
        gt=0,
        allow_inf_nan=False,
        description="Clamp of the expert SwiGLU: gate at most this value, up within plus or minus it (swiglu_limit).",
    )
    swiglu_alpha: StrictFloat = Field(
        1.702, gt=0, allow_inf_nan=False, description="Gain inside the sigmoid of the expert SwiGLU."
    )
    model_type: Literal["gpt_oss"] = Field("gpt_oss", description="Model family, always 'gpt_oss'.")
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "bfloat16", description="Parameter and compute dtype of the generated model."
    )
    pad_token_id: StrictNonNegativeInt | None = Field(None, description="Token id used for padding.")
    bos_token_id: StrictNonNegativeInt | None = Field(None, description="Token id that starts a sequence.")
    eos_token_id: StrictNonNegativeInt | list[StrictNonNegativeInt] | None = Field(
        None, description="Token id, or list of ids, that ends generation."
    )

    @field_validator("rope_scaling", mode="before")
    @classmethod
    def _rename_legacy_rope_type(cls, value: Any) -> Any:
        return rename_legacy_type_key(value)

    @field_validator("head_dim")
    @classmethod
    def _check_head_dim_even(cls, value: int) -> int:
        if value % 2 != 0:
            raise ValueError(
                f"head_dim = {value} must be even, because the rotary embedding rotates the two halves "
                f"of each head against each other. Use an even value such as {value + 1}"
            )
        return value

    @model_validator(mode="after")
    def _check_cross_field_rules(self) -> GptOssConfig:
        violations = self._layer_types_violations()
        violations += self._attention_violations()
        violations += self._token_id_violations()
        violations += rope_scaling_violations(self.rope_scaling, self.max_position_embeddings)

        if self.num_experts_per_tok > self.num_local_experts:
            violations.append(
                Violation(
                    field="num_experts_per_tok",
                    message=(
                        f"num_experts_per_tok = {self.num_experts_per_tok} exceeds num_local_experts = "
                        f"{self.num_local_experts}, but each token is routed to that many distinct experts"
                    ),
                    hint=f"set num_experts_per_tok to at most {self.num_local_experts} or raise num_local_experts",
                )
            )

        if violations:
            raise violations_error(violations)
        if self.layer_types is None:
            self.layer_types = default_layer_types(self.num_hidden_layers)
        return self

    def _layer_types_violations(self) -> list[Violation]:
        if self.layer_types is None or len(self.layer_types) == self.num_hidden_layers:
            return []
        return [
            Violation(
                field="layer_types",
                message=(
                    f"expected {self.num_hidden_layers} entries, got {len(self.layer_types)}. "
                    f"The list needs one entry per layer (num_hidden_layers = {self.num_hidden_layers}), "
                    f"and the default is {DEFAULT_LAYER_PATTERN_TEXT}"
                ),
                hint="give one entry per layer, or remove layer_types to use the default pattern",
            )
        ]

    def _attention_violations(self) -> list[Violation]:
        violations = []
        if self.num_attention_heads % self.num_key_value_heads != 0:
            divisors = format_divisors(self.num_attention_heads, max_count=None)
            violations.append(
                Violation(
                    field="num_key_value_heads",
                    message=(
                        f"num_attention_heads = {self.num_attention_heads} is not divisible by "
                        f"num_key_value_heads = {self.num_key_value_heads}, but grouped-query attention "
                        "gives every key/value head the same number of query heads"
                    ),
                    hint=f"choose num_key_value_heads among the divisors of {self.num_attention_heads}: {divisors}",
                )
            )
        if self.sliding_window >= self.max_position_embeddings:
            violations.append(
                Violation(
                    field="sliding_window",
                    message=(
                        f"sliding_window = {self.sliding_window} must be less than max_position_embeddings = "
                        f"{self.max_position_embeddings}, because a window that covers the whole context "
                        "makes sliding attention the same as full attention"
                    ),
                    hint=(
                        f"lower sliding_window below {self.max_position_embeddings}, or set every entry of "
                        "layer_types to 'full_attention'"
                    ),
                )
            )
        return violations

    def _token_id_violations(self) -> list[Violation]:
        token_ids: list[tuple[str, int]] = []
        for name in ("pad_token_id", "bos_token_id"):
            value = getattr(self, name)
            if value is not None:
                token_ids.append((name, value))
        if isinstance(self.eos_token_id, list):
            token_ids.extend((f"eos_token_id.{index}", value) for index, value in enumerate(self.eos_token_id))
        elif self.eos_token_id is not None:
            token_ids.append(("eos_token_id", self.eos_token_id))

        return [
            Violation(
                field=name,
                message=f"{name} = {value} is outside the vocabulary (vocab_size = {self.vocab_size})",
                hint=f"use a token id below {self.vocab_size}, or raise vocab_size",
            )
            for name, value in token_ids
            if value >= self.vocab_size
        ]

    @property
    def num_key_value_groups(self) -> int:
        """Number of query heads that share one key/value head."""
        return self.num_attention_heads // self.num_key_value_heads

    def validation_warnings(self) -> list[Issue]:
        """Return the problems that do not make the configuration invalid, without file positions."""
        return rope_scaling_warnings(self.rope_scaling, self.max_position_embeddings)

    def get_partition_rules(self, mesh: Any) -> Any:
        """Return the sharding rules of this model on `mesh`, as defined in `ossgen.schema.sharding`."""
        from ossgen.schema.sharding import partition_rules

        return partition_rules(self, mesh)
