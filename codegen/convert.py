"""The `ossgen convert` command: write a config in another format that ossgen reads.

Exit codes: 0 on success. 1 when the config is invalid, or when `--strict` finds a
warning, such as a value that the target format cannot carry. 2 when the input cannot
be read or parsed, or the output cannot be written. Nothing is written unless the
exit code is 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from ossgen.schema.errors import ConfigError, Issue
from ossgen.schema.loaders import LoadedConfig, load_config
from ossgen.schema.writers import WriteTarget, to_json_text, to_mapping, to_yaml_text

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_UNUSABLE_INPUT = 2

# Command-line names of the output formats and the writer target each one uses.
TARGETS: dict[str, WriteTarget] = {"yaml": "ossgen", "json": "ossgen", "hf": "hf", "openai": "openai"}


def add_convert_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `convert` command on the sub-parsers of the `ossgen` parser."""
    parser = subparsers.add_parser(
        "convert",
        help="write a config as ossgen YAML or JSON, a Hugging Face config.json or an OpenAI original/config.json",
        description=(
            "Validate a config and write it in another format. Values that the target format cannot "
            "carry are reported as warnings. Comments of an ossgen YAML source are kept when the target is yaml."
        ),
    )
    parser.add_argument("config", help="YAML, JSON, Hugging Face config.json or OpenAI original/config.json")
    parser.add_argument(
        "--to",
        required=True,
        choices=tuple(TARGETS),
        help=(
            "output format: yaml or json (ossgen's own keys), hf (Hugging Face config.json) "
            "or openai (OpenAI original/config.json)"
        ),
    )
    parser.add_argument(
        "-o",
        "--output",
        help="file to write (default: standard output). An existing file is replaced only when the conversion succeeds",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="treat warnings, including values that the target format cannot carry, as errors",
    )
    parser.set_defaults(handler=run_convert)
    return parser


def _print_issues(issues: list[Issue]) -> None:
    for issue in issues:
        print(issue.format(), file=sys.stderr)


def _load(config_path: str, strict: bool) -> tuple[LoadedConfig | None, int]:
    """Load the config and print every problem found. Return the config, or None and the exit code."""
    try:
        return load_config(config_path, strict=strict), EXIT_OK
    except ConfigError as error:
        _print_issues(error.issues)
        unreadable = any(issue.code == "syntax" for issue in error.issues)
        return None, EXIT_UNUSABLE_INPUT if unreadable else EXIT_INVALID
    except OSError as error:
        reason = error.strerror or str(error)
        print(f"{config_path}: error: cannot read the file: {reason}", file=sys.stderr)
        return None, EXIT_UNUSABLE_INPUT


def _convert(loaded: LoadedConfig, target_name: str) -> tuple[str, list[Issue]]:
    """Return the output text and the warnings about values that the target cannot carry."""
    config = loaded.config
    mapping, lossy = to_mapping(config, TARGETS[target_name])
    if target_name != "yaml":
        return to_json_text(mapping), lossy

    source_text = None
    if loaded.source_format == "ossgen-yaml":
        # Read again to keep the source's comments. load_config decodes the same way.
        source_text = loaded.path.read_text(encoding="utf-8-sig")
    return to_yaml_text(config, source_text=source_text), lossy


def _write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file in the same folder and rename it over `path`.

    The rename is atomic, so readers see the old file or the new one, never a partial one.
    """
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def run_convert(arguments: argparse.Namespace) -> int:
    """Run `ossgen convert` and return its exit code."""
    loaded, exit_code = _load(arguments.config, arguments.strict)
    if loaded is None:
        return exit_code
    _print_issues(list(loaded.warnings))

    try:
        text, lossy = _convert(loaded, arguments.to)
    except OSError as error:
        reason = error.strerror or str(error)
        print(f"{arguments.config}: error: cannot read the file again: {reason}", file=sys.stderr)
        return EXIT_UNUSABLE_INPUT

    lossy = [replace(issue, file=arguments.config) for issue in lossy]
    if arguments.strict and lossy:
        _print_issues([replace(issue, severity="error") for issue in lossy])
        print("nothing was written", file=sys.stderr)
        return EXIT_INVALID
    _print_issues(lossy)

    if arguments.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        _write_atomically(Path(arguments.output), text)
    except OSError as error:
        reason = error.strerror or str(error)
        print(f"{arguments.output}: error: cannot write the file: {reason}", file=sys.stderr)
        return EXIT_UNUSABLE_INPUT
    print(f"wrote {arguments.output} ({arguments.to})")
    return EXIT_OK
