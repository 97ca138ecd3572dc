"""Write the student edition of the notebooks: solutions replaced by stubs, outputs cleared.

    python notebooks/student_edition.py              # every notebooks/*.ipynb into student/
    python notebooks/student_edition.py 04 09        # only the notebooks whose names start so
    python notebooks/student_edition.py --out DIR    # another folder

The committed notebooks are the instructor's edition: every exercise is a *solution cell* (a
function whose body lies between ``### BEGIN SOLUTION`` and ``### END SOLUTION``) followed by a
*check cell* (a call of a ``minivae.exercises`` check), with nbgrader's cell metadata, schema 3:

    solution cell: {"nbgrader": {"grade": false, "grade_id": "ex1-answer", "locked": false,
                                 "schema_version": 3, "solution": true, "task": false}}
    check cell:    {"nbgrader": {"grade": true, "grade_id": "ex1-check", "locked": true,
                                 "points": 1, "schema_version": 3, "solution": false, "task": false}}

This script does what nbgrader's ``ClearSolutions`` and ``ClearOutput`` preprocessors do to such a
notebook, so that ``nbgrader generate_assignment`` and this script give the same student cells:
in a solution cell, each region from the line holding ``BEGIN SOLUTION`` to the line holding
``END SOLUTION`` becomes, at the indentation of the BEGIN line, ``# YOUR CODE HERE`` and
``raise NotImplementedError(hint)``, where the hint is the text of a ``# HINT:`` line inside the
region (nbgrader's stub has no hint: an instructor who wants them configures
``ClearSolutions.code_stub``); a solution cell without markers is replaced whole; a markdown
solution becomes ``YOUR ANSWER HERE``. Every code cell's outputs and execution count are cleared,
and all metadata is kept. A cell with markers but no solution metadata is an error, as it is for
nbgrader. The output folder, ``student/`` at the top of the checkout by default, is ignored by
git: the student editions are generated, not committed (its place beside ``notebooks/`` keeps the
notebooks' relative links to ``../docs`` working).
"""
from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
BEGIN, END = "BEGIN SOLUTION", "END SOLUTION"
CODE_STUB = "# YOUR CODE HERE"
TEXT_STUB = "YOUR ANSWER HERE"
_HINT = re.compile(r"^\s*#\s*HINT:\s*(.*?)\s*$")


class SolutionFormatError(ValueError):
    """A notebook's solution markers or metadata do not follow the format above."""


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_solution(cell) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def is_check(cell) -> bool:
    return bool(nbgrader_meta(cell).get("grade")) and not is_solution(cell)


def _stub(indent: str, hint: str | None) -> list[str]:
    message = hint or "replace this line by your answer"
    return [f"{indent}{CODE_STUB}", f"{indent}raise NotImplementedError({message!r})"]


def clear_solution_source(source: str, code: bool, where: str = "cell") -> tuple[str, bool]:
    """The source with every solution region replaced by its stub; and whether there was one."""
    lines = source.split("\n")
    out, region, found = [], None, False
    for line in lines:
        if BEGIN in line:
            if region is not None:
                raise SolutionFormatError(f"{where}: '{BEGIN}' inside an open solution region")
            region = {"indent": line[: len(line) - len(line.lstrip())], "hint": None}
            found = True
        elif END in line:
            if region is None:
                raise SolutionFormatError(f"{where}: '{END}' without a '{BEGIN}' before it")
            out.extend(_stub(region["indent"], region["hint"]) if code else [TEXT_STUB])
            region = None
        elif region is not None:
            m = _HINT.match(line)
            if m and region["hint"] is None:
                region["hint"] = m.group(1)
        else:
            out.append(line)
    if region is not None:
        raise SolutionFormatError(f"{where}: '{BEGIN}' without an '{END}' after it")
    return "\n".join(out), found


def student_notebook(nb, name: str = "notebook"):
    """A copy of ``nb`` (an nbformat v4 notebook) as the student edition."""
    nb = copy.deepcopy(nb)
    for i, cell in enumerate(nb.cells):
        where = f"{name}, cell {i}"
        code = cell.cell_type == "code"
        if cell.cell_type in ("code", "markdown"):
            source, found = clear_solution_source(cell.source, code, where)
            if found and not is_solution(cell):
                raise SolutionFormatError(f"{where}: solution markers in a cell whose nbgrader metadata "
                                          f"does not say solution: true")
            if is_solution(cell):
                if not found:   # nbgrader replaces an unmarked solution cell whole
                    source = "\n".join(_stub("", None)) if code else TEXT_STUB
                cell.source = source
        if code:
            cell.outputs = []
            cell.execution_count = None
    return nb


def write_student_editions(paths, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        target = out / path.name
        nbformat.write(student_notebook(nb, path.name), target)
        written.append(target)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="name prefixes of the notebooks (default: all)")
    parser.add_argument("--out", type=Path, default=HERE.parent / "student",
                        help="folder for the student editions (default: student/ beside notebooks/)")
    args = parser.parse_args(argv)
    paths = sorted(HERE.glob("*.ipynb"))
    if args.only:
        paths = [p for p in paths if any(p.name.startswith(o) for o in args.only)]
    if not paths:
        print("no notebook matched", file=sys.stderr)
        return 1
    try:
        written = write_student_editions(paths, args.out)
    except SolutionFormatError as exc:
        print(f"not written: {exc}", file=sys.stderr)
        return 1
    for target in written:
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
