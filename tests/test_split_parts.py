"""benchmarks/split_parts.py, the diagnostic quoted in benchmarks/README.md: a tiny run end to end."""
import os
import re
import subprocess
import sys

import pytest

from minivae import blas

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the helper process is forked")
@pytest.mark.skipif(not blas.available(), reason="the BLAS thread count cannot be set here")
def test_split_parts_times_a_half_three_ways_and_leaves_no_child():
    # In a fresh interpreter: the script forks, which a test process full of threads should not.
    # A helper process left running would hold the output pipe open and time the run out.
    run = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "split_parts.py"),
                          "--batch", "16", "--rounds", "2", "--calls", "3"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("split_parts: loss_and_grad on 8 of 16 rows")
    times = {}
    for way in ("alone", "beside a helper thread", "beside a helper process"):
        [line] = [s for s in lines if s.strip().startswith(way + " ")]
        times[way] = float(re.search(r"\s(\d+\.\d+)\s", line).group(1))
    assert all(0 < t < 1000 for t in times.values()), times
    assert "+0.0%" in [s for s in lines if s.strip().startswith("alone ")][0]   # the baseline


def test_split_parts_refuses_a_batch_it_cannot_halve():
    run = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "split_parts.py"), "--batch", "7"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "--batch: expected an even number of rows, at least 2, got 7" in run.stderr
