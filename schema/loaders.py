"""Load a GPT-OSS configuration file and report every problem with its line and column.

YAML is parsed with ruamel.yaml, which keeps the position of every key. JSON is parsed
twice: `json.loads` gives exact syntax errors, and ruamel.yaml (JSON is YAML 1.2 for
these files) gives the key positions. Keys are then mapped from the file's format to
ossgen's field names (see `ossgen.schema.formats`) and validated by `GptOssConfig`.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pydantic
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.scalarbool import ScalarBoolean

from ossgen.schema.config import GptOssConfig
from ossgen.schema.errors import (
    ConfigError,
    FieldPath,
    Issue,
    SourceLocation,
    dotted,
    issues_from_validation_error,
    locate,
    split_dotted,
)
from ossgen.schema.formats import MappedConfig, SourceFormat, detect_json_format, map_to_fields

logger = logging.getLogger(__name__)

SourcePath = tuple[str | int, ...]


@dataclass(frozen=True)
class LoadedConfig:
    """A validated configuration with its source format, ignored keys and warnings."""

    config: GptOssConfig
    path: Path
    source_format: SourceFormat
    ignored_keys: tuple[str, ...]  # keys accepted but not used by the model
    warnings: tuple[Issue, ...]
    # Where each field was set in the file, for checks that run after loading.
    positions: Mapping[FieldPath, SourceLocation] = field(default_factory=dict)

    def locate(self, field_name: str) -> SourceLocation | None:
        """Return where the file sets a dotted field such as `rope_scaling.factor`, or None."""
        return locate(split_dotted(field_name), self.positions)


@dataclass
class _ParsedText:
    data: Any
    key_positions: dict[SourcePath, tuple[int, int]] = field(default_factory=dict)  # 1-based
    duplicates: list[tuple[SourcePath, int | None, int | None]] = field(default_factory=list)


def _syntax_issue(file: str | None, message: str, line: int | None, column: int | None) -> Issue:
    return Issue(file=file, line=line, column=column, field="", key=None, code="syntax", message=message)


def _yaml_syntax_issue(file: str, error: YAMLError) -> Issue:
    mark = getattr(error, "problem_mark", None) if isinstance(error, MarkedYAMLError) else None
    parts = [getattr(error, "context", None), getattr(error, "problem", None)]
    message = ": ".join(part for part in parts if part) or str(error)
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    return _syntax_issue(file, f"invalid YAML, {message}", line, column)


def _collect_positions(node: Node, path: SourcePath, parsed: _ParsedText) -> None:
    """Record the 1-based position of every key and list item, and every repeated key."""
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                continue
            child = path + (key_node.value,)
            position = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if child in parsed.key_positions:
                parsed.duplicates.append((child, *position))
                continue
            parsed.key_positions[child] = position
            _collect_positions(value_node, child, parsed)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            child = path + (index,)
            parsed.key_positions[child] = (item.start_mark.line + 1, item.start_mark.column + 1)
            _collect_positions(item, child, parsed)


def _to_plain(value: Any) -> Any:
    """Convert ruamel.yaml's round-trip containers and scalar subclasses to plain Python values."""
    if isinstance(value, Mapping):
        return {str(key) if isinstance(key, str) else key: _to_plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_to_plain(item) for item in value]
    if isinstance(value, (bool, ScalarBoolean)):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def _parse_yaml(text: str, file: str) -> _ParsedText:
    try:
        root = YAML(typ="rt").compose(text)
        # Repeated keys are reported from the node tree, with the position of each repeat.
        loader = YAML(typ="rt")
        loader.allow_duplicate_keys = True
        data = loader.load(text)
    except YAMLError as error:
        raise ConfigError([_yaml_syntax_issue(file, error)]) from error

    parsed = _ParsedText(data=_to_plain(data))
    if root is not None:
        _collect_positions(root, (), parsed)
    return parsed


