"""Load a device mesh from a YAML or JSON file, or from an inline spec, with key positions.

A mesh file contains a mapping of axis sizes, at the top level or under `mesh:`:

    ep: 4
    tp: 2
    num_devices: 8
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pydantic
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from ossgen.schema.errors import ConfigError, FieldPath, Issue, SourceLocation, issues_from_validation_error
from ossgen.schema.loaders import read_utf8
from ossgen.schema.mesh import MeshConfig, parse_mesh_spec


@dataclass(frozen=True)
class LoadedMesh:
    """A validated mesh, where it came from, and where each key sits in its file."""

    mesh: MeshConfig
    source: str
    positions: dict[str, SourceLocation] = field(default_factory=dict)
    is_file: bool = True


def _issue(source: str, message: str, *, line: int | None = None, column: int | None = None,
           code: str = "mesh", hint: str | None = None) -> Issue:
    return Issue(file=source, line=line, column=column, field="mesh", key=None, code=code, message=message, hint=hint)


def _parse(text: str, source: str) -> tuple[object, dict[str, SourceLocation]]:
    """Parse YAML or JSON text; return the axis mapping and the position of each of its keys."""
    try:
        document = YAML(typ="rt").load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        raise ConfigError([_issue(source, f"invalid YAML/JSON: {error.problem}", line=line, column=column, code="syntax")]) from None
    except YAMLError as error:
        raise ConfigError([_issue(source, f"invalid YAML/JSON: {error}", code="syntax")]) from None

    if isinstance(document, CommentedMap) and "mesh" in document:
        others = [str(key) for key in document if key not in ("mesh", "$schema")]
        if others:
            line, column = document.lc.key(others[0])
            raise ConfigError(
                [_issue(source, f"{', '.join(others)} would be ignored because the file also has a `mesh:` section",
                        line=line + 1, column=column + 1, code="unknown_key",
                        hint="move every axis size under `mesh:`, or drop the `mesh:` level")]
            )
        document = document["mesh"]
    positions: dict[str, SourceLocation] = {}
    if isinstance(document, CommentedMap):
        for key in document:
            line, column = document.lc.key(key)
            positions[str(key)] = SourceLocation(key=str(key), line=line + 1, column=column + 1)
    return document, positions


def load_mesh_located(source: str | os.PathLike[str]) -> LoadedMesh:
    """Load a mesh file, or parse an inline spec such as `ep=4,tp=2` when no such file exists.

    Raises:
      ConfigError: the content is invalid; each issue carries the line and column of its key.
      OSError: the file exists but cannot be read.
    """
    text_source = os.fspath(source)
    path = Path(text_source)
    if not path.exists():
        if "=" not in text_source:
            raise FileNotFoundError(
                2, "mesh file not found; give a YAML/JSON file or an inline spec such as ep=4,tp=2", text_source
            )
        try:
            return LoadedMesh(parse_mesh_spec(text_source), text_source, is_file=False)
        except (ValueError, pydantic.ValidationError) as error:
            raise ConfigError([_issue(text_source, message) for message in _messages(error)]) from None

    text = read_utf8(path, text_source)
    if path.suffix.lower() == ".json":
        _check_json_syntax(text, text_source)
    document, positions = _parse(text, text_source)
    if not isinstance(document, dict):
        found = "an empty document" if document is None else f"a {type(document).__name__}"
        raise ConfigError(
            [_issue(text_source, f"expected a mapping of mesh axis sizes, found {found}", line=1, column=1,
                    code="type", hint="write one line per axis, such as `ep: 4`")]
        )
    # Editors name the schema of a JSON file in a `$schema` key; it sets nothing.
    values = {key: value for key, value in document.items() if key != "$schema"}
    try:
        mesh = MeshConfig.model_validate(values)
    except pydantic.ValidationError as error:
        field_positions: dict[FieldPath, SourceLocation] = {(key,): location for key, location in positions.items()}
        issues = issues_from_validation_error(error, model=MeshConfig, positions=field_positions, file=text_source)
        raise ConfigError([_place_model_issue(issue, positions) for issue in issues]) from None
    return LoadedMesh(mesh, text_source, positions)


def _check_json_syntax(text: str, source: str) -> None:
    """Reject text that YAML would accept but JSON does not, such as a trailing comma."""
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(
            [_issue(source, f"invalid JSON: {error.msg}", line=error.lineno, column=error.colno, code="syntax")]
        ) from None


def load_mesh(source: str | os.PathLike[str]) -> MeshConfig:
    """Load a mesh file or inline spec and return the validated `MeshConfig`."""
    return load_mesh_located(source).mesh


def _messages(error: ValueError | pydantic.ValidationError) -> list[str]:
    if isinstance(error, pydantic.ValidationError):
        return [item["msg"].removeprefix("Value error, ") for item in error.errors()]
    return [str(error)]


def _place_model_issue(issue: Issue, positions: dict[str, SourceLocation]) -> Issue:
    """Place an issue about the mesh as a whole on the first key its message names, else on the first key."""
    if issue.line is not None or not positions:
        return issue
    named = [location for key, location in positions.items() if re.search(rf"\b{re.escape(key)}\b", issue.message)]
    first = min(named or positions.values(), key=lambda location: (location.line, location.column))
    return Issue(
        file=issue.file, line=first.line, column=first.column, field=issue.field or "mesh", key=issue.key,
        code=issue.code, message=issue.message, hint=issue.hint, severity=issue.severity,
    )
