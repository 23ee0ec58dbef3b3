"""Configuration problems with their source positions, and their conversion from pydantic errors.

Every problem found in a configuration becomes an `Issue`. A `ConfigError` carries all
issues of one file, so the user can fix them in one pass. Validators that compare
several fields raise a single pydantic error of type ``cross_field`` whose context lists
each `Violation`, so that `issues_from_validation_error` can attach every violation to
its own field and source position.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import re
import typing
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any, Literal

import pydantic
from pydantic_core import PydanticCustomError
from ruamel.yaml.comments import TaggedScalar

from ossgen.schema.mesh import MESH_AXIS_NAMES

Severity = Literal["error", "warning"]

# A location inside a configuration: mapping keys and list indices, outermost first.
FieldPath = tuple[str | int, ...]

CROSS_FIELD_ERROR_TYPE = "cross_field"

# Maximum length, in characters, of a key that a formatted issue shows in full.
MAX_KEY_DISPLAY_LENGTH = 80

# Maximum length, in characters, of a value that a message shows in full.
MAX_VALUE_DISPLAY_LENGTH = 60

# Codes for the pydantic error types that are not about the value itself.
_PYDANTIC_CODES = {
    "missing": "missing",
    "extra_forbidden": "unknown_key",
    "union_tag_not_found": "missing",
}


@dataclass(frozen=True)
class Issue:
    """One problem in a configuration, with its position in the source file when known."""

    file: str | None
    line: int | None  # 1-based
    column: int | None  # 1-based
    field: str  # dotted path in ossgen's field names, such as "rope_scaling.beta_fast"
    key: str | None  # the key as spelled in the source file, such as "swiglu_limit"
    code: str
    message: str
    hint: str | None = None
    severity: Severity = "error"

    def format(self) -> str:
        """Format the issue as ``FILE:LINE:COL: error: FIELD (KEY): MESSAGE`` plus a hint line."""
        location = ""
        if self.file is not None:
            location += f"{self.file}:"
        if self.line is not None:
            location += f"{self.line}:"
            if self.column is not None:
                location += f"{self.column}:"

        subject = shorten(self.field, MAX_KEY_DISPLAY_LENGTH)
        if self.key is not None and self.key != self.field:
            key = shorten(self.key, MAX_KEY_DISPLAY_LENGTH)
            subject = f"{subject} ({key})" if subject else key

        text = f"{location} {self.severity}: " if location else f"{self.severity}: "
        if subject:
            text += f"{subject}: "
        text += self.message
        if self.hint is not None:
            text += f"\n  hint: {self.hint}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """Return the issue as a JSON-serializable dictionary."""
        return dataclasses.asdict(self)


class ConfigError(ValueError):
    """Invalid configuration. `issues` lists every problem found, not only the first."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues: list[Issue] = list(issues)
        super().__init__("\n".join(issue.format() for issue in self.issues))


@dataclass(frozen=True)
class SourceLocation:
    """Position of a key in a source file: the key as spelled there and its 1-based line and column."""

    key: str
    line: int | None
    column: int | None


@dataclass(frozen=True)
class Violation:
    """A broken rule found by a model validator.

    `field` is a dotted path relative to the model that runs the validator.
    """

    field: str
    message: str
    hint: str | None = None
    code: str = "cross_field"


def violations_error(violations: Sequence[Violation]) -> PydanticCustomError:
    """Build one pydantic error that carries several violations.

    Pydantic lets a model validator raise only one error. The context keeps each
    violation, and the rendered message lists them all for callers that read only
    ``str(ValidationError)``.
    """
    summary = "\n".join(f"{violation.field}: {violation.message}" for violation in violations)
    context = {
        "summary": summary,
        "violations": [dataclasses.asdict(violation) for violation in violations],
    }
    # The message goes through the context because a literal template would treat any
    # "{name}" in a message as a placeholder.
    return PydanticCustomError(CROSS_FIELD_ERROR_TYPE, "{summary}", context)