def _parse_json(text: str, file: str) -> _ParsedText:
    repeated_keys: list[str] = []

    def keep_last_and_note_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                repeated_keys.append(key)
            result[key] = value
        return result

    try:
        data = json.loads(text, object_pairs_hook=keep_last_and_note_repeats)
    except json.JSONDecodeError as error:
        raise ConfigError([_syntax_issue(file, f"invalid JSON, {error.msg}", error.lineno, error.colno)]) from error

    parsed = _ParsedText(data=data)
    try:
        root = YAML(typ="rt").compose(text)
    except YAMLError as error:
        logger.info("ruamel.yaml cannot parse %s (%s), so its errors will have no line numbers", file, error)
        root = None

    if root is not None:
        _collect_positions(root, (), parsed)
    else:
        # NOTE: without the node tree, a repeated key nested in an object is reported as top-level.
        parsed.duplicates = [((key,), None, None) for key in repeated_keys]
    return parsed


def _is_json(text: str, filename: str) -> bool:
    suffix = Path(filename).suffix.lower()
    if suffix == ".json":
        return True
    if suffix in (".yaml", ".yml"):
        return False
    return text.lstrip().startswith("{")


def _field_positions(
    origins: Mapping[FieldPath, SourcePath], key_positions: Mapping[SourcePath, tuple[int, int]]
) -> dict[FieldPath, SourceLocation]:
    """Translate key positions in the source into positions of ossgen field paths.

    A key below a mapped key maps below its field, as in rope_parameters.factor to
    rope_scaling.factor. More specific origins take precedence.
    """
    positions: dict[FieldPath, SourceLocation] = {}
    for field_path, origin in sorted(origins.items(), key=lambda item: -len(item[1])):
        for source_path, (line, column) in key_positions.items():
            if source_path[: len(origin)] != origin:
                continue
            target = field_path + source_path[len(origin) :]
            positions.setdefault(target, SourceLocation(key=dotted(source_path), line=line, column=column))
    return positions


def _field_for_source(origins: Mapping[FieldPath, SourcePath], source_path: SourcePath) -> str:
    """Return the dotted field path that a source key sets, or the key itself when it sets none."""
    best: tuple[FieldPath, SourcePath] | None = None
    for field_path, origin in origins.items():
        if source_path[: len(origin)] == origin and (best is None or len(origin) > len(best[1])):
            best = (field_path, origin)
    if best is None:
        return dotted(source_path)
    return dotted(best[0] + source_path[len(best[1]) :])


def _duplicate_issues(parsed: _ParsedText, mapped: MappedConfig, file: str | None) -> list[Issue]:
    issues = []
    for source_path, line, column in parsed.duplicates:
        first = parsed.key_positions.get(source_path)
        where = f", first given on line {first[0]}" if first else ""
        issues.append(
            Issue(
                file=file,
                line=line,
                column=column,
                field=_field_for_source(mapped.origins, source_path),
                key=dotted(source_path),
                code="duplicate_key",
                message=f"duplicate key '{source_path[-1]}'{where}",
                hint="remove one of the entries",
            )
        )
    return issues


def _position_order(issue: Issue) -> tuple[int, int]:
    missing = 1 << 30
    return (issue.line if issue.line is not None else missing, issue.column or 0)


def _build(
    data: Any,
    *,
    file: str | None,
    source_format: SourceFormat,
    parsed: _ParsedText,
    strict: bool,
) -> tuple[GptOssConfig, MappedConfig, list[Issue]]:
    """Map and validate parsed data, and return the config, the mapping and the warnings."""
    if not isinstance(data, Mapping):
        found = "an empty document" if data is None else f"a {type(data).__name__}"
        issue = Issue(
            file=file,
            line=1,
            column=1,
            field="",
            key=None,
            code="type",
            message=f"expected a mapping of configuration keys at the top level, found {found}",
        )
        raise ConfigError([issue])

    mapped = map_to_fields(data, source_format)
    positions = _field_positions(mapped.origins, parsed.key_positions)

    errors = _duplicate_issues(parsed, mapped, file)
    for mapping_issue in mapped.issues:
        position = parsed.key_positions.get(mapping_issue.source_path)
        line, column = position if position else (None, None)
        errors.append(replace(mapping_issue.issue, file=file, line=line, column=column))

    config = None
    try:
        config = GptOssConfig.model_validate(mapped.values)
    except pydantic.ValidationError as error:
        errors += issues_from_validation_error(error, model=GptOssConfig, positions=positions, file=file)

    warnings: list[Issue] = []
    if config is not None:
        for warning in config.validation_warnings():
            location = locate(split_dotted(warning.field), positions)
            warnings.append(
                replace(
                    warning,
                    file=file,
                    line=location.line if location else None,
                    column=location.column if location else None,
                    key=location.key if location else None,
                )
            )
        if strict:
            errors += [replace(warning, severity="error") for warning in warnings]
            warnings = []

    errors = [_with_fallback_position(issue, positions) for issue in errors]
    warnings = [_with_fallback_position(issue, positions) for issue in warnings]
    if errors or config is None:
        raise ConfigError(sorted(errors, key=_position_order))
    return config, mapped, warnings


