"""Tests of minivae.datasets.

Downloads are tested against a local HTTP server serving tiny files built here, so no test
needs the network. The tests at the bottom read the real data sets and run only when the
environment variable MINIVAE_DATA names a folder holding them.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minivae.datasets import (
    DATASETS,
    batches,
    binarize,
    binarize_fixed,
    content_sha256,
    download,
    fetch,
    load,
    read_amat,
    read_idx,
    resolve_root,
    threshold,
)
from minivae.errors import DataFileError, DownloadError, InputTypeError, ValidationError

# --------------------------------------------------------------------------------------
# Helpers that build small files in the real formats


def idx_bytes(arr: np.ndarray) -> bytes:
    """Raw IDX encoding of a uint8 array: 0, 0, type 0x08, ndim, big-endian sizes, data."""
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in arr.shape
    )
    return header + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()


def amat_bytes(rows: np.ndarray) -> bytes:
    """The usual .amat layout: values separated by single spaces, one row per line."""
    return b"".join((" ".join(map(str, r)) + "\n").encode() for r in rows)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def leftovers(folder: Path) -> list[str]:
    """Temporary download files left in a folder (the atomic write's ``.<name>.tmp-*``)."""
    return sorted(p.name for p in folder.glob(".*.tmp-*")) if folder.exists() else []


# --------------------------------------------------------------------------------------
# A local HTTP server


class _Handler(BaseHTTPRequestHandler):
    # Bounds every request: a stuck client cannot keep a server thread alive.
    timeout = 5

    def do_GET(self):  # noqa: N802 (name fixed by http.server)
        self.server.hits.append(self.path)
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404, "not here")
            return
        body, announced = route
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body) if announced is None else announced))
        self.end_headers()
        # HTTP/1.0 (the handler's default) closes the connection after this, so a body
        # shorter than the announced length reaches the client as an early end of stream.
        self.wfile.write(body)

    def log_message(self, *args):  # keep pytest output clean
        pass


class Server:
    """Handle on the running test server: ``url`` and the ``serve`` / ``hits`` helpers."""

    def __init__(self, httpd: ThreadingHTTPServer):
        self.httpd = httpd
        self.url = f"http://127.0.0.1:{httpd.server_address[1]}/"

    def serve(self, path: str, body: bytes, announced: int | None = None) -> str:
        """Serve ``body`` at ``/path`` (optionally lying about its length); return the URL."""
        self.httpd.routes["/" + path] = (body, announced)
        return self.url + path

    @property
    def hits(self) -> list[str]:
        return self.httpd.hits


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.routes = {}
    httpd.hits = []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Server(httpd)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    # urllib sends even 127.0.0.1 through a proxy named in the environment.
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------
# A tiny IDX data set registered next to the real ones


N_TRAIN, N_TEST = 5, 3


