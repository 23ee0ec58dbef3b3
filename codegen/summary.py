"""The short table `ossgen validate --mesh` prints for a valid config and mesh."""

from __future__ import annotations

from ossgen.schema.config import GptOssConfig
from ossgen.schema.mesh import MeshConfig
from ossgen.schema.sharding import parameter_count, per_device_parameter_bytes


def _gibibytes(count: int) -> str:
    return f"{count / 2**30:.2f} GiB"


def mesh_summary(config: GptOssConfig, mesh: MeshConfig) -> str:
    """Return a two-column table: devices, parameters, bytes per device and experts per `ep` shard."""
    resolved = mesh.resolve() if not mesh.is_resolved and mesh.num_devices is not None else mesh
    devices = resolved.device_count
    total = parameter_count(config, resolved)
    ep = resolved.size("ep")
    rows = [
        ("mesh", resolved.shape_text()),
        ("devices", "unknown (an axis is -1)" if devices is None else str(devices)),
        ("parameters", f"{total:,} ({total / 1e9:.2f}B)"),
        ("parameter dtype", config.dtype),
        ("parameter bytes per device", _gibibytes(per_device_parameter_bytes(config, resolved))),
        ("experts per ep shard", "unknown (ep is -1)" if ep == -1 else str(config.num_local_experts // ep)),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)
