"""Writing files so that a reader never sees half of one.

Checkpoints, downloaded data, metrics and pictures are all written the same way: into a
temporary file beside the target, flushed and fsynced, then renamed over the target (a rename
within one folder is atomic), and the folder fsynced so that the rename itself survives a crash.
At every moment the target holds either its previous complete content or the new complete one.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import MinivaeError, OutputError

__all__ = ["atomic_write", "fsync_folder"]


def atomic_write(path, write):
    """Call ``write(fileobj)`` on a temporary file, fsync it and rename it over ``path``.

    If ``write`` raises, the temporary file is removed and ``path`` is untouched; an
    ``OSError`` of the file system comes out as :class:`~minivae.errors.OutputError` naming
    ``path`` (minivae's own errors, for example a failed download's, pass through unchanged).
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder, expected a file path to write")
    for folder in (path.parent, *path.parent.parents):
        if folder.exists():
            if not folder.is_dir():
                raise OutputError(f"cannot write {path}: {folder} is a file, not a folder")
            break
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # unique even for two writers of one path in one process; the process id in the name
        # lets a later writer recognize the leftovers of a killed one
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent)
        tmp = Path(tmp)
        os.close(fd)
        with open(tmp, "wb") as f:       # opened by name, so write() can read f.name
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            try:
                tmp.unlink()
            except OSError:
                pass
        if isinstance(exc, OSError) and not isinstance(exc, MinivaeError):
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
            pid = int(tmp.name.rsplit(".tmp-", 1)[1].split("-")[0])
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