def _with_fallback_position(issue: Issue, positions: Mapping[FieldPath, SourceLocation]) -> Issue:
    """Place an issue about a field the file leaves at its default on a field the file sets.

    A cross-field rule such as "original_max_position_embeddings < max_position_embeddings"
    can fail on a default value; the issue then points at the first key named in its
    message that the file does set.
    """
    if issue.line is not None or not positions:
        return issue
    named = [
        location for path, location in positions.items()
        if re.search(rf"(?<![\w.]){re.escape(dotted(path))}(?![\w.])", issue.message)
    ]
    if not named:
        return issue
    first = min(named, key=lambda location: (location.line, location.column))
    return replace(issue, line=first.line, column=first.column, key=first.key)


def load_config_text(
    text: str,
    *,
    filename: str | os.PathLike[str],
    strict: bool = False,
    source_format: SourceFormat | None = None,
) -> LoadedConfig:
    """Parse, map and validate configuration text as if it had been read from `filename`.

    The suffix of `filename` selects JSON (.json) or YAML (.yaml, .yml). Other names are
    read as JSON when the text starts with "{". The format of JSON text is detected from its keys
    unless `source_format` is given. With `strict`, warnings are errors.
    Raises ConfigError listing every problem found.
    """
    file = os.fspath(filename)
    is_json = _is_json(text, file)
    parsed = _parse_json(text, file) if is_json else _parse_yaml(text, file)

    if source_format is None:
        if is_json and isinstance(parsed.data, Mapping):
            source_format = detect_json_format(parsed.data)
        else:
            source_format = "ossgen-json" if is_json else "ossgen-yaml"

    config, mapped, warnings = _build(parsed.data, file=file, source_format=source_format, parsed=parsed, strict=strict)
    logger.debug("loaded %s as %s", file, source_format)
    return LoadedConfig(
        config=config,
        path=Path(file),
        source_format=source_format,
        ignored_keys=tuple(mapped.ignored_keys),
        warnings=tuple(warnings),
        positions=_field_positions(mapped.origins, parsed.key_positions),
    )


def load_config(
    path: str | os.PathLike[str],
    *,
    strict: bool = False,
    source_format: SourceFormat | None = None,
) -> LoadedConfig:
    """Load and validate a configuration file in any supported format.

    Raises ConfigError for invalid content, including text that is not UTF-8, and lets
    OSError (such as FileNotFoundError) through for files that cannot be read.
    """
    raw = Path(path).read_bytes()
    file = os.fspath(path)
    try:
        # utf-8-sig also accepts files that start with a byte order mark.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        issue = _syntax_issue(file, f"the file is not valid UTF-8 ({error.reason})", line, column)
        raise ConfigError([issue]) from error
    return load_config_text(text, filename=file, strict=strict, source_format=source_format)


def config_from_mapping(
    mapping: Mapping[str, Any],
    *,
    source_format: SourceFormat | None = None,
    strict: bool = False,
) -> GptOssConfig:
    """Validate an in-memory configuration, such as a parsed config.json, and return the config.

    The format is detected from the keys unless given. Errors have no positions.
    Warnings are logged, or raised as errors with `strict`.
    """
    if source_format is None:
        source_format = detect_json_format(mapping)
    parsed = _ParsedText(data=mapping)
    config, _, warnings = _build(mapping, file=None, source_format=source_format, parsed=parsed, strict=strict)
    for warning in warnings:
        logger.warning("%s", warning.format())
    return config
