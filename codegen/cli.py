"""The `ossgen` command line: validate, generate, check, convert and schema.

Exit codes: 0 success; 1 `validate` found the config invalid or `check` found
stale files; 2 unreadable input, bad usage, or a `generate` whose input is invalid
(nothing is written then).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ossgen import __version__
from ossgen.codegen.convert import add_convert_parser
from ossgen.codegen.render import GenerationRequest, package_name_for, package_name_problem, render_package
from ossgen.codegen.summary import format_mesh_facts, mesh_facts
from ossgen.codegen.writer import diff_files, write_files
from ossgen.schema.errors import ConfigError, Issue
from ossgen.schema.json_schema import config_json_schema, mesh_json_schema, schema_text
from ossgen.schema.loaders import LoadedConfig, load_config
from ossgen.schema.mesh import MeshConfig
from ossgen.schema.mesh_loader import LoadedMesh, load_mesh_located
from ossgen.schema.sharding import check_mesh

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_UNUSABLE_INPUT = 2


class InputError(Exception):
    """Input that stops a command, with the issues to report."""

    def __init__(self, issues: list[Issue], exit_code: int):
        super().__init__("\n".join(issue.format() for issue in issues))
        self.issues = issues
        self.exit_code = exit_code


def _display_path(path: str | Path) -> str:
    """Return `path` relative to the working directory where possible, with "/" separators."""
    text = str(path)
    if not os.path.isabs(text) and not Path(text).exists():
        return Path(text).as_posix()
    return Path(os.path.relpath(Path(text).resolve(), Path.cwd())).as_posix()


def _read_error(path: str, error: OSError) -> Issue:
    reason = error.strerror or str(error)
    return Issue(
        file=path, line=None, column=None, field="", key=None, code="unreadable",
        message=f"cannot read the file: {reason}", hint="check the path and its permissions",
    )


def _load(config_path: str, mesh_source: str | None, strict: bool) -> tuple[LoadedConfig, MeshConfig | None]:
    """Load and cross-check a config and an optional mesh; raise InputError with every issue."""
    try:
        loaded = load_config(config_path, strict=strict)
    except ConfigError as error:
        unreadable = any(issue.code == "syntax" for issue in error.issues)
        raise InputError(error.issues, EXIT_UNUSABLE_INPUT if unreadable else EXIT_INVALID) from None
    except OSError as error:
        raise InputError([_read_error(config_path, error)], EXIT_UNUSABLE_INPUT) from None

    if mesh_source is None:
        return loaded, None
    try:
        located_mesh = load_mesh_located(mesh_source)
    except ConfigError as error:
        unreadable = any(issue.code == "syntax" for issue in error.issues)
        raise InputError(error.issues, EXIT_UNUSABLE_INPUT if unreadable else EXIT_INVALID) from None
    except OSError as error:
        raise InputError([_read_error(mesh_source, error)], EXIT_UNUSABLE_INPUT) from None

    mesh = located_mesh.mesh
    if not mesh.is_resolved and mesh.num_devices is not None:
        mesh = mesh.resolve()
    mesh_issues = [_place_mesh_issue(issue, loaded, located_mesh) for issue in check_mesh(loaded.config, mesh)]
    if not mesh.is_resolved:
        unresolved_warning = _unresolved_axis_warning(mesh, located_mesh)
        if strict:
            mesh_issues.append(replace(unresolved_warning, severity="error"))
        else:
            loaded = replace(loaded, warnings=(*loaded.warnings, unresolved_warning))
    if mesh_issues:
        raise InputError(mesh_issues, EXIT_INVALID)
    return loaded, mesh


def _unresolved_axis_warning(mesh: MeshConfig, located_mesh: LoadedMesh) -> Issue:
    axis = next(name for name, size in mesh.shape.items() if size == -1)
    location = located_mesh.positions.get(axis)
    return Issue(
        file=located_mesh.source, line=location.line if location else None,
        column=location.column if location else None, field=axis, key=axis, code="mesh",
        message=f"mesh axis '{axis}' is -1 and num_devices is not given, so nothing it shards was checked",
        hint="set num_devices in the mesh to check every axis now",
        severity="warning",
    )


def _place_mesh_issue(issue: Issue, loaded: LoadedConfig, located_mesh: LoadedMesh) -> Issue:
    """Point a config-against-mesh issue at the mesh axis in the mesh file, or else at the config key.

    The message then names the other side's position too, so both files are found.
    """
    config_location = loaded.locate(issue.field)
    config_text = str(loaded.path)
    if config_location is not None:
        config_text += f":{config_location.line}:{config_location.column}"
    axis_location = located_mesh.positions.get(issue.key or "")

    if axis_location is not None:
        return replace(
            issue, file=located_mesh.source, line=axis_location.line, column=axis_location.column,
            message=f"{issue.message}; {issue.field} is set at {config_text}",
        )
    return replace(
        issue,
        file=str(loaded.path),
        line=config_location.line if config_location else None,
        column=config_location.column if config_location else None,
        message=f"{issue.message}; the mesh is {located_mesh.source}",
    )


def _print_issues(issues: Sequence[Issue]) -> None:
    for issue in issues:
        print(issue.format(), file=sys.stderr)


def _print_json_report(
    config_path: str, issues: Sequence[Issue], loaded: LoadedConfig | None = None, mesh: MeshConfig | None = None
) -> None:
    """Print the machine-readable result of `validate`: validity, every issue, and the mesh facts."""
    report = {
        "file": config_path,
        "valid": loaded is not None,
        "source_format": None if loaded is None else loaded.source_format,
        "issues": [issue.to_dict() for issue in issues],
        "ignored_keys": [] if loaded is None else list(loaded.ignored_keys),
        "mesh": None if loaded is None or mesh is None else mesh_facts(loaded.config, mesh),
    }
    print(json.dumps(report, indent=2))


def run_validate(arguments: argparse.Namespace) -> int:
    try:
        loaded, mesh = _load(arguments.config, arguments.mesh, arguments.strict)
    except InputError as error:
        if arguments.format == "json":
            _print_json_report(arguments.config, error.issues)
        else:
            _print_issues(error.issues)
        return error.exit_code

    if arguments.format == "json":
        _print_json_report(arguments.config, loaded.warnings, loaded, mesh)
        return EXIT_OK
    _print_issues(loaded.warnings)
    config = loaded.config
    print(
        f"{arguments.config}: valid {loaded.source_format} config: {config.num_hidden_layers} layers, "
        f"{config.num_local_experts} experts (top {config.num_experts_per_tok}), hidden size {config.hidden_size}"
    )
    if arguments.verbose and loaded.ignored_keys:
        print("accepted but not used by the model: " + ", ".join(loaded.ignored_keys))
    if mesh is not None:
        print(format_mesh_facts(config, mesh_facts(config, mesh)))
    return EXIT_OK


def _generate_files(
    config_path: str, mesh_source: str | None, name: str | None, output_dir: str, strict: bool
) -> tuple[dict[str, str], Path]:
    loaded, mesh = _load(config_path, mesh_source, strict)
    package_name = package_name_for(config_path) if name is None else name
    problem = package_name_problem(package_name)
    if problem is not None:
        issue = Issue(
            file=None, line=None, column=None, field="name", key=None, code="invalid_value",
            message=f"package name {package_name!r} {problem}",
            hint="pass --name with ASCII letters, digits and underscores, such as gpt_oss_20b_tp2",
        )
        raise InputError([issue], EXIT_UNUSABLE_INPUT)
    request = GenerationRequest(
        config=loaded.config,
        mesh=mesh or MeshConfig(),
        package_name=package_name,
        config_path=_display_path(config_path),
        mesh_source=None if mesh_source is None else _display_path(mesh_source),
        output_dir=_display_path(output_dir),
    )
    return render_package(request), Path(output_dir) / package_name


def run_generate(arguments: argparse.Namespace) -> int:
    try:
        files, project_dir = _generate_files(
            arguments.config, arguments.mesh, arguments.name, arguments.output, arguments.strict
        )
    except InputError as error:
        _print_issues(error.issues)
        print("nothing was written", file=sys.stderr)
        return EXIT_UNUSABLE_INPUT

    try:
        written = write_files(files, project_dir)
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        print("nothing was written", file=sys.stderr)
        return EXIT_UNUSABLE_INPUT
    print(f"generated {project_dir} ({len(written)} of {len(files)} files changed)")
    return EXIT_OK


def _recorded_sources(pyproject: Path) -> dict[str, str]:
    """Return the `[tool.ossgen]` table of a generated pyproject.toml; raise ValueError when it is unusable."""
    try:
        document = tomllib.loads(pyproject.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"invalid TOML: {error}") from None
    tool = document.get("tool")
    table = tool.get("ossgen") if isinstance(tool, dict) else None
    if not isinstance(table, dict) or "config" not in table:
        raise ValueError("no [tool.ossgen] table naming its config; regenerate the package with ossgen generate")
    for key in ("config", "mesh", "name"):
        if key in table and not isinstance(table[key], str):
            raise ValueError(f"[tool.ossgen] {key} = {table[key]!r} is not a string; regenerate the package with ossgen generate")
    return table


def run_check(arguments: argparse.Namespace) -> int:
    stale = 0
    checked = 0
    for root in arguments.directories:
        projects = sorted(Path(root).glob("*/pyproject.toml"))
        if not projects:
            print(f"{root}: no generated packages found (expected DIR/NAME/pyproject.toml)", file=sys.stderr)
            return EXIT_UNUSABLE_INPUT
        for pyproject in projects:
            try:
                sources = _recorded_sources(pyproject)
                files, project_dir = _generate_files(
                    sources["config"], sources.get("mesh"), sources.get("name"), str(pyproject.parent.parent), False
                )
            except (OSError, ValueError) as error:
                print(f"{pyproject}: {error}", file=sys.stderr)
                return EXIT_UNUSABLE_INPUT
            except InputError as error:
                _print_issues(error.issues)
                print(
                    f"{pyproject}: cannot regenerate from the sources its [tool.ossgen] table names; "
                    "run ossgen check from the directory where ossgen generate ran, because those paths are relative to it",
                    file=sys.stderr,
                )
                return EXIT_UNUSABLE_INPUT
            checked += 1
            diff = diff_files(files, project_dir)
            if diff:
                stale += 1
                sys.stdout.writelines(diff)
                print(f"{project_dir}: stale; regenerate with the command in its banner")
    if stale:
        return EXIT_INVALID
    print(f"{checked} generated package(s) up to date")
    return EXIT_OK


def run_schema(arguments: argparse.Namespace) -> int:
    schema = mesh_json_schema() if arguments.mesh else config_json_schema()
    text = schema_text(schema)
    if arguments.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    write_files({Path(arguments.output).name: text}, Path(arguments.output).parent)
    print(f"wrote {arguments.output}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ossgen", description="Validate GPT-OSS configs and generate Flax NNX model packages."
    )
    parser.add_argument("--version", action="version", version=f"ossgen {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="check a config (and optionally a mesh) and report every problem")
    validate.add_argument("config", help="YAML, JSON, Hugging Face config.json or OpenAI original/config.json")
    validate.add_argument("--mesh", help="mesh file (YAML/JSON) or inline sizes such as ep=4,tp=2")
    validate.add_argument("--strict", action="store_true", help="treat warnings as errors")
    validate.add_argument("--verbose", action="store_true", help="also list keys accepted but not used by the model")
    validate.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    validate.set_defaults(handler=run_validate)

    generate = commands.add_parser("generate", help="write a Flax NNX package for a config and mesh")
    generate.add_argument("config", help="YAML, JSON, Hugging Face config.json or OpenAI original/config.json")
    generate.add_argument("--mesh", help="mesh file (YAML/JSON) or inline sizes such as ep=4,tp=2")
    generate.add_argument("--name", help="Python package name (default: from the config file name)")
    generate.add_argument("-o", "--output", required=True, help="folder to write the package project into")
    generate.add_argument("--strict", action="store_true", help="treat warnings as errors")
    generate.set_defaults(handler=run_generate)

    check = commands.add_parser("check", help="fail with a diff when generated packages are stale")
    check.add_argument("directories", nargs="*", default=["generated"], help="folders of generated packages (default: generated)")
    check.set_defaults(handler=run_check)
    add_convert_parser(commands)

    schema = commands.add_parser("schema", help="write the JSON Schema of the config format (or of mesh files)")
    schema.add_argument("--mesh", action="store_true", help="write the schema of mesh files instead")
    schema.add_argument("-o", "--output", help="file to write (default: standard output)")
    schema.set_defaults(handler=run_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    arguments = build_parser().parse_args(argv)
    try:
        return arguments.handler(arguments)
    except BrokenPipeError:
        # The reader of stdout went away (`ossgen ... | head`): point stdout at
        # /dev/null so the interpreter's final flush cannot fail, and exit 1 as
        # the output was cut short.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
