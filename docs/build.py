"""Build the course website: ``python docs/build.py`` (needs ``pip install -e ".[docs]"``).

Lays out the sources (``docs/sitegen.py``: the README, every notebook with its committed
outputs, the documents of ``docs/``, the API reference, the cited tests) in ``OUT/src``, then
runs Sphinx with warnings as errors into ``OUT/html``. Incremental: a second run rebuilds only
the pages whose sources changed. OUT is ``docs/_build`` unless ``--out`` says otherwise; it is
never committed. Open ``OUT/html/index.html`` in a browser.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def build(out: Path, jobs: str = "1", strict: bool = True, quiet: bool = True) -> int:
    """Stage the sources and run Sphinx; returns Sphinx's exit status (0: built, no warning)."""
    try:
        from sphinx.cmd.build import build_main
    except ImportError:
        print("build.py: Sphinx is not installed; pip install -e '.[docs]'", file=sys.stderr)
        return 2
    import sitegen

    out = Path(out).resolve()
    t0 = time.perf_counter()
    try:
        staged = sitegen.stage(out / "src")
    except sitegen.SiteError as exc:
        print(f"build.py: {exc}", file=sys.stderr)
        return 1
    for what, names in staged.items():
        print(f"{len(names):3d} {what}")
    args = ["-b", "html", "-c", str(HERE), "-d", str(out / "doctrees"), "-j", jobs]
    # Sphinx reports a page's warnings only when it reads the page: after a failed build, read
    # every page again, so that a warning of a page that did not change is not forgotten
    failed = out / ".last-build-failed"
    if failed.exists():
        args.append("-E")
    if strict:
        args += ["-W", "--keep-going"]
    if quiet:
        args += ["-q"]
    status = build_main(args + [str(out / "src"), str(out / "html")])
    if status:
        failed.write_text("the last build reported warnings\n")
    elif failed.exists():
        failed.unlink()
    print(f"{'built' if status == 0 else 'FAILED'} in {time.perf_counter() - t0:.1f} s: "
          f"{out / 'html' / 'index.html'}")
    return status


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "_build",
                        help="build folder (default docs/_build; the site is OUT/html)")
    parser.add_argument("-j", "--jobs", default="1", help="Sphinx's parallel jobs (default 1)")
    parser.add_argument("--no-strict", action="store_true",
                        help="report warnings without failing on them")
    parser.add_argument("-v", "--verbose", action="store_true", help="Sphinx's full output")
    args = parser.parse_args(argv)
    return build(args.out, args.jobs, strict=not args.no_strict, quiet=not args.verbose)


if __name__ == "__main__":
    sys.exit(main())
