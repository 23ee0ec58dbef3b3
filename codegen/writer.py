"""Writing rendered packages to disk and comparing them with what is there."""

from __future__ import annotations

import difflib
import os
import tempfile
from pathlib import Path


def write_files(files: dict[str, str], project_dir: Path) -> list[Path]:
    """Write rendered files under `project_dir`; return the paths written.

    Each file goes to a temporary name in its folder first and then replaces the
    old one, so an interrupted run leaves every file either old or new, never cut short.
    Files that are already identical are left alone, keeping their timestamps.
    """
    written = []
    for relative_path, text in files.items():
        target = project_dir / relative_path
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            continue
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        written.append(target)
    return written


def diff_files(files: dict[str, str], project_dir: Path) -> list[str]:
    """Return a unified diff from the files on disk to the rendered ones; empty when they match.

    A rendered file missing on disk shows as added; a stray `.py` file in the
    package folder that the generator does not write shows as removed.
    """
    lines: list[str] = []
    for relative_path, text in sorted(files.items()):
        target = project_dir / relative_path
        current = target.read_text(encoding="utf-8") if target.is_file() else ""
        if current == text:
            continue
        lines += difflib.unified_diff(
            current.splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"{target} (on disk)" if target.is_file() else "/dev/null",
            tofile=f"{target} (regenerated)",
        )

    package_dirs = {Path(relative_path).parent for relative_path in files if "/" in relative_path}
    for package_dir in package_dirs:
        for stray in sorted((project_dir / package_dir).glob("*.py")):
            if stray.relative_to(project_dir).as_posix() not in files:
                lines.append(f"--- {stray} (on disk)\n+++ /dev/null (not generated)\n")
    return lines
