"""Image data sets for minivae: finding, downloading, verifying, parsing and batching them.

Three data sets are known (see :data:`DATASETS`):

``"mnist"``
    Handwritten digits, 60,000 train / 10,000 test grey-level 28x28 images with labels.
``"fashion-mnist"``
    Zalando's clothing images, same sizes and file format as MNIST.
``"binarized-mnist"``
    The fixed (static) binarization of MNIST by Larochelle & Murray (2011), the standard
    benchmark of the VAE literature: 50,000 train / 10,000 valid / 10,000 test rows of 0/1
    pixels, no labels.

Files live below a *data root* (see :func:`resolve_root`) in the layout::

    <root>/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    <root>/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    <root>/binarized-mnist/binarized_mnist_{train,valid,test}.amat.gz   (or .amat)

Missing files are downloaded from the mirrors in the registry, and every file is checked
against a SHA-256 before it is used, so a half-written or tampered file never silently
turns into training data.

Typical use::

    data = load("mnist", "train")              # Dataset(x=(60000, 784) float32, y=(60000,))
    rng = np.random.default_rng(0)
    for xb in batches(data.x, 128, rng, binarize="dynamic"):
        ...
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional, Union

import numpy as np

from .errors import DataFileError, DownloadError, InputTypeError, ValidationError

__all__ = [
    "DATASETS",
    "ENV_VAR",
    "Dataset",
    "resolve_root",
    "download",
    "fetch",
    "read_idx",
    "read_amat",
    "dequantize",
    "dequantize_fixed",
    "load",
    "binarize",
    "threshold",
    "binarize_fixed",
    "batches",
    "content_sha256",
]

PathLike = Union[str, "os.PathLike[str]"]

#: Name of the environment variable that points at a data root.
ENV_VAR = "MINIVAE_DATA"

#: Number of pixels in one flattened 28x28 image.
N_PIXELS = 784

_MNIST_MIRRORS = (
    # The S3 mirror comes first: the original site has answered with HTTP 403 or a
    # login prompt for long stretches since 2023, and trying it first would only add a
    # failed request to every download.
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)


def _idx_splits(sha: dict[str, str], n_train: int = 60000, n_test: int = 10000) -> dict:
    """Build the ``"splits"`` entry shared by the two IDX data sets (same file names)."""

    def one(prefix: str, n: int) -> dict:
        images = f"{prefix}-images-idx3-ubyte.gz"
        labels = f"{prefix}-labels-idx1-ubyte.gz"
        return {
            "n": n,
            "files": {
                "images": {"names": (images,), "remote": images, "sha256": sha[images]},
                "labels": {"names": (labels,), "remote": labels, "sha256": sha[labels]},
            },
        }

    return {"train": one("train", n_train), "test": one("t10k", n_test)}


def _amat_split(stem: str, n: int, content: str) -> dict:
    """Build one split entry of binarized MNIST."""
    return {
        "n": n,
        "files": {
            "rows": {
                # The shared copies are gzip files; a plain download is saved as .amat.
                "names": (f"{stem}.amat.gz", f"{stem}.amat"),
                "remote": f"{stem}.amat",
                # The bytes of an .amat file depend on who wrote it (the shared .gz copies
                # were regenerated, Larochelle's originals are uncompressed text), so no byte
                # checksum is fixed. The content is checked instead, see "content_sha256".
                "sha256": None,
                "content_sha256": content,
            }
        },
    }


#: The registry of known data sets: name -> spec (plain dicts so tests can patch them).
#:
#: Each spec has
#:
#: ``"folder"``
#:     Sub-folder of the data root holding the files.
#: ``"format"``
#:     ``"idx"`` (an ``"images"`` and a ``"labels"`` file per split) or ``"amat"`` (one
#:     ``"rows"`` file per split).
#: ``"mirrors"``
#:     Base URLs tried in order; a file's URL is ``mirror + remote``.
#: ``"splits"``
#:     split name -> ``{"n": number of examples, "files": role -> file spec}`` where a
#:     file spec has ``"names"`` (local file names accepted, first preferred), ``"remote"``
#:     (file name on the mirrors, also the local name a download is saved under),
#:     ``"sha256"`` (of the file's bytes, or None) and optionally ``"content_sha256"`` (see
#:     :func:`content_sha256`).
DATASETS: dict[str, dict] = {
    "mnist": {
        "folder": "mnist",
        "format": "idx",
        "mirrors": _MNIST_MIRRORS,
        # SHA-256 of the official .gz files (whose MD5 sums match the published ones).
        "splits": _idx_splits(
            {
                "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            }
        ),
    },
    "fashion-mnist": {
        "folder": "fashion-mnist",
        "format": "idx",
        "mirrors": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        "splits": _idx_splits(
            {
                "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            }
        ),
    },
    "binarized-mnist": {
        "folder": "binarized-mnist",
        "format": "amat",
        "mirrors": ("http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/",),
        # content_sha256 = SHA-256 of np.packbits(x).tobytes(), x the parsed (N, 784) uint8
        # 0/1 array in file order. It pins the values and the row order whatever the text
        # layout or compression, computed once from the verified copies described in the
        # data README (identical element for element in two independent sources).
        "splits": {
            "train": _amat_split(
                "binarized_mnist_train",
                50000,
                "727146c35424b019f3e350e1e69faa05644a0abaf787e3f4e1a9632220a13906",
            ),
            "valid": _amat_split(
                "binarized_mnist_valid",
                10000,
                "a256ac44ae26be720fad8616a05ed6ecfd1619930d9a208379bb2a4405df5b6d",
            ),
            "test": _amat_split(
                "binarized_mnist_test",
                10000,
                "9fcd8da6f0fdf09b2ba30fe63a0bb784042a0de82563172530229b983e294ff2",
            ),
        },
    },
}


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """One split of a data set, flattened and scaled to [0, 1].

    Attributes
    ----------
    x : ndarray, shape (N, 784)
        Pixels in [0, 1], floating dtype. Grey levels are ``pixel / 255``; binarized MNIST
        holds exactly 0 and 1.
    y : ndarray of int64, shape (N,), or None
        Class labels 0..9, or None for data sets without labels (binarized MNIST).
    name : str
        Registry name, e.g. ``"mnist"``.
    split : str
        Split name, e.g. ``"train"``.
    """

    x: np.ndarray
    y: Optional[np.ndarray]
    name: str
    split: str

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __repr__(self) -> str:
        # The default repr would print pixel arrays; shapes are what one wants to see.
        y = "None" if self.y is None else f"{self.y.shape} {self.y.dtype}"
        return (
            f"Dataset(name={self.name!r}, split={self.split!r}, "
            f"x={self.x.shape} {self.x.dtype}, y={y})"
        )


# --------------------------------------------------------------------------------------
# Where the files are


def resolve_root(root: Optional[PathLike] = None) -> Path:
    """Return the data root folder.

    Parameters
    ----------
    root : str or os.PathLike, optional
        Explicit folder. Wins over everything else.

    Returns
    -------
    pathlib.Path
        Absolute path: ``root`` if given, else the folder named by the environment
        variable ``MINIVAE_DATA`` if set and non-empty, else ``./data`` below the current
        directory. The folder need not exist.
    """
    if root is not None:
        if not isinstance(root, (str, os.PathLike)):
            raise InputTypeError(
                f"root must be a str or os.PathLike folder path, got {type(root).__name__}"
            )
        chosen = Path(root)
    else:
        env = os.environ.get(ENV_VAR, "")
        # An empty variable is treated as unset: "MINIVAE_DATA= cmd" is a common way to
        # switch it off, and Path("") would silently mean the current directory.
        chosen = Path(env) if env else Path("data")
    # Absolute, so that error messages show exactly where files are expected even if the
    # current directory changes later.
    return chosen.expanduser().absolute()


def _spec(name: str) -> dict:
    if not isinstance(name, str) or name not in DATASETS:
        raise ValidationError(
            f"name must be one of {sorted(DATASETS)}, got {name!r}"
        )
    return DATASETS[name]


def _split_spec(name: str, split: str) -> dict:
    splits = _spec(name)["splits"]
    if not isinstance(split, str) or split not in splits:
        raise ValidationError(
            f"split of data set {name!r} must be one of {list(splits)}, got {split!r}"
        )
    return splits[split]


# --------------------------------------------------------------------------------------
# Downloading


def _sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable on POSIX; directories cannot be opened this way on
    # Windows, where the rename is already as durable as it gets, so failures are ignored.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
    and renamed over ``dest`` in one step, so ``dest`` is either the old file or the
    complete new one, never a partial download.

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
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        # Same folder as dest, so the final os.replace is a rename within one file system
        # (atomic) rather than a copy. The dot prefix keeps it out of casual listings.
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise DownloadError(
            f"cannot download {url}: cannot create a temporary file in {dest.parent}: {exc}"
        ) from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            got, digest = _stream(url, out, timeout)
            if sha256 is not None and digest != sha256:
                raise DownloadError(
                    f"checksum mismatch for {url}: expected SHA-256 {sha256}, got {digest} "
                    f"({got} bytes)"
                )
            out.flush()
            os.fsync(out.fileno())
        if verify is not None:
            try:
                verify(tmp)
            except DataFileError as exc:
                raise DownloadError(f"content check failed for {url}: {exc}") from exc
        os.replace(tmp, dest)
    except BaseException as exc:
        # BaseException: an interrupted download (Ctrl-C) must not leave a .part file.
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, DownloadError):
            raise DownloadError(f"cannot download {url} to {dest}: {exc}") from exc
        raise
    _fsync_dir(dest.parent)
    return dest


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
    spec = _spec(name)
    split_spec = _split_spec(name, split)
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


# --------------------------------------------------------------------------------------
# Parsing


_GZIP_MAGIC = b"\x1f\x8b"

# IDX type codes other than unsigned byte, named so an unsupported file says what it is.
_IDX_OTHER_TYPES = {0x09: "int8", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32", 0x0E: "float64"}


def _read_bytes(path: Path) -> bytes:
    """Whole file contents, decompressed if it starts with the gzip magic bytes."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise DataFileError(f"{path}: file not found") from exc
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read file: {exc}") from exc
    # Detect by content, not by name: people gunzip files and keep the name, or the reverse.
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError as exc:
        raise DataFileError(
            f"{path}: truncated gzip data (the compressed stream ends early): {exc}"
        ) from exc
    except (gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise DataFileError(f"{path}: corrupt gzip data: {exc}") from exc


def read_idx(path: PathLike, *, ndim: Optional[int] = None) -> np.ndarray:
    """Read an IDX file of unsigned bytes (the MNIST format), gzip-compressed or raw.

    The IDX header is two zero bytes, a type code (``0x08`` for unsigned byte), the number
    of dimensions ``d``, then ``d`` big-endian uint32 sizes. So MNIST images have magic
    number 2051 (``0x00000803``, 3-D) and labels 2049 (``0x00000801``, 1-D).

    Parameters
    ----------
    path : str or os.PathLike
        The file. Compression is detected from the gzip magic bytes, not the name.
    ndim : int, optional
        Required number of dimensions (3 for images, 1 for labels).

    Returns
    -------
    ndarray of uint8, shape (d0, ..., d_{ndim-1})
        A writable array with the sizes from the header.

    Raises
    ------
    DataFileError
        Unreadable file, truncated or corrupt gzip, bad header or magic number, wrong
        ``ndim``, or a data length that differs from the header (truncated file or
        trailing bytes). The message names the file.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DataFileError(
            f"{path}: not an IDX file: expected a 4-byte header, got {len(data)} bytes"
        )
    zero, type_code, dims = data[:2], data[2], data[3]
    magic = int.from_bytes(data[:4], "big")
    if zero != b"\0\0" or type_code not in (0x08, *_IDX_OTHER_TYPES):
        raise DataFileError(
            f"{path}: not an IDX file: expected a magic number 0x000008nn (e.g. 2051 for "
            f"images, 2049 for labels), got {magic} (0x{magic:08x})"
        )
    if type_code != 0x08:
        raise DataFileError(
            f"{path}: IDX type code 0x{type_code:02x} ({_IDX_OTHER_TYPES[type_code]}) is not "
            f"supported: expected 0x08 (unsigned byte), magic number {magic}"
        )
    if dims == 0 or (ndim is not None and dims != ndim):
        if ndim is None:
            want = "at least 1 dimension"
        else:
            want = f"{ndim} dimension(s), magic {0x800 + ndim}"
        raise DataFileError(f"{path}: expected {want}, got {dims} dimension(s), magic {magic}")
    header_len = 4 + 4 * dims
    if len(data) < header_len:
        raise DataFileError(
            f"{path}: truncated IDX header: expected {header_len} bytes for {dims} "
            f"dimension(s), got {len(data)}"
        )
    shape = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)
    )
    expected = int(np.prod(shape, dtype=np.int64))
    got = len(data) - header_len
    if got < expected:
        raise DataFileError(
            f"{path}: truncated data: header says shape {shape} = {expected} bytes, got "
            f"only {got}"
        )
    if got > expected:
        raise DataFileError(
            f"{path}: {got - expected} trailing bytes: header says shape {shape} = "
            f"{expected} bytes, got {got}"
        )
    # frombuffer over bytes is read-only; copy so callers may modify what they get.
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(shape).copy()


_ROW_CHARS = 2 * N_PIXELS  # "d d d ... d\n": 784 digits, 783 spaces, one newline


def read_amat(path: PathLike) -> np.ndarray:
    """Read a binarized-MNIST ``.amat`` text file, gzip-compressed or plain.

    Each line holds 784 values ``0`` or ``1`` separated by whitespace.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Compression is detected from the gzip magic bytes, not the name.

    Returns
    -------
    ndarray of uint8, shape (N, 784)
        Values 0 and 1, one row per line.

    Raises
    ------
    DataFileError
        Unreadable or corrupt file, no rows, a row with another number of values than 784,
        or a value other than 0/1. The message names the file and the line number (from 1).

    Notes
    -----
    The usual layout (single spaces, ``\\n`` line ends) is parsed as one byte array without
    a Python loop: every row is then exactly 1568 bytes, digits at even offsets. Other
    layouts (tabs, ``\\r\\n``, trailing spaces) go through a line-by-line parser that is
    about ten times slower but still C-speed per line.
    """
    path = Path(path)
    data = _read_bytes(path)
    if not data.strip():
        raise DataFileError(f"{path}: expected rows of {N_PIXELS} values 0/1, got an empty file")
    rows = None
    if len(data) % _ROW_CHARS == 0:
        table = np.frombuffer(data, dtype=np.uint8).reshape(-1, _ROW_CHARS)
        if (table[:, 1:-1:2] == ord(" ")).all() and (table[:, -1] == ord("\n")).all():
            # uint8 arithmetic wraps characters below "0" to large values, so one
            # comparison catches every non-0/1 character.
            rows = table[:, 0::2] - np.uint8(ord("0"))
    if rows is None:
        rows = _read_amat_lines(path, data)
    bad = rows > 1
    if bad.any():
        line, col = np.argwhere(bad)[0]
        char = chr((int(rows[line, col]) + ord("0")) & 0xFF)  # undo the wrap-around
        raise DataFileError(
            f"{path}, line {line + 1}, value {col + 1}: expected 0 or 1, got {char!r}"
        )
    return np.ascontiguousarray(rows)


def _read_amat_lines(path: Path, data: bytes) -> np.ndarray:
    """General .amat parser: any whitespace between values, any line ending."""
    lines = data.split(b"\n")
    if lines and not lines[-1].strip():
        lines.pop()  # the empty piece after the final newline
    out = np.empty((len(lines), N_PIXELS), dtype=np.uint8)
    for i, line in enumerate(lines):
        tokens = line.split()
        if len(tokens) != N_PIXELS:
            raise DataFileError(
                f"{path}, line {i + 1}: expected {N_PIXELS} values, got {len(tokens)}"
            )
        joined = b"".join(tokens)
        if len(joined) != N_PIXELS:
            # Some token is longer than one character, e.g. "10" or "0.5".
            token = next(t for t in tokens if len(t) != 1)
            raise DataFileError(
                f"{path}, line {i + 1}: expected 0 or 1, got {token.decode(errors='replace')!r}"
            )
        out[i] = np.frombuffer(joined, dtype=np.uint8)
    out -= np.uint8(ord("0"))
    return out


def content_sha256(rows: np.ndarray) -> str:
    """SHA-256 of a 0/1 array's values, independent of file layout and compression.

    Parameters
    ----------
    rows : ndarray of uint8, shape (N, 784)
        Values 0 and 1.

    Returns
    -------
    str
        Hex SHA-256 of ``np.packbits(rows).tobytes()`` (rows flattened in C order, 8 pixels
        per byte, most significant bit first).
    """
    return hashlib.sha256(np.packbits(np.asarray(rows, dtype=np.uint8)).tobytes()).hexdigest()


def _check_content(path: Path, rows: np.ndarray, expected: str) -> None:
    got = content_sha256(rows)
    if got != expected.lower():
        raise DataFileError(
            f"{path} is corrupt or not the expected file: the content checksum (SHA-256 of "
            f"the packed 0/1 values) should be {expected}, got {got}. Delete it so that it is "
            f"downloaded again, or replace it with a good copy."
        )


# --------------------------------------------------------------------------------------
# Loading


def load(
    name: str = "mnist",
    split: str = "train",
    root: Optional[PathLike] = None,
    download: bool = True,
    dtype=np.float32,
) -> Dataset:
    """Load one split of a data set as flattened images in [0, 1].

    Parameters
    ----------
    name : {"mnist", "fashion-mnist", "binarized-mnist"}
        Data set, a key of :data:`DATASETS`.
    split : str
        ``"train"`` or ``"test"``; binarized MNIST also has ``"valid"``.
    root : str or os.PathLike, optional
        Data root, see :func:`resolve_root`.
    download : bool, default True
        Download missing files, see :func:`fetch`.
    dtype : floating dtype, default np.float32
        Dtype of ``x``.

    Returns
    -------
    Dataset
        ``x`` of shape (N, 784) and dtype ``dtype`` (grey levels ``pixel / 255``, or 0/1
        for binarized MNIST); ``y`` of shape (N,) int64 labels, or None.

    Raises
    ------
    ValidationError
        Unknown ``name``/``split`` (the message lists the choices) or non-float ``dtype``.
    DataFileError, DownloadError
        See :func:`fetch`, :func:`read_idx`, :func:`read_amat`; also when a file's shape
        or example count disagrees with the registry.
    """
    spec = _spec(name)
    split_spec = _split_spec(name, split)
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise ValidationError(f"dtype must be a floating dtype, got {dtype!r}") from exc
    if dt.kind != "f":
        raise ValidationError(f"dtype must be a floating dtype such as float32, got {dt}")
    paths = fetch(name, split, root=root, download=download)
    n = split_spec["n"]

    if spec["format"] == "amat":
        path = paths["rows"]
        rows = read_amat(path)
        _check_count(path, rows.shape[0], n)
        expected = split_spec["files"]["rows"].get("content_sha256")
        if expected:
            _check_content(path, rows, expected)
        return Dataset(x=rows.astype(dt), y=None, name=name, split=split)

    images = read_idx(paths["images"], ndim=3)
    labels = read_idx(paths["labels"], ndim=1)
    if images.shape[1:] != (28, 28):
        raise DataFileError(
            f"{paths['images']}: expected images of 28x28 pixels, got {images.shape[1:]}"
        )
    _check_count(paths["images"], images.shape[0], n)
    _check_count(paths["labels"], labels.shape[0], n)
    if labels.size and labels.max() > 9:
        raise DataFileError(
            f"{paths['labels']}: expected class labels 0..9, got a label {int(labels.max())}"
        )
    x = images.reshape(images.shape[0], N_PIXELS).astype(dt)
    x /= 255  # exact for 0 and 255, so x stays inside [0, 1]
    return Dataset(x=x, y=labels.astype(np.int64), name=name, split=split)


def _check_count(path: Path, got: int, expected: int) -> None:
    if got != expected:
        raise DataFileError(f"{path}: expected {expected} examples, got {got}")


# --------------------------------------------------------------------------------------
# Binarization


def _check_probabilities(x, arg: str = "x") -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise InputTypeError(f"{arg} must be a numpy array, got {type(x).__name__}")
    if x.dtype not in (np.float32, np.float64):
        # rng.random draws only float32/float64, and integer pixels (0..255) would mean
        # the caller forgot to scale to [0, 1].
        raise InputTypeError(
            f"{arg} must have dtype float32 or float64 with values in [0, 1], got {x.dtype}"
        )
    if x.size and not (x.min() >= 0 and x.max() <= 1):  # "not" so NaN fails too
        raise ValidationError(
            f"{arg} must hold probabilities in [0, 1], got values in "
            f"[{x.min()}, {x.max()}]"
        )
    return x


def binarize(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dynamic (stochastic) binarization: each pixel becomes 1 with probability ``x``.

    Drawing afresh every time a batch is used acts as data augmentation and makes a
    Bernoulli likelihood a proper model of grey-level data.

    Parameters
    ----------
    x : ndarray of float32 or float64, any shape
        Probabilities in [0, 1].
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    ndarray, same shape and dtype as x
        Values 0 and 1: ``rng.random(x.shape) < x``.
    """
    x = _check_probabilities(x)
    if not isinstance(rng, np.random.Generator):
        raise InputTypeError(
            f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got "
            f"{type(rng).__name__}"
        )
    return _draw(x, rng)


def _draw(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # The unchecked core of binarize(), so batches() can check the range once per epoch.
    return (rng.random(x.shape, dtype=x.dtype) < x).astype(x.dtype)


def threshold(x: np.ndarray, level: float = 0.5) -> np.ndarray:
    """Deterministic binarization: 1 where ``x > level``, else 0.

    Parameters
    ----------
    x : ndarray of float32 or float64, any shape
        Values in [0, 1].
    level : float, default 0.5
        Threshold in [0, 1]; a pixel equal to it becomes 0.

    Returns
    -------
    ndarray, same shape and dtype as x
        Values 0 and 1.
    """
    x = _check_probabilities(x)
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating, np.integer)):
        raise InputTypeError(f"level must be a number in [0, 1], got {type(level).__name__}")
    if not 0 <= level <= 1:
        raise ValidationError(f"level must be in [0, 1], got {level}")
    return (x > level).astype(x.dtype)


