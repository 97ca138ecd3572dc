"""Bad options and faults on the command line: one line on standard error, no traceback, a
non-zero exit status. Cases are listed in docs/robustness.md by id."""
import gzip
import os
import socket
from pathlib import Path

import pytest

from minivae import datasets
from minivae.cli import main

needs_data = pytest.mark.skipif(not os.environ.get("MINIVAE_DATA"), reason="MINIVAE_DATA is not set")
TINY = ["--hidden", "8", "--latent-dim", "2", "--no-progress"]


def run(argv, capsys):
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exc:     # argparse's own errors
        rc = exc.code
    out = capsys.readouterr()
    return rc, out.err


def assert_one_line(rc, err, fragment, status=2):
    assert rc == status, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert fragment in err, err


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# id -> (argv builder given tmp_path, fragment of the message)
CLI_CASES = {
    "cli-lr-nan": (lambda p: ["train", "--lr", "nan"], "--lr: expected a positive finite number, got nan"),
    "cli-batch-size-not-a-number": (lambda p: ["train", "--batch-size", "lots"], "--batch-size: expected a positive integer, got 'lots'"),
    "cli-hidden-zero": (lambda p: ["train", "--hidden", "32", "0"], "--hidden: expected a positive integer, got 0"),
    "cli-negative-seed": (lambda p: ["train", "--seed", "-1"], "--seed: expected a non-negative integer, got -1"),
    "cli-unknown-activation": (lambda p: ["train", "--activation", "gelu"], "invalid choice: 'gelu'"),
    "cli-unknown-model": (lambda p: ["train", "--model", "gan"], "invalid choice: 'gan'"),
    "cli-unknown-command": (lambda p: ["fit"], "invalid choice: 'fit'"),
    "cli-sigma-without-gaussian": (lambda p: ["train", "--sigma", "0.5", "--out", p / "o"], "--sigma: applies to --likelihood gaussian, got --likelihood bernoulli"),
    "cli-vae-option-on-ae": (lambda p: ["train", "--model", "ae", "--beta", "2", "--out", p / "o"], "--beta: only for --model vae, got --model ae"),
    "cli-shared-posterior-bernoulli": (lambda p: ["train", "--posterior", "shared", "--out", p / "o"], "posterior='shared' shares sigma with the decoder"),
    "cli-out-is-a-file": (lambda p: ["train", "--out", _touch(p / "f")], "is a file, expected a folder"),
    "cli-out-not-writable": (lambda p: ["train", "--out", _touch(p / "f") / "run"], "--out: cannot write into"),
    "cli-resume-without-checkpoint": (lambda p: ["train", "--resume", "--out", p / "empty"], "--resume: no checkpoint at"),
    "cli-missing-data-no-download": (lambda p: ["train", "--data-dir", p / "nodata", "--no-download", "--out", p / "o"] + TINY, "file(s) missing and downloading is off (download=False, or --no-download"),
    "cli-corrupt-data-file": (lambda p: ["train", "--data-dir", _bad_mnist(p), "--out", p / "o"] + TINY, "is corrupt or not the expected file: expected SHA-256"),
    "cli-sample-corrupt-checkpoint": (lambda p: ["sample", _touch(p / "c.npz", b"PK\x03\x04garbage")], "c.npz: truncated or corrupt"),
    "cli-sample-zero": (lambda p: ["sample", p / "c.npz", "-n", "0"], "-n: expected a positive integer, got 0"),
    "cli-sample-unwritable-out": (lambda p: ["sample", _good_checkpoint(p), "--out", _touch(p / "f") / "s.png"], "is a file, not a folder"),
    "cli-evaluate-not-a-checkpoint": (lambda p: ["evaluate", _touch(p / "metrics.csv", b"epoch\n1\n")], "metrics.csv: not a minivae checkpoint (.npz archive), got a file starting with b'epoc'"),
}


def _touch(path, data=b""):
    path.write_bytes(data)
    return path


def _bad_mnist(tmp_path):
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"not mnist"))
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"not mnist"))
    return tmp_path / "data"


def _good_checkpoint(tmp_path):
    import minivae
    from minivae import checkpoint
    return checkpoint.save(tmp_path / "c.npz", minivae.VAE(784, 2, (8,)))


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_cli_bad_option_or_fault(case, tmp_path, capsys):
    argv, fragment = CLI_CASES[case]
    rc, err = run(argv(tmp_path), capsys)
    assert_one_line(rc, err, fragment)


def test_cli_download_failure_is_one_line(tmp_path, capsys, monkeypatch):
    dead = f"http://127.0.0.1:{_closed_port()}/"
    monkeypatch.setitem(datasets.DATASETS["mnist"], "mirrors", [dead])
    rc, err = run(["train", "--data-dir", tmp_path / "data", "--out", tmp_path / "o"] + TINY, capsys)
    assert_one_line(rc, err, "could not download train-images-idx3-ubyte.gz of data set 'mnist'; URLs tried:")
    assert dead in err and "MINIVAE_DATA" in err
    assert not list((tmp_path / "data").rglob("*.gz"))     # nothing half-downloaded left behind


@needs_data
def test_cli_batch_size_larger_than_data(tmp_path, capsys):
    rc, err = run(["train", "--limit", "100", "--batch-size", "200", "--out", tmp_path] + TINY, capsys)
    assert_one_line(rc, err, "--batch-size: expected at most 100 (the number of training examples), got 200")


@needs_data
def test_cli_limit_larger_than_data(tmp_path, capsys):
    rc, err = run(["train", "--limit", "70000", "--out", tmp_path] + TINY, capsys)
    assert_one_line(rc, err, "--limit: expected at most 60000 (the size of mnist train), got 70000")


@needs_data
def test_cli_evaluate_limit_larger_than_data(tmp_path, capsys):
    rc, err = run(["evaluate", _good_checkpoint(tmp_path), "--limit", "20000"], capsys)
    assert_one_line(rc, err, "--limit: expected at most 10000 (the size of mnist test), got 20000")


def test_every_cli_case_is_in_the_docs():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "robustness.md").read_text()
    ids = list(CLI_CASES) + ["cli-download-failure", "cli-batch-size-larger-than-data", "cli-limit-larger-than-data",
                            "cli-evaluate-limit-larger-than-data"]
    missing = [i for i in ids if f"`{i}`" not in doc]
    assert not missing, f"docs/robustness.md does not list {missing}"
