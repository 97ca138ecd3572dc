"""Parsers of the two file formats the data sets come in: IDX (MNIST, Fashion-MNIST) and the
``.amat`` text rows of binarized MNIST, each gzip-compressed or not."""
from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import DataFileError
from .registry import N_PIXELS, PathLike

__all__ = ["read_idx", "read_amat", "content_sha256"]

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
