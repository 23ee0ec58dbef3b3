"""JSON Schema documents of the config and mesh files, for editors and other tools.

Editors that run yaml-language-server pick the schema up from a first-line
comment such as `# yaml-language-server: $schema=../schema/gpt-oss-config.schema.json`.
"""

from __future__ import annotations

import json
from typing import Any

from ossgen.schema.config import GptOssConfig
from ossgen.schema.mesh import MeshConfig

CONFIG_SCHEMA_FILE = "gpt-oss-config.schema.json"
MESH_SCHEMA_FILE = "mesh.schema.json"

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _with_header(schema: dict[str, Any], description: str) -> dict[str, Any]:
    # The `$schema` property lets a JSON file name its schema the way editors expect;
    # the loaders accept and ignore that key.
    schema["properties"] = {"$schema": {"type": "string", "description": "JSON Schema of this file."}} | schema["properties"]
    return {"$schema": _DIALECT} | schema | {"description": description}


def config_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of ossgen's own config format (YAML or JSON)."""
    return _with_header(
        GptOssConfig.model_json_schema(),
        "GPT-OSS model configuration in ossgen's format; keys are the fields of ossgen.schema.GptOssConfig.",
    )


def mesh_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of a mesh file."""
    return _with_header(MeshConfig.model_json_schema(), "Device mesh axis sizes for ossgen.")


def schema_text(schema: dict[str, Any]) -> str:
    """Serialise a schema the way the shipped files are written: indent 2, trailing newline."""
    return json.dumps(schema, indent=2) + "\n"
