"""Device mesh description: named axes and their sizes.

The mesh uses JAX's own SPMD machinery (`jax.sharding.Mesh`); ossgen only names
the axes and checks their sizes. Axis roles:

- `dp`: data parallel, shards the batch only.
- `fsdp`: fully sharded data parallel, shards the batch and the parameters.
- `ep`: expert parallel, shards the expert axis of the MoE weights.
- `tp`: tensor parallel, shards attention heads, the expert hidden layer and the vocabulary.
- `sp`: sequence parallel, shards the sequence axis of activations.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator

MESH_AXIS_NAMES: tuple[str, ...] = ("dp", "fsdp", "ep", "tp", "sp")

AxisSize = Annotated[
    int,
    Strict(),
    Field(
        description="Number of devices along this axis; -1 takes the devices the other axes leave.",
    ),
]


class MeshConfig(BaseModel):
    """Sizes of the named mesh axes, in the fixed order dp, fsdp, ep, tp, sp."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dp: AxisSize = 1
    fsdp: AxisSize = 1
    ep: AxisSize = 1
    tp: AxisSize = 1
    sp: AxisSize = 1
    num_devices: Annotated[int, Strict(), Field(gt=0)] | None = Field(
        default=None,
        description="Total number of devices; when given, the axis sizes must multiply to it.",
    )

    @model_validator(mode="after")
    def _check_sizes(self) -> MeshConfig:
        wildcard_axes = [name for name in MESH_AXIS_NAMES if self.size(name) == -1]
        for name in MESH_AXIS_NAMES:
            size = self.size(name)
            if size == 0 or size < -1:
                raise ValueError(
                    f"mesh axis '{name}'={size} is invalid: an axis size must be a positive "
                    "integer, or -1 for the devices the other axes leave"
                )
        if len(wildcard_axes) > 1:
            raise ValueError(
                f"mesh axes {wildcard_axes} are all -1, but at most one axis may be -1; "
                "give every other axis an explicit size"
            )
        if self.num_devices is None:
            return self

        known_product = math.prod(self.size(name) for name in MESH_AXIS_NAMES if self.size(name) != -1)
        if wildcard_axes:
            if self.num_devices % known_product != 0:
                raise ValueError(
                    f"mesh axis '{wildcard_axes[0]}'=-1 cannot take the remaining devices: "
                    f"num_devices={self.num_devices} is not divisible by the product "
                    f"{known_product} of the other axes; make num_devices a multiple of {known_product}"
                )
        elif known_product != self.num_devices:
            raise ValueError(
                f"the mesh axis sizes {self.shape_text()} multiply to {known_product}, "
                f"not num_devices={self.num_devices}; change an axis size or num_devices"
            )
        return self

    def size(self, name: str) -> int:
        """Return the size of axis `name` as written, -1 included."""
        if name not in MESH_AXIS_NAMES:
            raise KeyError(f"unknown mesh axis {name!r}; the axes are {', '.join(MESH_AXIS_NAMES)}")
        return int(getattr(self, name))

    @property
    def is_resolved(self) -> bool:
        """Whether every axis has an explicit size."""
        return all(self.size(name) != -1 for name in MESH_AXIS_NAMES)

    def resolve(self, num_devices: int | None = None) -> MeshConfig:
        """Return a copy whose -1 axis takes the devices the other axes leave.

        `num_devices` defaults to the mesh's own `num_devices`. A mesh without a -1
        axis is returned unchanged.
        """
        if self.is_resolved:
            return self
        count = num_devices if num_devices is not None else self.num_devices
        if count is None:
            raise ValueError(
                "the mesh has an axis of size -1 but no device count; set num_devices "
                "in the mesh file or pass the device count"
            )
        sizes = {name: self.size(name) for name in MESH_AXIS_NAMES}
        known_product = math.prod(size for size in sizes.values() if size != -1)
        if count % known_product != 0:
            raise ValueError(
                f"{count} devices cannot be split over the mesh {self.shape_text()}: "
                f"{count} is not divisible by {known_product}"
            )
        for name, size in sizes.items():
            if size == -1:
                sizes[name] = count // known_product
        return MeshConfig(**sizes, num_devices=count)

    @property
    def shape(self) -> dict[str, int]:
        """Axis sizes by name, in mesh order (-1 kept where unresolved)."""
        return {name: self.size(name) for name in MESH_AXIS_NAMES}

    @property
    def device_count(self) -> int | None:
        """Number of devices the mesh spans, or None while an axis is -1 and no count is given."""
        if self.is_resolved:
            return math.prod(self.shape.values())
        return self.num_devices

    def shape_text(self) -> str:
        """Format the sizes as `dp=1, fsdp=2, ...` for messages."""
        return ", ".join(f"{name}={size}" for name, size in self.shape.items())


def parse_mesh_spec(spec: str) -> MeshConfig:
    """Parse an inline mesh such as `fsdp=2,ep=4,tp=1` (unnamed axes default to 1)."""
    values: dict[str, Any] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        name, separator, size_text = part.partition("=")
        name, size_text = name.strip(), size_text.strip()
        if not separator:
            raise ValueError(f"invalid mesh entry {part!r}: write AXIS=SIZE, for example ep=4")
        if name != "num_devices" and name not in MESH_AXIS_NAMES:
            raise ValueError(
                f"unknown mesh axis {name!r} in {spec!r}; the axes are {', '.join(MESH_AXIS_NAMES)}"
            )
        if name in values:
            raise ValueError(f"mesh axis {name!r} is given twice in {spec!r}; give each axis once")
        if re.fullmatch(r"-?[0-9]+", size_text) is None:
            raise ValueError(f"invalid size {size_text!r} for mesh axis {name!r}: write an integer such as 4, or -1")
        values[name] = int(size_text)
    return MeshConfig(**values)

