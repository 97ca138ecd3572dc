"""Writing files so that a reader never sees half of one.

Checkpoints, downloaded data, metrics and pictures are all written the same way: into a
temporary file beside the target, flushed and fsynced, then renamed over the target (a rename
within one folder is atomic), and the folder fsynced so that the rename itself survives a crash.
At every moment the target holds either its previous complete content or the new complete one.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import OutputError

__all__ = ["atomic_write", "fsync_folder"]


def atomic_write(path, write):
    """Call ``write(fileobj)`` on a temporary file, fsync it and rename it over ``path``.

    If ``write`` raises, the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder, expected a file path to write")
    for folder in (path.parent, *path.parent.parents):
        if folder.exists():
            if not folder.is_dir():
                raise OutputError(f"cannot write {path}: {folder} is a file, not a folder")
            break
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
        raise
    _remove_stale_temporaries(path)
    fsync_folder(path.parent)     # make the rename itself durable
    return path


def fsync_folder(folder) -> None:
    """Flush a folder's entries (a rename or a new file in it) to disk, where the OS allows."""
    try:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:  # pragma: no cover - some file systems do not allow fsync on folders
        pass


def _remove_stale_temporaries(path):
    """Delete temporaries of ``path`` left by writers that were killed (their process is gone)."""
    for tmp in path.parent.glob(f".{path.name}.tmp-*"):
        try:
            pid = int(tmp.name.rsplit("-", 1)[1])
        except ValueError:
            continue
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            try:
                tmp.unlink()
            except OSError:
                pass
        except (PermissionError, OSError):
            pass   # alive (or not ours to ask about): leave it
