"""Writing rendered packages to disk and comparing them with what is there."""

from __future__ import annotations

import difflib
import os
import tempfile
from pathlib import Path


class WriteError(OSError):
    """A package could not be written; no file of it was replaced."""


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _read_text(path: Path) -> str | None:
    """Return a file's text, None when it does not exist; bytes that are not UTF-8 show as U+FFFD."""
    if not path.is_file():
        return None
    return path.read_bytes().decode("utf-8", errors="replace")


def write_files(files: dict[str, str], project_dir: Path) -> list[Path]:
    """Write rendered files under `project_dir`; return the paths that changed.

    Every changed file is first written to a temporary name beside its target;
    only when all of them are written do they replace their targets. A failure
    before that point (a target that is a folder, a full disk, no permission)
    leaves every existing file as it was. Files that are already identical are
    not touched, so they keep their timestamps.

    Raises:
      WriteError: a target cannot be written; the message names it.
    """
    pending: list[tuple[Path, str]] = []
    for relative_path, text in files.items():
        target = project_dir / relative_path
        if target.exists() and not target.is_file():
            raise WriteError(f"cannot write {target}: it exists and is not a regular file; move it away and run again")
        if _read_text(target) != text:
            pending.append((target, text))

    mode = 0o666 & ~_current_umask()
    staged: list[tuple[Path, Path]] = []
    try:
        for target, text in pending:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            except OSError as error:
                raise WriteError(f"cannot write {target}: {error.strerror or error}") from None
            staged.append((Path(temporary), target))
            with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
            # mkstemp creates files readable by the owner alone; give them the usual mode.
            os.chmod(temporary, mode)
    except BaseException:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        raise

    for temporary, target in staged:
        os.replace(temporary, target)
    return [target for _, target in staged]


def diff_files(files: dict[str, str], project_dir: Path) -> list[str]:
    """Return a unified diff from the files on disk to the rendered ones, or an empty list when they match.

    A rendered file missing on disk shows as added; a stray `.py` file in the
    package folder that the generator does not write shows as removed.
    """
    lines: list[str] = []
    for relative_path, text in sorted(files.items()):
        target = project_dir / relative_path
        current = _read_text(target)
        if current == text:
            continue
        lines += difflib.unified_diff(
            (current or "").splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"{target} (on disk)" if current is not None else "/dev/null",
            tofile=f"{target} (regenerated)",
        )

    package_dirs = {Path(relative_path).parent for relative_path in files if "/" in relative_path}
    for package_dir in package_dirs:
        for stray in sorted((project_dir / package_dir).glob("*.py")):
            if stray.relative_to(project_dir).as_posix() not in files:
                lines.append(f"--- {stray} (on disk)\n+++ /dev/null (not generated)\n")
    return lines