def shorten(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, ending a cut text with "..."."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Strings that YAML reads back as strings when written without quotes. Words that
# YAML 1.2 reads as null or booleans are excluded separately.
_PLAIN_STRING = re.compile(r"[A-Za-z_][\w.\-/]*(?: [\w.\-/]+)*")
_NON_STRING_WORDS = frozenset({"null", "true", "false"})

# Nesting below which a rendered value shows "..." instead of its content.
_MAX_RENDER_DEPTH = 8


def _string_text(text: str) -> str:
    if _PLAIN_STRING.fullmatch(text) and text.lower() not in _NON_STRING_WORDS:
        return text
    # repr quotes the text and escapes control characters, so that they cannot garble a terminal.
    return repr(text)


def _int_text(number: int) -> str:
    try:
        return str(number)
    except ValueError:
        # Python refuses to convert integers of more than 4300 digits to text by default.
        return f"<integer of {number.bit_length()} bits>"


def _tag_text(tag: object) -> str:
    return str(tag).replace("tag:yaml.org,2002:", "!!")


def _flow_text(value: Any, limit: int, depth: int) -> str:
    """Write a value as YAML flow text, stopping early once the text is longer than `limit`.

    Strings are quoted only where YAML would read them as something else.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return _int_text(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return _string_text(value)
    if isinstance(value, TaggedScalar):
        return f"{_tag_text(value.tag)} {_string_text(str(value.value))}"
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()

    if isinstance(value, Mapping):
        opening, closing = "{", "}"
        items: Iterable[Any] = value.items()
    elif isinstance(value, (Sequence, Set)) and not isinstance(value, (bytes, bytearray)):
        opening, closing = ("{", "}") if isinstance(value, Set) else ("[", "]")
        items = value
    else:
        return repr(value)
    if depth >= _MAX_RENDER_DEPTH:
        return opening + "..." + closing

    parts: list[str] = []
    length = 0
    for item in items:
        if length > limit:
            parts.append("...")
            break
        if isinstance(value, Mapping):
            key, item_value = item
            part = f"{_flow_text(key, limit, depth + 1)}: {_flow_text(item_value, limit, depth + 1)}"
        else:
            part = _flow_text(item, limit, depth + 1)
        parts.append(part)
        length += len(part) + 2
    return opening + ", ".join(parts) + closing


def render_value(value: Any, *, limit: int = MAX_VALUE_DISPLAY_LENGTH) -> str:
    """Write a value from a configuration file for a message, as YAML flow text.

    A string value is always quoted, so that '24' reads differently from 24. Text
    longer than `limit` characters is cut and ends with "...".
    """
    text = repr(value) if isinstance(value, str) else _flow_text(value, limit, 0)
    return shorten(text, limit)


def render_key(key: Any) -> str:
    """Return the text of a mapping key for a field path: a string as it is, any other key as YAML flow text.

    A YAML file can have keys such as `null`, `1` or `[a, b]`, which the parsers return
    as None, ints, tuples or mappings.
    """
    if isinstance(key, str):
        return key
    return _flow_text(key, MAX_KEY_DISPLAY_LENGTH, 0)


def dotted(path: Iterable[str | int]) -> str:
    """Join a field path with dots, as in ``rope_scaling.beta_fast`` or ``layer_types.3``."""
    return ".".join(str(part) for part in path)


def split_dotted(text: str) -> FieldPath:
    """Split a dotted field path, turning numeric parts into list indices."""
    if not text:
        return ()
    return tuple(int(part) if part.isdigit() else part for part in text.split("."))


def suggest_key(key: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate closest to a misspelled key, or None when none is close."""
    matches = difflib.get_close_matches(key, sorted(set(candidates)), n=1)
    return matches[0] if matches else None


def locate(path: FieldPath, positions: Mapping[FieldPath, SourceLocation]) -> SourceLocation | None:
    """Find the source location of a field, falling back to its closest enclosing key."""
    for end in range(len(path), 0, -1):
        location = positions.get(path[:end])
        if location is not None:
            return location
    return None


def _model_classes(annotation: Any) -> list[type[pydantic.BaseModel]]:
    """Collect the pydantic models inside an annotation, looking through Optional, Union and Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return [annotation]
    found: list[type[pydantic.BaseModel]] = []
    for argument in typing.get_args(annotation):
        for model in _model_classes(argument):
            if model not in found:
                found.append(model)
    return found


def _tag_matches(model: type[pydantic.BaseModel], tag: str) -> bool:
    """Tell whether a pydantic union tag in an error location names this model."""
    if tag == model.__name__:
        return True
    for field in model.model_fields.values():
        if typing.get_origin(field.annotation) is Literal and tag in typing.get_args(field.annotation):
            return True
    return False


def resolve_location(
    model: type[pydantic.BaseModel], loc: Sequence[str | int]
) -> tuple[FieldPath, type[pydantic.BaseModel] | None, bool]:
    """Turn a pydantic error location into a field path.

    Pydantic puts the tag of a union member into the location, as in
    ``("rope_scaling", "yarn", "factor")`` or ``("eos_token_id", "list[int]", 0)``.
    Returns the path without those tags, the model that owns the last key (None
    below a non-model value) and whether a union tag was dropped.
    """
    path: list[str | int] = []
    current: type[pydantic.BaseModel] | None = model
    candidates: list[type[pydantic.BaseModel]] = []
    owner: type[pydantic.BaseModel] | None = model
    dropped_tag = False

    for item in loc:
        if candidates:
            chosen = next((c for c in candidates if isinstance(item, str) and _tag_matches(c, item)), None)
            candidates = []
            if chosen is not None:
                current = chosen
                dropped_tag = True
                continue

        if current is not None and isinstance(item, str) and item in current.model_fields:
            owner = current
            path.append(item)
            models = _model_classes(current.model_fields[item].annotation)
            if len(models) == 1:
                current = models[0]
            else:
                current = None
                candidates = models
        elif isinstance(item, int):
            path.append(item)
            current = None
        elif current is None:
            # A union member label below a plain value, such as "int" or "list[int]".
            dropped_tag = True
        else:
            owner = current
            path.append(item)
            current = None

    return tuple(path), owner, dropped_tag


def _union_tags(owner: type[pydantic.BaseModel] | None, path: FieldPath, discriminator: str) -> list[str]:
    """List the quoted discriminator values of the union models that the field at `path` accepts."""
    if owner is None or not path or path[-1] not in owner.model_fields:
        return []
    tags = []
    for member in _model_classes(owner.model_fields[path[-1]].annotation):
        field = member.model_fields.get(discriminator)
        if field is not None:
            tags += [repr(value) for value in typing.get_args(field.annotation)]
    return tags


# Messages for pydantic's type errors, which name the expected type in words.
_EXPECTED_TYPE_TEXT = {
    "int_type": "a valid integer",
    "float_type": "a valid number",
}


def _issue_for_error(
    error: Mapping[str, Any],
    model: type[pydantic.BaseModel],
    positions: Mapping[FieldPath, SourceLocation],
    file: str | None,
) -> tuple[list[Issue], bool]:
    """Convert one pydantic error. The flag is True when the error belongs to one member of a union."""
    error_type = error["type"]
    loc = tuple(error["loc"])
    if error_type == "invalid_key" and loc:
        # pydantic writes a key that is not a string, such as YAML's [a, b], as its Python repr.
        # The loaders record the key's position under its YAML text.
        loc = loc[:-1] + (render_key(error["input"]),)
    path, owner, from_union = resolve_location(model, loc)

    if error_type == CROSS_FIELD_ERROR_TYPE:
        issues = []
        for violation in error["ctx"]["violations"]:
            violation_path = path + split_dotted(violation["field"])
            location = locate(violation_path, positions)
            issues.append(
                Issue(
                    file=file,
                    line=location.line if location else None,
                    column=location.column if location else None,
                    field=dotted(violation_path),
                    key=location.key if location else None,
                    code=violation["code"],
                    message=violation["message"],
                    hint=violation["hint"],
                )
            )
        return issues, False

    if error_type == "union_tag_invalid":
        return [_union_tag_invalid_issue(error, path, positions, file)], from_union

    location = locate(path, positions)
    code = _PYDANTIC_CODES.get(error_type)
    if code is None:
        code = "type" if error_type.endswith(("_type", "_parsing")) else "invalid_value"

    message = error["msg"]
    hint = None
    if error_type == "extra_forbidden":
        message = "unknown key"
        known = list(owner.model_fields) if owner is not None else []
        match = suggest_key(str(path[-1]), known) if path else None
        if path and len(path) == 1 and path[0] in _MESH_KEYS and path[0] not in known:
            hint = f"'{path[0]}' belongs in a mesh file: pass mesh sizes with --mesh FILE or --mesh {path[0]}=N"
        elif match is not None:
            hint = f"did you mean '{match}'?"
        elif known:
            hint = "remove it. Known keys here: " + ", ".join(known)
    elif error_type == "missing":
        message = "required key is missing"
    elif error_type == "union_tag_not_found":
        discriminator = error.get("ctx", {}).get("discriminator", "the discriminator").strip("'")
        message = f"'{discriminator}' is missing, so the kind of value cannot be determined"
        tags = _union_tags(owner, path, discriminator)
        hint = f"add '{discriminator}' with one of the values {', '.join(tags)}" if tags else None
    elif error_type == "value_error":
        # Messages of ValueErrors raised by ossgen's validators already name the value.
        message = message.removeprefix("Value error, ")
    elif error_type in _EXPECTED_TYPE_TEXT:
        message = f"expected {_EXPECTED_TYPE_TEXT[error_type]}, got {render_value(error['input'])}"
        hint = _generic_hint(error_type, error.get("ctx", {}))
    else:
        message = f"{message} (got {render_value(error['input'])})"
        hint = _generic_hint(error_type, error.get("ctx", {}))

    issue = Issue(
        file=file,
        line=location.line if location else None,
        column=location.column if location else None,
        field=dotted(path),
        key=location.key if location else None,
        code=code,
        message=message,
        hint=hint,
    )
    return [issue], from_union


def _union_tag_invalid_issue(
    error: Mapping[str, Any],
    path: FieldPath,
    positions: Mapping[FieldPath, SourceLocation],
    file: str | None,
) -> Issue:
    """Report an unknown discriminator value, such as rope_type: ntk, at the discriminator key."""
    context = error.get("ctx", {})
    discriminator = str(context.get("discriminator", "")).strip("'")
    expected = context.get("expected_tags", "")
    tag_path = path + (discriminator,) if discriminator else path
    location = positions.get(tag_path)
    if location is None and discriminator == "rope_type":
        # Older Hugging Face files spell rope_type as `type`; the rope model renames it before validation.
        location = positions.get(path + ("type",))
    if location is None:
        location = locate(path, positions)
    return Issue(
        file=file,
        line=location.line if location else None,
        column=location.column if location else None,
        field=dotted(tag_path),
        key=location.key if location else None,
        code="invalid_value",
        message=f"{discriminator} = {render_value(context.get('tag'))} is not one of the supported values {expected}",
        hint=_generic_hint("union_tag_invalid", context),
    )


# Mesh file keys; a config that contains them was most likely given where a mesh was meant.
_MESH_KEYS = (*MESH_AXIS_NAMES, "num_devices")


def _generic_hint(error_type: str, context: Mapping[str, Any]) -> str | None:
    """Return the fix for one of pydantic's own error types, or None when its message is enough."""
    bounds = {"greater_than": ("gt", "greater than"), "greater_than_equal": ("ge", "at least"),
              "less_than": ("lt", "less than"), "less_than_equal": ("le", "at most")}
    if error_type in bounds:
        key, words = bounds[error_type]
        return f"use a value {words} {context.get(key)}"
    if error_type == "literal_error":
        return f"use one of the allowed values: {context.get('expected', '')}"
    if error_type in ("bool_type", "bool_parsing"):
        return "write true or false, without quotes"
    if error_type in ("int_type", "int_parsing", "int_from_float"):
        return "write a whole number without quotes, such as 64"
    if error_type in ("float_type", "float_parsing", "finite_number"):
        return "write a finite number without quotes, such as 7.0"
    if error_type in ("list_type", "tuple_type"):
        return "write a list, one entry per item"
    if error_type in ("dict_type", "model_type", "model_attributes_type"):
        return "write a mapping of keys to values"
    if error_type == "union_tag_invalid":
        return f"use one of: {context.get('expected_tags', '')}"
    if error_type in ("string_type", "string_too_short"):
        return "write a non-empty text value"
    return None


# The end of a message that names the input value: " (got VALUE)" or ", got VALUE".
_GOT_SUFFIX = re.compile(r"(?: \(got .*\)|, got .*)$", re.DOTALL)


def _merge_union_messages(first: str, second: str) -> str:
    """Join the messages of two union members, naming the input value once."""
    first = _GOT_SUFFIX.sub("", first)
    if first.startswith("expected ") and second.startswith("Input should be "):
        second = second.removeprefix("Input should be ")
    return f"{first}, or {second[0].lower()}{second[1:]}"


def issues_from_validation_error(
    error: pydantic.ValidationError,
    *,
    model: type[pydantic.BaseModel],
    positions: Mapping[FieldPath, SourceLocation] | None = None,
    file: str | None = None,
) -> list[Issue]:
    """Convert every error of a pydantic `ValidationError` into an `Issue`.

    `positions` maps field paths, in ossgen's field names, to where the key sits in the
    source file. A field without an entry gets the position of its closest enclosing
    key. Errors that pydantic reports once per member of a union (such as
    ``eos_token_id`` being neither an int nor a list of ints) are merged into one issue.
    """
    positions = positions or {}
    issues: list[Issue] = []
    union_issue_index: dict[str, int] = {}

    for pydantic_error in error.errors():
        converted, from_union = _issue_for_error(pydantic_error, model, positions, file)
        for issue in converted:
            if from_union and issue.field in union_issue_index:
                index = union_issue_index[issue.field]
                issues[index] = dataclasses.replace(
                    issues[index], message=_merge_union_messages(issues[index].message, issue.message)
                )
                continue
            if from_union:
                union_issue_index[issue.field] = len(issues)
            issues.append(issue)
    return issues
