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
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pydantic
from ruamel.yaml import YAML
from ruamel.yaml.comments import TaggedScalar
from ruamel.yaml.composer import MaxDepthExceededError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import CollectionNode, MappingNode, Node, ScalarNode
from ruamel.yaml.scalarbool import ScalarBoolean

from ossgen.schema.config import GptOssConfig
from ossgen.schema.errors import (
    MAX_KEY_DISPLAY_LENGTH,
    ConfigError,
    FieldPath,
    Issue,
    SourceLocation,
    dotted,
    issues_from_validation_error,
    locate,
    render_value,
    shorten,
    split_dotted,
)
from ossgen.schema.formats import MappedConfig, SourceFormat, detect_json_format, map_to_fields

logger = logging.getLogger(__name__)

SourcePath = tuple[str | int, ...]

# Maximum nesting depth, counting the top-level mapping as level 1 and each value or
# list item one level below its container, as ruamel.yaml's max_depth does. The shipped
# configurations reach level 4 (the strings in quantization_config.modules_to_not_convert),
# so 100 leaves room for any tool-written file. It also keeps ruamel.yaml's recursive
# composer and the walks below far from Python's recursion limit of 1000 frames.
MAX_NESTING_DEPTH = 100

# Maximum number of values and list items that loading visits, counting a YAML alias once
# per use. A model configuration has a few hundred, and the limit stops alias bombs
# (aliases of lists of aliases), whose expansion would not fit in memory.
MAX_DOCUMENT_NODES = 100_000

_NESTING_HINT = "a model configuration nests only a few levels; check for unbalanced brackets"


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


def _syntax_issue(
    file: str | None, message: str, line: int | None, column: int | None, hint: str | None = None
) -> Issue:
    return Issue(file=file, line=line, column=column, field="", key=None, code="syntax", message=message, hint=hint)


def _nesting_issue(file: str | None, line: int | None, column: int | None) -> Issue:
    return _syntax_issue(
        file, f"nesting deeper than {MAX_NESTING_DEPTH} levels", line, column, hint=_NESTING_HINT
    )


def _recursive_alias_issue(file: str | None, line: int | None, column: int | None) -> Issue:
    return _syntax_issue(
        file,
        "recursive alias: the value contains an alias of itself",
        line,
        column,
        hint="an alias may only refer to a value that does not contain it; write the value out instead",
    )


def _too_many_nodes_issue(file: str | None, line: int | None, column: int | None, aliased: bool) -> Issue:
    expanded = " once its aliases are expanded" if aliased else ""
    return _syntax_issue(
        file,
        f"the document has more than {MAX_DOCUMENT_NODES} values and list items{expanded}",
        line,
        column,
        hint="a model configuration has a few hundred; remove aliases that repeat large values",
    )


def _unreadable_value_issue(file: str, text: str, error: ValueError, kind: str) -> Issue:
    """Report a value that the parser cannot convert, such as an integer of 5000 digits."""
    digit_limit = sys.get_int_max_str_digits()
    match = re.search(rf"\d{{{digit_limit + 1},}}", text) if digit_limit else None
    if match is None:
        return _syntax_issue(file, f"invalid {kind}, cannot read a value: {error}", None, None)
    line = text.count("\n", 0, match.start()) + 1
    column = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
    return _syntax_issue(
        file,
        f"invalid {kind}, a number has more than {digit_limit} digits",
        line,
        column,
        hint="a model configuration needs numbers of a few digits; check this value",
    )


def _yaml_reader() -> YAML:
    """Return a round-trip YAML parser that stops at MAX_NESTING_DEPTH and keeps repeated keys.

    Repeated keys are reported from the node tree, with the position of each repeat.
    """
    reader = YAML(typ="rt")
    reader.allow_duplicate_keys = True
    reader.max_depth = MAX_NESTING_DEPTH
    return reader


def _compose(text: str, file: str) -> Node | None:
    """Parse text to a node tree, reporting nesting deeper than MAX_NESTING_DEPTH as a ConfigError.

    Raises YAMLError for invalid YAML.
    """
    try:
        return _yaml_reader().compose(text)
    except MaxDepthExceededError as error:
        mark = error.problem_mark
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        raise ConfigError([_nesting_issue(file, line, column)]) from error


def _yaml_syntax_issue(file: str, error: YAMLError) -> Issue:
    mark = getattr(error, "problem_mark", None) if isinstance(error, MarkedYAMLError) else None
    parts = [getattr(error, "context", None), getattr(error, "problem", None)]
    message = ": ".join(part for part in parts if part) or str(error)
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    return _syntax_issue(file, f"invalid YAML, {message}", line, column)


