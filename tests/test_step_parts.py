"""benchmarks/step_parts.py, the breakdown and floor quoted in benchmarks/README.md: tiny runs end to end."""
import os
import re
import subprocess
import sys

import pytest

from minivae import blas

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "step_parts.py"),
                           "--calls", "3", "--peak-n", "256", *args],
                          capture_output=True, text=True, timeout=300)


def _rows(out):
    """{row name: (measured, floor or None)} and the floor line's three figures."""
    rows = {}
    for line in out.splitlines():
        m = re.match(r"\s+(\S.*?)\s{2,}(\d+\.\d+)(?:\s+(\d+\.\d+)\s+([+-]\d+\.\d+))?$", line)
        if m:
            rows[m.group(1)] = (float(m.group(2)), None if m.group(3) is None else float(m.group(3)))
            if m.group(3) is not None:      # beyond = measured - floor
                assert float(m.group(4)) == pytest.approx(float(m.group(2)) - float(m.group(3)), abs=2e-3)
    [floor] = re.findall(r"products at the peak (\d+\.\d+) ms \+ one pass over Adam's state (\d+\.\d+) ms "
                         r"= (\d+\.\d+) ms", out)
    return rows, [float(f) for f in floor]


@pytest.mark.skipif(not blas.available(), reason="the BLAS thread count cannot be set here")
@pytest.mark.parametrize("threads, batch, parts", [
    ("1", "16", ("matrix products alone", "Adam.step alone", "Bernoulli loss and gradient alone")),
    ("2", "64", ("one thread's part alone (32 rows", "Adam.step on 2 threads")),
])
def test_step_parts_prints_each_part_beside_its_floor(threads, batch, parts):
    run = _run("--threads", threads, "--batch", batch)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert out.startswith("CPU: ") and "NumPy BLAS: " in out          # the machine, first
    rows, (products, adam, total) = _rows(out)
    assert total == pytest.approx(products + adam, abs=2e-3)
    step, step_floor = rows["whole training step"]
    assert step_floor == pytest.approx(total, abs=1e-3)
    assert 0 < products and 0 < adam and 0 < step
    for part in parts:
        [name] = [k for k in rows if k.startswith(part)]
        assert rows[name][0] > 0
    # the ratios the floor allows follow from its rate
    rate = int(re.search(r"= \d+\.\d+ ms, (\d+) steps/s", out).group(1))
    assert rate == pytest.approx(1000 / total, rel=0.01, abs=1)
    bound = int(re.search(r"1\.5x holds against a PyTorch step of at most (\d+) steps/s", out).group(1))
    assert bound == pytest.approx(1000 / total / 1.5, rel=0.01, abs=1)


def test_step_parts_refuses_a_two_thread_batch_it_would_not_split():
    run = _run("--threads", "2", "--batch", "16")
    assert run.returncode == 2
    assert "at least 64 rows" in run.stderr and "got 16" in run.stderr