@pytest.fixture
def tiny(monkeypatch, server):
    """Register data set "tiny" (IDX, 5 train / 3 test) served on mirror path m1/.

    Returns a namespace with the served files, the spec, and ``images``/``labels`` arrays.
    """
    rng = np.random.default_rng(0)
    files, arrays = {}, {}
    for prefix, n in (("train", N_TRAIN), ("t10k", N_TEST)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images[0, 0, 0], images[0, 0, 1] = 0, 255  # make sure both ends of the range occur
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        arrays[prefix] = (images, labels)
        files[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(idx_bytes(images))
        files[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(labels))
    for fname, body in files.items():
        server.serve("m1/" + fname, body)

    def split(prefix, n):
        return {
            "n": n,
            "files": {
                role: {"names": (f,), "remote": f, "sha256": sha(files[f])}
                for role, f in (
                    ("images", f"{prefix}-images-idx3-ubyte.gz"),
                    ("labels", f"{prefix}-labels-idx1-ubyte.gz"),
                )
            },
        }

    spec = {
        "folder": "tiny",
        "format": "idx",
        "mirrors": [server.url + "m1/"],
        "splits": {"train": split("train", N_TRAIN), "test": split("t10k", N_TEST)},
    }
    monkeypatch.setitem(DATASETS, "tiny", spec)

    class T:
        pass

    t = T()
    t.files, t.spec, t.arrays, t.server = files, spec, arrays, server
    return t


# --------------------------------------------------------------------------------------
# download() and fetch()


def test_fresh_download_lands_and_parses(tiny, tmp_path):
    ds = load("tiny", "train", root=tmp_path)
    images, labels = tiny.arrays["train"]
    assert ds.x.shape == (N_TRAIN, 784) and ds.x.dtype == np.float32
    np.testing.assert_array_equal(ds.x, images.reshape(N_TRAIN, 784).astype(np.float32) / 255)
    assert ds.x.min() == 0 and ds.x.max() == 1
    assert ds.y.dtype == np.int64
    np.testing.assert_array_equal(ds.y, labels)
    folder = tmp_path / "tiny"
    assert (folder / "train-images-idx3-ubyte.gz").read_bytes() == tiny.files["train-images-idx3-ubyte.gz"]
    assert leftovers(folder) == []
    # A second load uses the cache: no new requests.
    n_hits = len(tiny.server.hits)
    assert load("tiny", "train", root=tmp_path, download=False).x.shape == (N_TRAIN, 784)
    assert len(tiny.server.hits) == n_hits


def test_load_float64(tiny, tmp_path):
    ds = load("tiny", "test", root=tmp_path, dtype=np.float64)
    assert ds.x.dtype == np.float64 and ds.x.shape == (N_TEST, 784) and len(ds) == N_TEST


def test_download_checksum_mismatch_leaves_nothing(server, tmp_path):
    url = server.serve("f.bin", b"hello")
    dest = tmp_path / "sub" / "f.bin"
    wrong = "0" * 64
    with pytest.raises(DownloadError) as err:
        download(url, dest, sha256=wrong)
    msg = str(err.value)
    assert url in msg and wrong in msg and sha(b"hello") in msg
    assert not dest.exists() and leftovers(dest.parent) == []


def test_fetch_checksum_mismatch_leaves_nothing(tiny, tmp_path, monkeypatch):
    images = tiny.spec["splits"]["train"]["files"]["images"]
    monkeypatch.setitem(images, "sha256", "f" * 64)
    with pytest.raises(DownloadError, match="f" * 64):
        fetch("tiny", "train", root=tmp_path)
    folder = tmp_path / "tiny"
    assert not (folder / "train-images-idx3-ubyte.gz").exists()
    assert leftovers(folder) == []


def test_download_success_with_checksum(server, tmp_path):
    body = os.urandom(200_000)  # several read chunks
    url = server.serve("big.bin", body)
    dest = tmp_path / "big.bin"
    assert download(url, dest, sha256=sha(body).upper()) == dest
    assert dest.read_bytes() == body and leftovers(tmp_path) == []


def test_short_body_against_content_length_keeps_good_file(server, tmp_path):
    good = b"good old contents"
    dest = write(tmp_path / "f.bin", good)
    url = server.serve("f.bin", b"partial", announced=1000)
    with pytest.raises(DownloadError, match="truncated") as err:
        download(url, dest)  # no checksum: only the length shows the cut
    assert url in str(err.value) and "1000" in str(err.value)
    assert dest.read_bytes() == good and leftovers(tmp_path) == []


def test_truncated_file_fails_checksum_keeps_good_file(server, tmp_path):
    full = os.urandom(5000)
    dest = write(tmp_path / "f.bin", full)
    url = server.serve("f.bin", full[:3000])  # honest length, but the file itself is cut
    with pytest.raises(DownloadError, match="checksum"):
        download(url, dest, sha256=sha(full))
    assert dest.read_bytes() == full and leftovers(tmp_path) == []


def test_404_on_first_mirror_falls_through(tiny, tmp_path):
    tiny.spec["mirrors"] = [tiny.server.url + "gone/", tiny.server.url + "m1/"]
    ds = load("tiny", "test", root=tmp_path)
    assert ds.x.shape == (N_TEST, 784)
    assert tiny.server.hits[:2] == ["/gone/t10k-images-idx3-ubyte.gz", "/m1/t10k-images-idx3-ubyte.gz"]


def test_download_false_says_where_to_put_files(tiny, tmp_path):
    with pytest.raises(DataFileError) as err:
        load("tiny", "train", root=tmp_path, download=False)
    msg = str(err.value)
    assert str(tmp_path / "tiny" / "train-images-idx3-ubyte.gz") in msg
    assert str(tmp_path / "tiny" / "train-labels-idx1-ubyte.gz") in msg
    assert "MINIVAE_DATA" in msg
    assert tiny.server.url + "m1/train-images-idx3-ubyte.gz" in msg
    assert tiny.server.hits == []


def test_unreachable_server_fails_fast(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/f.bin"
    start = time.monotonic()
    with pytest.raises(DownloadError) as err:
        download(url, tmp_path / "f.bin", timeout=5)
    assert time.monotonic() - start < 3
    assert url in str(err.value)
    assert not (tmp_path / "f.bin").exists() and leftovers(tmp_path) == []


def test_silent_server_times_out(tmp_path):
    # Listening but never answering: the connection succeeds, the first read times out.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        url = f"http://127.0.0.1:{s.getsockname()[1]}/f.bin"
        start = time.monotonic()
        with pytest.raises(DownloadError, match="timed out"):
            download(url, tmp_path / "f.bin", timeout=0.3)
        assert time.monotonic() - start < 3
    assert leftovers(tmp_path) == []


def test_every_mirror_failing_lists_urls_and_paths(tiny, tmp_path):
    dead = f"http://127.0.0.1:{closed_port()}/"
    tiny.spec["mirrors"] = [tiny.server.url + "gone/", dead]
    with pytest.raises(DownloadError) as err:
        fetch("tiny", "train", root=tmp_path)
    msg = str(err.value)
    assert tiny.server.url + "gone/train-images-idx3-ubyte.gz" in msg and "404" in msg
    assert dead + "train-images-idx3-ubyte.gz" in msg
    assert str(tmp_path / "tiny" / "train-images-idx3-ubyte.gz") in msg
    assert "MINIVAE_DATA" in msg


def test_corrupt_cached_file_is_reported_not_deleted(tiny, tmp_path):
    path = write(tmp_path / "tiny" / "train-images-idx3-ubyte.gz", b"my own file")
    with pytest.raises(DataFileError) as err:
        load("tiny", "train", root=tmp_path)
    msg = str(err.value)
    assert str(path) in msg and "corrupt" in msg and "Delete" in msg
    assert path.read_bytes() == b"my own file"
    assert tiny.server.hits == []


def test_fetch_returns_paths_by_role(tiny, tmp_path):
    paths = fetch("tiny", "test", root=tmp_path)
    assert set(paths) == {"images", "labels"}
    assert paths["labels"] == tmp_path / "tiny" / "t10k-labels-idx1-ubyte.gz"


def test_wrong_example_count_is_reported(tiny, tmp_path, monkeypatch):
    monkeypatch.setitem(tiny.spec["splits"]["train"], "n", N_TRAIN + 1)
    with pytest.raises(DataFileError, match=f"expected {N_TRAIN + 1} examples, got {N_TRAIN}"):
        load("tiny", "train", root=tmp_path)


# --------------------------------------------------------------------------------------
# A tiny binarized data set: uncompressed download, content checksum


@pytest.fixture
def tiny_amat(monkeypatch, server):
    rows = (np.random.default_rng(1).random((4, 784)) < 0.3).astype(np.uint8)
    body = amat_bytes(rows)
    server.serve("b/tiny_train.amat", body)
    spec = {
        "folder": "tinybin",
        "format": "amat",
        "mirrors": [server.url + "b/"],
        "splits": {
            "train": {
                "n": 4,
                "files": {
                    "rows": {
                        "names": ("tiny_train.amat.gz", "tiny_train.amat"),
                        "remote": "tiny_train.amat",
                        "sha256": None,
                        "content_sha256": content_sha256(rows),
                    }
                },
            }
        },
    }
    monkeypatch.setitem(DATASETS, "tinybin", spec)
    return rows, spec


def test_amat_download_checks_content(tiny_amat, tmp_path):
    rows, _ = tiny_amat
    ds = load("tinybin", "train", root=tmp_path)
    assert ds.y is None and ds.x.dtype == np.float32
    np.testing.assert_array_equal(ds.x, rows)
    assert (tmp_path / "tinybin" / "tiny_train.amat").exists()


def test_amat_download_with_wrong_content_leaves_nothing(tiny_amat, tmp_path, monkeypatch):
    _, spec = tiny_amat
    monkeypatch.setitem(spec["splits"]["train"]["files"]["rows"], "content_sha256", "a" * 64)
    with pytest.raises(DownloadError, match="content"):
        fetch("tinybin", "train", root=tmp_path)
    folder = tmp_path / "tinybin"
    assert list(folder.iterdir()) == []


def test_amat_cached_gz_preferred_and_content_checked(tiny_amat, tmp_path):
    rows, _ = tiny_amat
    gz = write(tmp_path / "tinybin" / "tiny_train.amat.gz", gzip.compress(amat_bytes(rows)))
    np.testing.assert_array_equal(load("tinybin", "train", root=tmp_path, download=False).x, rows)
    flipped = rows.copy()
    flipped[2, 100] ^= 1
    gz.write_bytes(gzip.compress(amat_bytes(flipped)))
    with pytest.raises(DataFileError, match="corrupt") as err:
        load("tinybin", "train", root=tmp_path, download=False)
    assert str(gz) in str(err.value) and gz.exists()


# --------------------------------------------------------------------------------------
# read_idx


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_images_and_labels(tmp_path, compress):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    labels = np.array([3, 1], dtype=np.uint8)
    enc = gzip.compress if compress else (lambda b: b)
    # Names deliberately say the opposite of the content: detection is by magic bytes.
    p_img = write(tmp_path / ("img.raw" if compress else "img.gz"), enc(idx_bytes(images)))
    p_lab = write(tmp_path / "lab", enc(idx_bytes(labels)))
    got = read_idx(p_img, ndim=3)
    np.testing.assert_array_equal(got, images)
    assert got.dtype == np.uint8 and got.flags.writeable
    np.testing.assert_array_equal(read_idx(p_lab, ndim=1), labels)
    assert int.from_bytes(idx_bytes(images)[:4], "big") == 2051
    assert int.from_bytes(idx_bytes(labels)[:4], "big") == 2049


def _bad_idx_files() -> dict[str, tuple[bytes, str]]:
    good = idx_bytes(np.ones((3, 2, 2), dtype=np.uint8))
    return {
        "wrong_magic": (b"\x12\x34" + good[2:], "magic"),
        "float_type": (b"\x00\x00\x0d" + good[3:], "type code 0x0d"),
        "truncated_data": (good[:-1], "truncated data"),
        "trailing_bytes": (good + b"\x00\x00", "2 trailing bytes"),
        "truncated_header": (good[:9], "truncated IDX header"),
        "tiny": (b"\x00\x00", "4-byte header"),
        "truncated_gzip": (gzip.compress(good)[:-12], "truncated gzip"),
        "bad_gzip": (b"\x1f\x8b" + b"not really gzip data at all", "gzip"),
        "garbage": (b"PK\x03\x04 this is a zip, not IDX", "not an IDX file"),
        "empty": (b"", "4-byte header"),
    }


@pytest.mark.parametrize("case", sorted(_bad_idx_files()))
def test_read_idx_rejects_bad_files(tmp_path, case):
    data, fragment = _bad_idx_files()[case]
    path = write(tmp_path / f"{case}-images-idx3-ubyte.gz", data)
    with pytest.raises(DataFileError) as err:
        read_idx(path)
    assert str(path) in str(err.value)
    assert fragment in str(err.value)


def test_read_idx_wrong_ndim_and_missing_file(tmp_path):
    path = write(tmp_path / "labels", idx_bytes(np.zeros(4, dtype=np.uint8)))
    with pytest.raises(DataFileError, match="expected 3 dimension"):
        read_idx(path, ndim=3)
    with pytest.raises(DataFileError, match="not found"):
        read_idx(tmp_path / "nope")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    arr=hnp.arrays(np.uint8, hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=6)),
    compress=st.booleans(),
)
def test_read_idx_round_trip(tmp_path, arr, compress):
    data = idx_bytes(arr)
    path = write(tmp_path / "x.idx", gzip.compress(data) if compress else data)
    got = read_idx(path)
    assert got.shape == arr.shape
    np.testing.assert_array_equal(got, arr)


# --------------------------------------------------------------------------------------
# read_amat


def test_read_amat_good_files(tmp_path):
    rows = (np.random.default_rng(2).random((6, 784)) < 0.5).astype(np.uint8)
    plain = write(tmp_path / "a.amat", amat_bytes(rows))
    packed = write(tmp_path / "a.amat.gz", gzip.compress(amat_bytes(rows)))
    # Other whitespace (tabs, CRLF, trailing blanks, no final newline) takes the slow path.
    odd = amat_bytes(rows).replace(b" ", b"\t").replace(b"\n", b"  \r\n").rstrip()
    loose = write(tmp_path / "odd.amat", odd)
    for path in (plain, packed, loose):
        got = read_amat(path)
        assert got.dtype == np.uint8 and got.shape == (6, 784)
        np.testing.assert_array_equal(got, rows)


def _amat_lines(n: int = 3) -> list[list[str]]:
    return [["0"] * 784 for _ in range(n)]


def _write_lines(path: Path, lines: list[list[str]]) -> Path:
    return write(path, "".join(" ".join(l) + "\n" for l in lines).encode())


def test_read_amat_short_row(tmp_path):
    lines = _amat_lines()
    lines[1] = lines[1][:783]
    path = _write_lines(tmp_path / "short.amat", lines)
    with pytest.raises(DataFileError) as err:
        read_amat(path)
    msg = str(err.value)
    assert str(path) in msg and "line 2" in msg and "784" in msg and "783" in msg


@pytest.mark.parametrize("bad", ["2", "a", "10", "0.5"])
def test_read_amat_bad_value(tmp_path, bad):
    lines = _amat_lines()
    lines[2][5] = bad
    path = _write_lines(tmp_path / "value.amat.gz", lines)
    path.write_bytes(gzip.compress(path.read_bytes()))
    with pytest.raises(DataFileError) as err:
        read_amat(path)
    msg = str(err.value)
    assert str(path) in msg and "line 3" in msg and repr(bad) in msg


def test_read_amat_empty(tmp_path):
    with pytest.raises(DataFileError, match="empty"):
        read_amat(write(tmp_path / "e.amat", b"\n"))


# --------------------------------------------------------------------------------------
# Names, splits, root


def test_resolve_root_precedence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MINIVAE_DATA", raising=False)
    assert resolve_root() == tmp_path / "data"
    monkeypatch.setenv("MINIVAE_DATA", str(tmp_path / "env"))
    assert resolve_root() == tmp_path / "env"
    assert resolve_root(tmp_path / "explicit") == tmp_path / "explicit"
    assert resolve_root("rel") == tmp_path / "rel"
    monkeypatch.setenv("MINIVAE_DATA", "")
    assert resolve_root() == tmp_path / "data"
    with pytest.raises(InputTypeError, match="root"):
        resolve_root(42)


def test_unknown_name_split_dtype():
    with pytest.raises(ValidationError, match="binarized-mnist") as err:
        load("mnsit")
    assert "'mnsit'" in str(err.value)
    with pytest.raises(ValidationError, match=r"\['train', 'test'\]"):
        load("mnist", "valid", download=False)
    with pytest.raises(ValidationError, match="'valid'"):
        fetch("binarized-mnist", "dev", download=False)
    with pytest.raises(ValidationError, match="dtype"):
        load("mnist", "train", dtype=np.int32, download=False)


def test_registry_is_complete():
    sizes = {"mnist": {"train": 60000, "test": 10000},
             "fashion-mnist": {"train": 60000, "test": 10000},
             "binarized-mnist": {"train": 50000, "valid": 10000, "test": 10000}}
    for name, want in sizes.items():
        spec = DATASETS[name]
        assert {s: v["n"] for s, v in spec["splits"].items()} == want
        assert spec["mirrors"] and all(m.endswith("/") for m in spec["mirrors"])
        for split in spec["splits"].values():
            for f in split["files"].values():
                assert f["sha256"] or f["content_sha256"]
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/" in DATASETS["mnist"]["mirrors"]


# --------------------------------------------------------------------------------------
# Binarization and batches


def test_binarize_dynamic_threshold_fixed():
    rng = np.random.default_rng(3)
    x = rng.random((500, 784)).astype(np.float32)
    a, b = binarize(x, rng), binarize(x, rng)
    assert a.dtype == np.float32 and a.shape == x.shape
    assert set(np.unique(a)) <= {0.0, 1.0}
    assert abs(a.mean() - x.mean()) < 0.01
    assert (a != b).any()
    t = threshold(x)
    np.testing.assert_array_equal(t, (x > 0.5).astype(np.float32))
    np.testing.assert_array_equal(threshold(x, 0.9), (x > 0.9).astype(np.float32))
    np.testing.assert_array_equal(binarize_fixed(x, seed=7), binarize_fixed(x, seed=7))
    assert (binarize_fixed(x, seed=7) != binarize_fixed(x, seed=8)).any()
    assert binarize_fixed(x.astype(np.float64)).dtype == np.float64


def test_binarize_rejects_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(InputTypeError, match="float32"):
        binarize(np.zeros((2, 3), dtype=np.uint8), rng)
    with pytest.raises(ValidationError, match=r"\[0, 1\]"):
        binarize(np.full((2, 3), 1.5), rng)
    with pytest.raises(ValidationError):
        binarize(np.full((2, 3), np.nan), rng)
    with pytest.raises(InputTypeError, match="rng"):
        binarize(np.zeros((2, 3)), 0)
    with pytest.raises(ValidationError, match="level"):
        threshold(np.zeros(3), 2.0)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 60),
    data=st.data(),
    drop_last=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_batches_cover_each_row_once(n, data, drop_last, seed):
    batch_size = data.draw(st.integers(1, n), label="batch_size")
    x = np.arange(n * 3, dtype=np.float64).reshape(n, 3)  # row i starts with 3 * i
    y = np.arange(n) * 10
    out = list(batches(x, batch_size, np.random.default_rng(seed), drop_last=drop_last, y=y))
    sizes = [len(xb) for xb, _ in out]
    assert all(s == batch_size for s in sizes[:-1])
    if drop_last:
        assert sizes == [batch_size] * (n // batch_size)
    else:
        assert sum(sizes) == n and 1 <= sizes[-1] <= batch_size
    ids = np.concatenate([xb[:, 0] for xb, _ in out]).astype(int) // 3
    assert len(set(ids)) == len(ids)  # no row twice
    if not drop_last:
        assert sorted(ids) == list(range(n))  # every row
    for xb, yb in out:
        assert xb.shape[1] == 3
        np.testing.assert_array_equal(yb, xb[:, 0] // 3 * 10)  # labels follow their rows


def test_batches_in_order_and_shuffled():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    plain = list(batches(x, 4, shuffle=False))
    assert [b.shape for b in plain] == [(4, 2), (4, 2), (2, 2)]
    np.testing.assert_array_equal(np.concatenate(plain), x)
    rng = np.random.default_rng(0)
    e1 = np.concatenate(list(batches(x, 4, rng)))
    e2 = np.concatenate(list(batches(x, 4, rng)))
    assert not np.array_equal(e1, x) and not np.array_equal(e1, e2)


def test_batches_binarization():
    rng = np.random.default_rng(5)
    x = rng.random((400, 50)).astype(np.float32)
    first = np.concatenate(list(batches(x, 64, rng, shuffle=False, binarize="dynamic")))
    second = np.concatenate(list(batches(x, 64, rng, shuffle=False, binarize="dynamic")))
    assert first.dtype == np.float32 and first.shape == x.shape
    assert set(np.unique(first)) <= {0.0, 1.0}
    assert abs(first.mean() - x.mean()) < 0.02
    assert (first != second).any()  # fresh draw each time
    t = np.concatenate(list(batches(x, 64, shuffle=False, binarize="threshold")))
    np.testing.assert_array_equal(t, threshold(x))


@pytest.mark.parametrize("bad", [0, -1, 11, 2.5, True, "4", None])
def test_batches_bad_batch_size(bad):
    x = np.zeros((10, 3))
    with pytest.raises(ValidationError, match="batch_size") as err:
        batches(x, bad, np.random.default_rng(0))
    if isinstance(bad, int) and not isinstance(bad, bool):
        assert "N=10" in str(err.value)


def test_batches_bad_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValidationError, match="2-D"):
        batches(np.zeros(10), 2, rng)
    with pytest.raises(ValidationError, match="rng is required"):
        batches(np.zeros((10, 2)), 2)  # shuffle=True by default
    with pytest.raises(ValidationError, match="rng is required"):
        batches(np.zeros((10, 2)), 2, shuffle=False, binarize="dynamic")
    with pytest.raises(ValidationError, match="binarize"):
        batches(np.zeros((10, 2)), 2, rng, binarize="stochastic")
    with pytest.raises(ValidationError, match="y must have one entry"):
        batches(np.zeros((10, 2)), 2, rng, y=np.zeros(9))
    with pytest.raises(InputTypeError, match="rng"):
        batches(np.zeros((10, 2)), 2, rng=42)
    with pytest.raises(ValidationError, match=r"\[0, 1\]"):
        batches(np.full((10, 2), 3.0), 2, rng, binarize="threshold")


# --------------------------------------------------------------------------------------
# The real data sets (only when MINIVAE_DATA names a folder holding them)


real = pytest.mark.skipif(
    not os.environ.get("MINIVAE_DATA"), reason="MINIVAE_DATA is not set: no real data"
)

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@real
def test_real_mnist():
    train = load("mnist", "train", download=False)
    assert train.x.shape == (60000, 784) and train.x.dtype == np.float32
    assert train.x.min() == 0.0 and train.x.max() == 1.0
    assert train.y.shape == (60000,) and train.y.dtype == np.int64
    assert np.bincount(train.y, minlength=10).tolist() == MNIST_TRAIN_COUNTS
    test = load("mnist", "test", download=False)
    assert test.x.shape == (10000, 784) and test.y.shape == (10000,)
    assert 0.0 <= test.x.min() and test.x.max() <= 1.0


@real
@pytest.mark.parametrize("split,n", [("train", 60000), ("test", 10000)])
def test_real_fashion_mnist(split, n):
    ds = load("fashion-mnist", split, download=False)
    assert ds.x.shape == (n, 784) and ds.x.dtype == np.float32
    assert 0.0 <= ds.x.min() and ds.x.max() <= 1.0
    assert np.bincount(ds.y, minlength=10).tolist() == [n // 10] * 10


@real
@pytest.mark.parametrize(
    "split,n,mean", [("train", 50000, 0.13056), ("valid", 10000, 0.13113), ("test", 10000, 0.13251)]
)
def test_real_binarized_mnist(split, n, mean):
    # load() itself rejects a file whose content checksum differs; check it here as well.
    ds = load("binarized-mnist", split, download=False)
    assert ds.x.shape == (n, 784) and ds.y is None
    assert set(np.unique(ds.x)) == {0.0, 1.0}
    assert ds.x.mean(dtype=np.float64) == pytest.approx(mean, abs=1e-4)
    want = DATASETS["binarized-mnist"]["splits"][split]["files"]["rows"]["content_sha256"]
    assert content_sha256(ds.x.astype(np.uint8)) == want


@real
def test_real_batches_dynamic_mean():
    x = load("mnist", "test", download=False).x
    rng = np.random.default_rng(0)
    xb = next(batches(x, 5000, rng, binarize="dynamic"))
    assert set(np.unique(xb)) <= {0.0, 1.0}
    assert abs(xb.mean() - x.mean()) < 0.005
