"""Export files only their owner can read, written completely or not at all.

`owner_only_target` hands out a temporary file (mode 0600) in the target's folder; the finished file is renamed
onto the target, so a reader never sees half an export, and a failure removes the temporary file and leaves an
older file at the target untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bot.analytics.writers.cells import WriterError
from bot.files import PRIVATE_FILE, private_dir


class OutputError(WriterError):
    """The export's target path cannot be used (a folder where a file belongs, a file where a folder belongs…)."""


def private_folder(path: Path) -> Path:
    """The folder `path`, created with mode 0700 (and missing parents) if it does not exist; refuses a non-folder."""
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path} exists and is not a folder; without --survey, --out names a folder")
    try:
        return private_dir(path)
    except OSError as error:
        raise OutputError(f"cannot create the folder {path}: {error.strerror or error}") from error


@contextlib.contextmanager
def owner_only_target(path: Path) -> Iterator[Path]:
    """Yield a temporary path (mode 0600) beside `path`; rename it onto `path` when the block ends without error."""
    if path.is_dir():
        raise OutputError(f"{path} is a folder; expected a file name")
    folder = path.parent
    if not folder.is_dir():
        raise OutputError(f"the folder {folder} does not exist")
    try:
        descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    except OSError as error:
        raise OutputError(f"cannot write into {folder}: {error.strerror or error}") from error
    os.close(descriptor)  # mkstemp made it 0600; writers reopen it by name (XlsxWriter and pyreadstat need a path)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, PRIVATE_FILE)  # a library may have replaced the file instead of reusing it
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


def companion_path(target: Path, suffix: str) -> Path:
    """A file beside `target` named after it: `companion_path(Path("a.csv"), ".codebook.csv")` is a.csv.codebook.csv."""
    return target.with_name(target.name + suffix)
