"""The partition-rule table as the emitted `partition_rules.py` spells it."""

from __future__ import annotations

from ossgen.schema.config import GptOssConfig
from ossgen.schema.mesh import MeshConfig
from ossgen.schema.sharding import parameter_rules


def emitted_rules(config: GptOssConfig, mesh: MeshConfig) -> list[tuple[str, list[str]]]:
    """Return `(regex, PartitionSpec arguments as source)` pairs in match order.

    A dimension that no mesh axis shards is written `None`, so every spec lists
    one entry per parameter dimension.
    """
    table = []
    for rule in parameter_rules(config, mesh):
        arguments = ["None" if axis is None else f'"{axis}"' for axis in rule.spec()]
        table.append((rule.pattern, arguments))
    return table