def _node_key_text(node: Node, depth: int = 0) -> str:
    """Write a key node as YAML flow text, the way `render_key` writes the parsed key.

    Keys such as `[a, b]` or `{x: 1}` are mappings or lists in the node tree. This text
    is their entry in the source path, so that errors about them get a position.
    """
    if isinstance(node, ScalarNode):
        return str(node.value)
    if depth >= MAX_NESTING_DEPTH:
        return "..."
    if isinstance(node, MappingNode):
        pairs = (f"{_node_key_text(key, depth + 1)}: {_node_key_text(value, depth + 1)}" for key, value in node.value)
        return "{" + ", ".join(pairs) + "}"
    return "[" + ", ".join(_node_key_text(item, depth + 1) for item in node.value) + "]"


class _PositionWalk:
    """One walk over a node tree that records positions and enforces the nesting and size limits.

    A YAML alias makes the tree a graph: an aliased node is visited once per use, and a
    recursive alias makes a node its own descendant.
    """

    def __init__(self, parsed: _ParsedText, file: str | None) -> None:
        self.parsed = parsed
        self.file = file
        self.visits = 0
        self.seen: set[int] = set()
        self.ancestors: set[int] = set()
        self.aliased = False
        # Position of the top-level key or item being walked, where the size limit is
        # reported: the alias expansion that exceeds it can run through many definitions.
        self.top_position = (1, 1)

    def visit(self, node: Node, path: SourcePath, depth: int, record: bool) -> None:
        """Walk the children of `node`, which sits at `depth`; with `record`, note their positions."""
        if not isinstance(node, CollectionNode):
            return
        if id(node) in self.seen:
            self.aliased = True
        self.seen.add(id(node))
        self.ancestors.add(id(node))
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                self._visit_pair(key_node, value_node, path, depth, record)
        else:
            for index, item in enumerate(node.value):
                child = path + (index,)
                position = (item.start_mark.line + 1, item.start_mark.column + 1)
                if record:
                    self.parsed.key_positions[child] = position
                self._descend(item, child, depth, record, position)
        self.ancestors.discard(id(node))

    def _visit_pair(self, key_node: Node, value_node: Node, path: SourcePath, depth: int, record: bool) -> None:
        position = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        if isinstance(key_node, CollectionNode):
            # A key such as [*a, *b] is walked too, because loading expands its aliases as well.
            self._descend(key_node, path, depth, record=False, position=position)
        child = path + (key_node.value if isinstance(key_node, ScalarNode) else _node_key_text(key_node),)
        if record and child in self.parsed.key_positions:
            self.parsed.duplicates.append((child, *position))
            record = False
        elif record:
            self.parsed.key_positions[child] = position
        self._descend(value_node, child, depth, record, position)

    def _descend(self, node: Node, path: SourcePath, depth: int, record: bool, position: tuple[int, int]) -> None:
        """Count one child of a node at `depth` and walk it, locating a nesting error at `position`."""
        if depth == 1:
            self.top_position = position
        self.visits += 1
        if self.visits > MAX_DOCUMENT_NODES:
            raise ConfigError([_too_many_nodes_issue(self.file, *self.top_position, aliased=self.aliased)])
        if id(node) in self.ancestors:
            raise ConfigError([_recursive_alias_issue(self.file, *position)])
        if depth + 1 > MAX_NESTING_DEPTH:
            raise ConfigError([_nesting_issue(self.file, *position)])
        self.visit(node, path, depth + 1, record)


def _collect_positions(root: Node, parsed: _ParsedText, file: str | None) -> None:
    """Record the 1-based position of every key and list item, and every repeated key.

    Raises ConfigError for a recursive alias, for nesting deeper than MAX_NESTING_DEPTH
    and for more than MAX_DOCUMENT_NODES values and items, counting an alias once per use.
    """
    _PositionWalk(parsed, file).visit(root, (), depth=1, record=True)


