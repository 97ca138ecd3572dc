"""The notebooks: each runs top to bottom in quick mode on real MNIST, and the committed copies
hold the outputs of a full-length run with no error in them.

Every ``notebooks/*.ipynb`` is picked up, so notebooks added later are tested too. Execution is
in memory: the committed file is never overwritten. The kernel is "python3", which jupyter_client
resolves to the Python running pytest (ipykernel comes with the ``dev`` extra).
"""
import os
from pathlib import Path

import nbformat
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_notebooks_exist():
    assert len(NOTEBOOKS) >= 8, f"expected the lecture notebooks in {NOTEBOOK_DIR}, found {len(NOTEBOOKS)}"
    prefixes = [p.name[:2] for p in NOTEBOOKS]
    assert all(p.isdigit() for p in prefixes), f"notebooks are numbered in teaching order: {prefixes}"
    assert len(set(prefixes)) == len(prefixes), f"two notebooks share a number: {prefixes}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_outputs_are_from_a_full_run(path):
    """Committed with outputs, none of them an error, none from quick mode, and exercises at the end."""
    nb = nbformat.read(path, as_version=4)
    cells = _code_cells(nb)
    assert cells, f"{path.name} has no code"
    unexecuted = [i for i, c in enumerate(cells) if c.source.strip() and c.execution_count is None]
    assert not unexecuted, f"{path.name}: code cells {unexecuted} were not executed before committing"
    for c in cells:
        for out in c.outputs:
            assert out.output_type != "error", f"{path.name}: committed output holds an error: {out.get('ename')}"
            text = out.get("text", "") if out.output_type == "stream" else ""
            assert "quick mode" not in text, f"{path.name} was committed from a quick-mode run"
    figures = sum(1 for c in cells for o in c.outputs if "image/png" in o.get("data", {}))
    draws = ("plots.", "plt.", "Figure(")
    assert figures or not any(d in c.source for c in cells for d in draws), \
        f"{path.name}: figures drawn but none saved (does it start with %matplotlib inline?)"
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert any("Exercises" in m for m in markdown[-2:]), f"{path.name} should end with exercises"


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_executes(path, monkeypatch):
    if not os.environ.get("MINIVAE_DATA"):
        pytest.skip("MINIVAE_DATA is not set: the notebooks train on real MNIST")
    from nbclient import NotebookClient
    monkeypatch.setenv("MINIVAE_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # The kernel imports the minivae of this checkout, installed or not.
    root = str(NOTEBOOK_DIR.parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()
    for i, c in enumerate(_code_cells(nb)):
        errors = [o for o in c.outputs if o.output_type == "error"]
        assert not errors, (f"{path.name}, code cell {i}: {errors[0].ename}: {errors[0].evalue}\n"
                            f"{c.source[:500]}")
    assert any("quick mode" in o.get("text", "") for c in _code_cells(nb) for o in c.outputs), \
        f"{path.name} did not report quick mode: does it read MINIVAE_QUICK?"
