"""The facts `ossgen validate --mesh` reports for a valid config and mesh."""

from __future__ import annotations

from typing import Any

from ossgen.schema.config import GptOssConfig
from ossgen.schema.mesh import MeshConfig
from ossgen.schema.sharding import kv_heads_axis, parameter_count, per_device_parameter_bytes


def mesh_facts(config: GptOssConfig, mesh: MeshConfig) -> dict[str, Any]:
    """Return devices, parameters, bytes per device and experts per `ep` shard as plain values.

    Values that depend on an unresolved -1 axis are None.
    """
    resolved = mesh.resolve() if not mesh.is_resolved and mesh.num_devices is not None else mesh
    ep = resolved.size("ep")
    facts: dict[str, Any] = {
        "mesh": resolved.shape,
        "devices": resolved.device_count,
        "parameters": parameter_count(config, resolved),
        "parameter_dtype": config.dtype,
        "parameter_bytes_per_device": per_device_parameter_bytes(config, resolved) if resolved.is_resolved else None,
        "experts_per_ep_shard": None if ep == -1 else config.num_local_experts // ep,
        "kv_heads_replicated_across_tp": resolved.size("tp") != -1 and kv_heads_axis(config, resolved) is None,
    }
    return facts


def format_mesh_facts(config: GptOssConfig, facts: dict[str, Any]) -> str:
    """Format `mesh_facts` as a two-column table for people."""
    unknown = "unknown (an axis is -1 and num_devices is not given)"
    total = facts["parameters"]
    per_device = facts["parameter_bytes_per_device"]
    rows = [
        ("mesh", ", ".join(f"{name}={size}" for name, size in facts["mesh"].items())),
        ("devices", unknown if facts["devices"] is None else str(facts["devices"])),
        ("parameters", f"{total:,} ({total / 1e9:.2f}B)"),
        ("parameter dtype", facts["parameter_dtype"]),
        ("parameter bytes per device", unknown if per_device is None else f"{per_device / 2**30:.2f} GiB"),
        ("experts per ep shard", unknown if facts["experts_per_ep_shard"] is None else str(facts["experts_per_ep_shard"])),
    ]
    if facts["kv_heads_replicated_across_tp"]:
        copies = facts["mesh"]["tp"] // config.num_key_value_heads
        rows.append(("key/value heads", f"{config.num_key_value_heads}, replicated across tp ({copies} copies of each)"))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)
