"""Finding the files of a split on disk, and downloading the missing ones from the mirrors.

A download streams into a temporary file beside its destination (through
:func:`minivae.runtime.files.atomic_write`), is checked against its SHA-256 (or, for files whose
bytes vary, its parsed content) and only then renamed into place, so a file at its final path is
always complete and verified.
"""
from __future__ import annotations

import hashlib
import http.client
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Optional

from ..errors import DataFileError, DownloadError, OutputError, ValidationError
from ..runtime.files import atomic_write
from .formats import _check_content, read_amat
from .registry import ENV_VAR, PathLike, resolve_root, spec_of, split_spec_of

__all__ = ["download", "fetch"]

# --------------------------------------------------------------------------------------
# Downloading


def _sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def download(
    url: str,
    dest: PathLike,
    sha256: Optional[str] = None,
    timeout: float = 30,
    *,
    verify: Optional[Callable[[Path], None]] = None,
) -> Path:
    """Download ``url`` to ``dest`` atomically, optionally checking its SHA-256.

    The body is streamed into a temporary file next to ``dest``, checked, flushed to disk
    and renamed over ``dest`` in one step (:func:`minivae.runtime.files.atomic_write`), so
    ``dest`` is either the old file or the complete new one, never a partial download.

    Parameters
    ----------
    url : str
        Address to fetch (``http``, ``https`` or ``file``).
    dest : str or os.PathLike
        Final path. Its folder is created if missing.
    sha256 : str, optional
        Expected hex SHA-256 of the downloaded bytes.
    timeout : float, default 30
        Seconds to wait for the connection and for each read from it.
    verify : callable, optional
        ``verify(tmp_path)`` is called on the complete temporary file before the rename;
        raising :class:`DataFileError` rejects the download. Used when the bytes have no
        fixed checksum but the parsed content does.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    DownloadError
        On an HTTP error, a connection error or timeout, a transfer shorter or longer than
        the announced Content-Length, a checksum mismatch (message gives expected and got)
        or a rejected ``verify``. The temporary file is removed and an existing ``dest``
        is left untouched.
    """
    if not isinstance(url, str) or not url:
        raise ValidationError(f"url must be a non-empty str, got {url!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValidationError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if sha256 is not None:
        sha256 = sha256.lower()
    dest = Path(dest)

    def write(out):
        got, digest = _stream(url, out, timeout)
        if sha256 is not None and digest != sha256:
            raise DownloadError(
                f"checksum mismatch for {url}: expected SHA-256 {sha256}, got {digest} "
                f"({got} bytes)"
            )
        if verify is not None:
            out.flush()
            try:
                verify(Path(out.name))
            except DataFileError as exc:
                raise DownloadError(f"content check failed for {url}: {exc}") from exc

    try:
        return atomic_write(dest, write)
    except OutputError as exc:
        # the temporary file could not be made or written (a folder in the way, no space)
        raise DownloadError(f"cannot download {url} to {dest}: {exc}") from exc


def _stream(url: str, out, timeout: float) -> tuple[int, str]:
    """Copy the body of ``url`` into the open binary file ``out``; return (bytes, sha256)."""
    h = hashlib.sha256()
    got = 0
    request = urllib.request.Request(url, headers={"User-Agent": "minivae"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            announced = response.headers.get("Content-Length")
            while chunk := response.read(1 << 16):
                out.write(chunk)
                h.update(chunk)
                got += len(chunk)
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise DownloadError(f"cannot download {url}: {exc.reason}") from exc
    except TimeoutError as exc:
        raise DownloadError(f"cannot download {url}: no data for {timeout} s (timed out)") from exc
    except (http.client.HTTPException, OSError) as exc:
        raise DownloadError(
            f"cannot download {url}: transfer failed after {got} bytes: {exc!r}"
        ) from exc
    # http.client returns a short body without complaint when the server closes the
    # connection early, so the announced length is the only sign of a cut transfer.
    if announced is not None and announced.strip().isdigit() and int(announced) != got:
        raise DownloadError(
            f"truncated transfer from {url}: Content-Length announced {int(announced)} bytes, "
            f"received {got}"
        )
    return got, h.hexdigest()


# --------------------------------------------------------------------------------------
# Finding (and if needed downloading) the files of one split


def _local_candidates(folder: Path, file_spec: dict) -> list[Path]:
    return [folder / n for n in file_spec["names"]]


def _check_cached(path: Path, file_spec: dict) -> None:
    """Compare a file already on disk with its byte checksum, if it has one."""
    expected = file_spec.get("sha256")
    if expected is None:
        return
    got = _sha256_file(path)
    if got != expected.lower():
        # Never delete it ourselves: it may be a user's own file put there on purpose.
        raise DataFileError(
            f"{path} is corrupt or not the expected file: expected SHA-256 {expected}, got "
            f"{got}. Delete it so that it is downloaded again, or replace it with a good copy."
        )


def _where_message(name: str, missing: list[list[Path]], spec: dict) -> str:
    """Tell where files go; ``missing`` holds the accepted paths of each file, best first."""
    lines = [f"put these file(s) of data set {name!r} there:"]
    for accepted in missing:
        also = "".join(f" (or {p.name})" for p in accepted[1:])
        lines.append(f"  {accepted[0]}{also}")
    lines.append(
        f"or set the environment variable {ENV_VAR} to a folder holding "
        f"{spec['folder']}/<files>, or name that folder with root=<folder> (on the command line, "
        f"--data-dir <folder>)."
    )
    return "\n".join(lines)


def fetch(
    name: str, split: str, root: Optional[PathLike] = None, download: bool = True
) -> dict[str, Path]:
    """Return the local paths of the files of one split, downloading missing ones.

    Parameters
    ----------
    name : str
        Data set name, a key of :data:`DATASETS`.
    split : str
        Split name, e.g. ``"train"``.
    root : str or os.PathLike, optional
        Data root, see :func:`resolve_root`.
    download : bool, default True
        Download missing files from the mirrors (in order) into ``<root>/<folder>/``.

    Returns
    -------
    dict of str to pathlib.Path
        Role -> path: ``{"images": ..., "labels": ...}`` for IDX data sets,
        ``{"rows": ...}`` for binarized MNIST.

    Raises
    ------
    ValidationError
        Unknown ``name`` or ``split``.
    DataFileError
        A cached file fails its checksum (delete it to download again), or a file is
        missing and ``download`` is False. The message lists the expected paths.
    DownloadError
        Every mirror failed; the message lists the expected paths and every URL tried with
        its failure.

    Notes
    -----
    Binarized MNIST files have no byte checksum; their content is checked by :func:`load`
    after parsing (and by this function right after a download).
    """
    spec = spec_of(name)
    split_spec = split_spec_of(name, split)
    if spec["format"] == "generated":
        raise ValidationError(f"data set {name!r} is drawn by minivae, not downloaded: it has no files "
                              f"to fetch (load it with minivae.datasets.load({name!r}, {split!r}))")
    folder = resolve_root(root) / spec["folder"]
    paths: dict[str, Path] = {}
    missing: dict[str, dict] = {}
    for role, file_spec in split_spec["files"].items():
        found = next((p for p in _local_candidates(folder, file_spec) if p.is_file()), None)
        if found is None:
            missing[role] = file_spec
        else:
            _check_cached(found, file_spec)
            paths[role] = found
    if not missing:
        return paths

    expected = [_local_candidates(folder, fs) for fs in missing.values()]
    urls = [[m + fs["remote"] for m in spec["mirrors"]] for fs in missing.values()]
    if not download:
        tried = "\n".join(f"  {u}" for group in urls for u in group)
        raise DataFileError(
            f"data set {name!r} split {split!r}: file(s) missing and downloading is off "
            f"(download=False, or --no-download on the command line).\n"
            + _where_message(name, expected, spec)
            + f"\nor allow the download, which fetches them from:\n{tried}"
        )
    for (role, file_spec), file_urls in zip(missing.items(), urls):
        paths[role] = _download_first(name, spec, file_spec, folder, file_urls, expected)
    return paths


def _download_first(
    name: str,
    spec: dict,
    file_spec: dict,
    folder: Path,
    urls: list[str],
    expected: list[list[Path]],
) -> Path:
    """Try each mirror URL in turn; return the saved path or raise listing every failure."""
    dest = folder / file_spec["remote"]
    verify = None
    if file_spec.get("content_sha256"):
        def verify(tmp: Path, _fs: dict = file_spec) -> None:
            _check_content(tmp, read_amat(tmp), _fs["content_sha256"])
    failures = []
    for url in urls:
        try:
            return download(url, dest, sha256=file_spec.get("sha256"), verify=verify)
        except DownloadError as exc:
            failures.append(f"  {exc}")  # each message starts with its URL's story
    raise DownloadError(
        f"could not download {file_spec['remote']} of data set {name!r}; URLs tried:\n"
        + "\n".join(failures)
        + "\nTo install the data by hand, "
        + _where_message(name, expected, spec)
    )