def binarize_fixed(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """Static binarization: one stochastic draw with a fixed seed.

    The same ``x`` and ``seed`` always give the same 0/1 array, which makes a fixed
    binarized data set out of grey-level data (like binarized MNIST, though not the same
    draw as that published one).

    Parameters
    ----------
    x : ndarray of float32 or float64, any shape
        Probabilities in [0, 1].
    seed : int, default 0
        Seed for ``np.random.default_rng``.

    Returns
    -------
    ndarray, same shape and dtype as x
        Values 0 and 1.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InputTypeError(f"seed must be an int, got {type(seed).__name__}")
    return binarize(x, np.random.default_rng(seed))


def dequantize(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uniform dequantization of 8-bit grey levels: x = k / 255 becomes (k + u) / 256, u ~ U(0, 1).

    A continuous density (a Gaussian or Laplace decoder) on data that take only 256 values can
    grow without bound: a decoder that predicts a constant pixel exactly may shrink its variance
    towards zero. Spreading each level k uniformly over its bin [k / 256, (k + 1) / 256] makes
    the data truly continuous, and then the density's negative log bounds the discrete one: for 8-bit
    images of D pixels, -log P(k) <= E_u[-log p((k + u) / 256)] + D log 256 (Jensen's inequality
    over the bin of width 1/256 in every pixel), the figure papers on continuous models report,
    often in bits per dimension.

    Parameters
    ----------
    x : ndarray of float32 or float64
        Grey levels k / 255 with integer k in [0, 255] (as :func:`load` returns MNIST).
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, same shape and dtype as x
        Level k lands in [k / 256, (k + 1) / 256] (in float32, k + u may round up to the bin's
        upper edge).
    """
    if not isinstance(rng, np.random.Generator):
        raise InputTypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return _spread(_check_8bit(x), rng)


def _spread(levels, rng):
    """(k + u) / 256 for integer levels k (in a float array), u ~ U(0, 1) drawn afresh."""
    out = rng.random(levels.shape, dtype=levels.dtype)
    out += levels
    out /= 256
    return out


def dequantize_fixed(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """:func:`dequantize` with ``np.random.default_rng(seed)``: the same noise every time
    (for a test set that is evaluated after every epoch)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InputTypeError(f"seed must be an int, got {type(seed).__name__}")
    return dequantize(x, np.random.default_rng(seed))


def _check_8bit(x):
    """Return 255 x as exact integers in the dtype of x, or raise if x is not on that grid."""
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise InputTypeError(f"x must be a float array of grey levels k / 255, got "
                             f"{type(x).__name__ if not isinstance(x, np.ndarray) else x.dtype}")
    _check_probabilities(x)
    scaled = x * 255
    levels = np.rint(scaled)
    if x.size and np.max(np.abs(scaled - levels)) > 1e-3:
        raise ValidationError("x: dequantization expects 8-bit grey levels k / 255 (k = 0..255), "
                              f"found a value {float(x.flat[np.argmax(np.abs(scaled - levels))]):.6g} "
                              "between two levels")
    return levels.astype(x.dtype, copy=False)


_BINARIZE_MODES = (None, "dynamic", "threshold")


def batches(
    x: np.ndarray,
    batch_size: int,
    rng: Optional[np.random.Generator] = None,
    shuffle: bool = True,
    drop_last: bool = False,
    binarize: Optional[str] = None,
    *,
    y: Optional[np.ndarray] = None,
    dequantize: bool = False,
) -> Iterator:
    """Iterate once over the rows of ``x`` in batches (one epoch).

    Arguments are checked when ``batches`` is called, not at the first ``next()``.

    Parameters
    ----------
    x : ndarray, shape (N, D)
        Examples, one per row.
    batch_size : int
        Rows per batch, 1 <= batch_size <= N.
    rng : numpy.random.Generator, optional
        Needed when ``shuffle`` is True or ``binarize="dynamic"``.
    shuffle : bool, default True
        Visit rows in the order of ``rng.permutation(N)``, else in order.
    drop_last : bool, default False
        Leave out a last batch smaller than ``batch_size``.
    binarize : {None, "dynamic", "threshold"}, default None
        ``"dynamic"``: a fresh :func:`binarize` draw for every batch; ``"threshold"``:
        :func:`threshold` at 0.5. Both need float32/float64 ``x`` in [0, 1].
    y : ndarray, shape (N, ...), optional
        Labels; if given, batches are ``(xb, yb)`` pairs with matching rows.
    dequantize : bool, default False
        Fresh :func:`dequantize` noise for every batch (needs ``rng``; not with ``binarize``).

    Yields
    ------
    xb : ndarray, shape (B, D)
        B = batch_size except perhaps the last batch. With ``shuffle=False`` and no
        binarization this is a view of ``x``.
    yb : ndarray, shape (B, ...)
        Only when ``y`` is given.
    """
    if not isinstance(x, np.ndarray):
        raise InputTypeError(f"x must be a numpy array of shape (N, D), got {type(x).__name__}")
    if x.ndim != 2:
        raise ValidationError(f"x must be 2-D of shape (N, D), got shape {x.shape}")
    n = x.shape[0]
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise ValidationError(
            f"batch_size must be a positive int, got {batch_size!r} "
            f"({type(batch_size).__name__})"
        )
    batch_size = int(batch_size)
    if not 1 <= batch_size <= n:
        raise ValidationError(
            f"batch_size must be between 1 and the number of rows N={n}, got {batch_size}"
        )
    if binarize not in _BINARIZE_MODES:
        raise ValidationError(f"binarize must be one of {_BINARIZE_MODES}, got {binarize!r}")
    if dequantize not in (True, False):
        raise InputTypeError(f"dequantize must be True or False, got {dequantize!r}")
    if dequantize and binarize is not None:
        raise ValidationError(f"dequantize and binarize={binarize!r} exclude each other: dequantized "
                              "pixels are continuous, binarized ones are 0 or 1")
    if (shuffle or binarize == "dynamic" or dequantize) and rng is None:
        need = "shuffle=True" if shuffle else ('binarize="dynamic"' if binarize else "dequantize=True")
        raise ValidationError(
            f"rng is required with {need}: pass rng=np.random.default_rng(seed), got None"
        )
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise InputTypeError(
            f"rng must be a numpy.random.Generator, got {type(rng).__name__}"
        )
    if binarize is not None:
        # Check the range once for the whole array instead of once per batch.
        _check_probabilities(x)
    if dequantize:
        _check_8bit(x)
    if y is not None:
        if not isinstance(y, np.ndarray):
            raise InputTypeError(f"y must be a numpy array, got {type(y).__name__}")
        if y.ndim == 0 or y.shape[0] != n:
            raise ValidationError(
                f"y must have one entry per row of x (N={n}), got shape {y.shape}"
            )
    return _batches(x, y, batch_size, rng, shuffle, drop_last, "dequantize" if dequantize else binarize)


def _batches(x, y, batch_size, rng, shuffle, drop_last, mode) -> Iterator:
    n = x.shape[0]
    order = rng.permutation(n) if shuffle else None
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        if order is None:
            index = slice(start, start + batch_size)
        else:
            index = order[start : start + batch_size]
        xb = x[index]
        if mode == "dynamic":
            xb = _draw(xb, rng)
        elif mode == "threshold":
            xb = (xb > 0.5).astype(xb.dtype)
        elif mode == "dequantize":
            xb = _spread(np.rint(xb * 255), rng)
        if y is None:
            yield xb
        else:
            yield xb, y[index]