def _to_plain(value: Any, file: str | None) -> Any:
    """Convert ruamel.yaml's round-trip containers and scalar subclasses to plain Python values.

    Applies the limits of `_collect_positions` again, without positions, because the
    parsed data can differ from the node tree (merge keys copy entries).
    """
    visits = 0
    ancestors: set[int] = set()

    def convert(item: Any, depth: int) -> Any:
        nonlocal visits
        if depth > 1:
            visits += 1
        if visits > MAX_DOCUMENT_NODES:
            raise ConfigError([_too_many_nodes_issue(file, None, None, aliased=True)])
        if depth > MAX_NESTING_DEPTH:
            raise ConfigError([_nesting_issue(file, None, None)])
        if isinstance(item, (Mapping, list)):
            if id(item) in ancestors:
                raise ConfigError([_recursive_alias_issue(file, None, None)])
            ancestors.add(id(item))
            if isinstance(item, Mapping):
                converted: Any = {
                    str(key) if isinstance(key, str) else key: convert(entry, depth + 1) for key, entry in item.items()
                }
            else:
                converted = [convert(entry, depth + 1) for entry in item]
            ancestors.discard(id(item))
            return converted
        return plain_scalar(item)

    return convert(value, 1)


def plain_scalar(value: Any) -> Any:
    """Return a ruamel.yaml scalar as the plain Python value it stands for."""
    if isinstance(value, (bool, ScalarBoolean)):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, TaggedScalar) and str(value.tag) == "tag:yaml.org,2002:str":
        # ruamel.yaml keeps an explicit !!str tag; the value is a plain string.
        return str(value.value)
    return value


def _parse_yaml(text: str, file: str) -> _ParsedText:
    try:
        root = _compose(text, file)
    except YAMLError as error:
        raise ConfigError([_yaml_syntax_issue(file, error)]) from error

    parsed = _ParsedText(data=None)
    # The walk runs before constructing values, because construction follows recursive
    # aliases and hashes alias-expanded keys without any limit.
    if root is not None:
        _collect_positions(root, parsed, file)

    try:
        data = _yaml_reader().load(text)
    except YAMLError as error:
        raise ConfigError([_yaml_syntax_issue(file, error)]) from error
    except ValueError as error:
        # ruamel.yaml raises a bare ValueError for values it cannot convert, such as a
        # date like 2024-02-30 or an integer of more digits than Python converts.
        raise ConfigError([_unreadable_value_issue(file, text, error, "YAML")]) from error
    parsed.data = _to_plain(data, file)
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

    too_deep = False
    data = None
    try:
        data = json.loads(text, object_pairs_hook=keep_last_and_note_repeats)
    except json.JSONDecodeError as error:
        raise ConfigError([_syntax_issue(file, f"invalid JSON, {error.msg}", error.lineno, error.colno)]) from error
    except RecursionError:
        # The position comes from the YAML parse below, which stops at MAX_NESTING_DEPTH.
        too_deep = True
    except ValueError as error:
        raise ConfigError([_unreadable_value_issue(file, text, error, "JSON")]) from error

    try:
        root = _compose(text, file)
    except YAMLError as error:
        logger.info("ruamel.yaml cannot parse %s (%s), so its errors will have no line numbers", file, error)
        root = None
    if too_deep:
        raise ConfigError([_nesting_issue(file, None, None)])

    parsed = _ParsedText(data=None)
    if root is not None:
        _collect_positions(root, parsed, file)
    else:
        # NOTE: without the node tree, a repeated key nested in an object is reported as top-level.
        parsed.duplicates = [((key,), None, None) for key in repeated_keys]
    parsed.data = _to_plain(data, file)
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
                message=f"duplicate key '{shorten(str(source_path[-1]), MAX_KEY_DISPLAY_LENGTH)}'{where}",
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
        found = "an empty document" if data is None else f"{_type_in_words(data)}: {render_value(data)}"
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


def _type_in_words(value: Any) -> str:
    """Name the type of a parsed value with its article, such as "an integer"."""
    for kind, words in ((bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "a string"),
                        (list, "a list"), (TaggedScalar, "a tagged value")):
        if isinstance(value, kind):
            return words
    return f"a value of type {type(value).__name__}"


def _with_fallback_position(issue: Issue, positions: Mapping[FieldPath, SourceLocation]) -> Issue:
    """Place an issue about a field the file leaves at its default on a field the file sets.

    A cross-field rule such as "original_max_position_embeddings < max_position_embeddings"
    can fail on a default value. The issue then points at the first key named in its
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
    file = os.fspath(path)
    text = read_utf8(Path(path), file)
    return load_config_text(text, filename=file, strict=strict, source_format=source_format)


def read_utf8(path: Path, file: str) -> str:
    """Read a file as UTF-8, a leading byte order mark allowed.

    Raises:
      ConfigError: the bytes are not UTF-8; the issue has the line and column of the first bad byte.
      OSError: the file cannot be read.
    """
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        issue = _syntax_issue(file, f"the file is not valid UTF-8 ({error.reason})", line, column)
        raise ConfigError([issue]) from error


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
