"""Rotary position embedding scaling: plain RoPE or YaRN, distinguished by `rope_type`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, model_validator

from ossgen.schema.errors import Issue, Violation, render_value, violations_error


class YarnRopeScaling(BaseModel):
    """YaRN scaling of the rotary frequencies, which extends the trained context length.

    Dimensions rotating faster than `beta_fast` turns over the original context keep
    their frequency, dimensions slower than `beta_slow` turns are divided by `factor`,
    and a linear ramp blends the dimensions in between.
    """

    model_config = ConfigDict(extra="forbid")

    rope_type: Literal["yarn"] = Field("yarn", description="Scaling method, 'yarn' for YaRN.")
    factor: StrictFloat = Field(
        32.0,
        ge=1,
        allow_inf_nan=False,
        description="Ratio of the extended context length to original_max_position_embeddings.",
    )
    beta_fast: StrictFloat = Field(
        32.0,
        gt=0,
        allow_inf_nan=False,
        description="Rotations over the original context above which a dimension keeps its frequency.",
    )
    beta_slow: StrictFloat = Field(
        1.0,
        gt=0,
        allow_inf_nan=False,
        description="Rotations over the original context below which a dimension is fully interpolated.",
    )
    truncate: StrictBool = Field(
        False,
        description=(
            "Round the ramp bounds to whole dimensions (floor and ceil). GPT-OSS uses false, "
            "because rounding changes the frequencies and the model's output."
        ),
    )
    original_max_position_embeddings: StrictInt = Field(
        4096, gt=0, description="Context length, in tokens, that the model was pretrained with before scaling."
    )
    attention_factor: StrictFloat | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="Factor applied to cos and sin. None means 0.1 * ln(factor) + 1.",
    )

    @model_validator(mode="after")
    def _check_beta_order(self) -> YarnRopeScaling:
        if self.beta_fast <= self.beta_slow:
            violation = Violation(
                field="beta_fast",
                message=(
                    f"beta_fast = {self.beta_fast:g} must be greater than beta_slow = {self.beta_slow:g}, "
                    "because the ramp runs from the beta_fast dimension to the beta_slow dimension"
                ),
                hint="swap the two values if they were entered in the wrong order (GPT-OSS uses 32 and 1)",
            )
            raise violations_error([violation])
        return self


class DefaultRopeScaling(BaseModel):
    """Plain rotary embedding without any frequency scaling."""

    model_config = ConfigDict(extra="forbid")

    rope_type: Literal["default"] = Field("default", description="Scaling method, 'default' for no scaling.")


RopeScaling = Annotated[Union[YarnRopeScaling, DefaultRopeScaling], Field(discriminator="rope_type")]


def rename_legacy_type_key(value: Any) -> Any:
    """Rename the legacy `type` key of a rope scaling mapping to `rope_type`.

    Older Hugging Face configurations spell the discriminator `type`. When both keys
    are present they must agree. Values that are not mappings pass through unchanged.
    """
    if not isinstance(value, Mapping) or "type" not in value:
        return value

    renamed = dict(value)
    legacy = renamed.pop("type")
    if "rope_type" in renamed and renamed["rope_type"] != legacy:
        violation = Violation(
            field="rope_type",
            message=(
                f"rope_type = {render_value(renamed['rope_type'])} disagrees with the legacy key "
                f"type = {render_value(legacy)}"
            ),
            hint="remove 'type' and keep only 'rope_type'",
            code="conflict",
        )
        raise violations_error([violation])
    renamed.setdefault("rope_type", legacy)
    return renamed


def yarn_attention_factor(scaling: YarnRopeScaling) -> float:
    """Return the factor that YaRN multiplies into cos and sin (about 1.3466 for factor 32)."""
    if scaling.attention_factor is not None:
        return scaling.attention_factor
    return 0.1 * math.log(scaling.factor) + 1.0


def scaled_context_length(original: int, factor: float) -> int | None:
    """Return original * factor as a whole number of tokens, or None when the product is not finite.

    With a float factor such as 1e308 the product is infinite, and int() cannot convert it.
    """
    try:
        product = original * factor
    except OverflowError:
        # An int too large for a float, multiplied by a float factor.
        return None
    if isinstance(product, int):
        return product
    if not math.isfinite(product):
        return None
    return int(product)


def rope_scaling_violations(
    scaling: YarnRopeScaling | DefaultRopeScaling | None, max_position_embeddings: int
) -> list[Violation]:
    """Check the YaRN settings against the model's context length.

    Field paths in the result are relative to the model configuration.
    """
    if not isinstance(scaling, YarnRopeScaling):
        return []
    original = scaling.original_max_position_embeddings
    if original < max_position_embeddings:
        return []
    scaled = scaled_context_length(original, scaling.factor)
    scaled_text = f" ({scaled})" if scaled is not None else ""
    return [
        Violation(
            field="rope_scaling.original_max_position_embeddings",
            message=(
                f"rope_scaling.original_max_position_embeddings = {original} must be less than "
                f"max_position_embeddings = {max_position_embeddings}, because YaRN extends the "
                "original context to the longer one"
            ),
            hint=(
                f"set max_position_embeddings to original_max_position_embeddings * factor{scaled_text}, "
                "or use rope_type: default for no scaling"
            ),
        )
    ]


def rope_scaling_warnings(
    scaling: YarnRopeScaling | DefaultRopeScaling | None, max_position_embeddings: int
) -> list[Issue]:
    """Warn when max_position_embeddings / original_max_position_embeddings differs from factor.

    The issues have no file position, which loaders fill in.
    """
    if not isinstance(scaling, YarnRopeScaling):
        return []
    original = scaling.original_max_position_embeddings
    try:
        ratio = max_position_embeddings / original
    except OverflowError:
        # Both are ints, and a quotient beyond the float range cannot be a sensible factor.
        ratio = math.inf
    if math.isclose(ratio, scaling.factor, rel_tol=1e-9):
        return []
    message = (
        f"max_position_embeddings / rope_scaling.original_max_position_embeddings = "
        f"{max_position_embeddings} / {original} = {ratio:g}, but rope_scaling.factor = {scaling.factor:g}. "
        f"The model scales the rotary frequencies by factor ({scaling.factor:g})."
    )
    scaled = scaled_context_length(original, scaling.factor)
    hint = f"if the two should agree, set factor to {ratio:g}"
    if scaled is not None:
        hint += f" or max_position_embeddings to {scaled}"
    return [
        Issue(
            file=None,
            line=None,
            column=None,
            field="rope_scaling.factor",
            key=None,
            code="cross_field",
            message=message,
            hint=hint,
            severity="warning",
        )
    ]
