"""Execute the notebooks top to bottom and save them with their outputs.

    python notebooks/run_all.py                 # every notebooks/*.ipynb, full length
    python notebooks/run_all.py 04 08           # only the notebooks whose names start so
    python notebooks/run_all.py --quick         # shortened training (MINIVAE_QUICK=1)

The committed notebooks hold the outputs of a full-length run, so a student sees the real
figures without running anything; regenerate them with this script (MINIVAE_DATA must name the
data folder, or the data are downloaded into ./data). It uses the kernel "python3", which is
the Python running this script when ipykernel is installed beside it. A notebook that raises
is not saved, and the script exits with status 1.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

HERE = Path(__file__).resolve().parent


def run(path: Path, quick: bool, timeout: int = 1800) -> float:
    """Execute ``path`` in the notebooks folder; return the seconds it took."""
    nb = nbformat.read(path, as_version=4)
    if quick:
        os.environ["MINIVAE_QUICK"] = "1"
    else:
        os.environ.pop("MINIVAE_QUICK", None)
    os.environ.setdefault("MPLBACKEND", "Agg")
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    t0 = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - t0
    nbformat.write(nb, path)
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="name prefixes of the notebooks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="set MINIVAE_QUICK=1 (do not commit the result)")
    args = parser.parse_args(argv)
    paths = sorted(HERE.glob("*.ipynb"))
    if args.only:
        paths = [p for p in paths if any(p.name.startswith(o) for o in args.only)]
    if not paths:
        print("no notebook matched", file=sys.stderr)
        return 1
    status = 0
    for path in paths:
        print(f"{path.name} ...", end=" ", flush=True)
        try:
            print(f"{run(path, args.quick):.0f} s", flush=True)
        except CellExecutionError as exc:
            print("FAILED (not saved)", flush=True)
            print(str(exc)[-3000:], file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
