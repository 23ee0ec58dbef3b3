"""The JSON Schema files that editors use: current, and naming every key the shipped files use."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from support import CONFIGS, REPO_ROOT

from ossgen.schema.json_schema import CONFIG_SCHEMA_FILE, MESH_SCHEMA_FILE, config_json_schema, mesh_json_schema, schema_text

SCHEMA_DIR = REPO_ROOT / "schema"


@pytest.mark.parametrize(("file", "build"), [(CONFIG_SCHEMA_FILE, config_json_schema), (MESH_SCHEMA_FILE, mesh_json_schema)])
def test_shipped_schema_is_current(file: str, build: object) -> None:
    assert (SCHEMA_DIR / file).read_text() == schema_text(build()), f"regenerate with: ossgen schema -o schema/{file}"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda path: path.name)
def test_yaml_files_point_at_existing_schema(path: Path) -> None:
    first_line = path.read_text().splitlines()[0]
    match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first_line)

    assert match is not None
    schema = json.loads((path.parent / match.group(1)).read_text())
    keys = YAML(typ="safe").load(path.read_text())
    assert set(keys) <= set(schema["properties"])


def test_config_schema_describes_fields() -> None:
    schema = config_json_schema()

    assert schema["additionalProperties"] is False
    assert schema["properties"]["num_local_experts"]["default"] == 128
    assert all("description" in value for value in schema["properties"].values())
    assert set(schema["properties"]["rope_scaling"]["anyOf"][0]["discriminator"]["mapping"]) == {"yarn", "default"}


def test_schema_command_writes_file(tmp_path: Path) -> None:
    target = tmp_path / "mesh.schema.json"

    result = subprocess.run(
        [sys.executable, "-m", "ossgen.codegen.cli", "schema", "--mesh", "-o", str(target)], capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(target.read_text())["properties"]["ep"]["type"] == "integer"
