"""The package's imports point one way (minivae.runtime.layers): no module imports from a layer
above its own, no circle of imports, no import hidden in a function unless it is an optional
third-party package, and no module grows past MAX_LINES lines."""
import ast
from pathlib import Path

import pytest

from minivae.runtime.layers import LAYERS, MAX_LINES, OPTIONAL_IMPORTS, layer_of

PACKAGE = Path(__file__).resolve().parent.parent / "minivae"


def _module_name(path):
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)          # "" for the package itself


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_package(name):
    return MODULES.get(name) is not None and MODULES[name].name == "__init__.py"


def _resolve(module, node):
    """The minivae modules an import statement of ``module`` names (paths below minivae)."""
    if isinstance(node, ast.Import):
        return [a.name[len("minivae."):] if a.name != "minivae" else ""
                for a in node.names if a.name == "minivae" or a.name.startswith("minivae.")]
    if node.level == 0:
        if node.module != "minivae" and not (node.module or "").startswith("minivae."):
            return []
        base = node.module[len("minivae."):] if node.module != "minivae" else ""
    else:
        here = module.split(".") if module else []
        if not _is_package(module):
            here = here[:-1]
        here = here[: len(here) - (node.level - 1)]
        base = ".".join(here + ([node.module] if node.module else []))
    out = []
    for alias in node.names:
        candidate = f"{base}.{alias.name}" if base else alias.name
        out.append(candidate if candidate in MODULES else base)   # a submodule, or a name in base
    return out


def _imports(module):
    """(module-level imports, imports inside functions) of ``module``: lists of (line, target,
    third-party name or None)."""
    tree = ast.parse(MODULES[module].read_text())
    top, late = [], []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                targets = _resolve(module, child)
                if targets:
                    (late if in_function else top).extend((child.lineno, t, None) for t in targets)
                elif in_function:
                    names = [child.module] if isinstance(child, ast.ImportFrom) else [a.name for a in child.names]
                    late.extend((child.lineno, None, n) for n in names)
            visit(child, inner)

    visit(tree, False)
    return top, late


def test_every_module_has_a_layer():
    unlisted = [m for m in MODULES if m and layer_of(m) is None]
    assert not unlisted, f"modules missing from minivae.runtime.layers.LAYERS: {unlisted}"
    listed = [n for names in LAYERS for n in names if not n.endswith(".*")]
    assert all(n in MODULES for n in listed), [n for n in listed if n not in MODULES]


@pytest.mark.parametrize("module", [m for m in MODULES if m])
def test_imports_point_down(module):
    top, late = _imports(module)
    mine = layer_of(module)
    upward = [(line, t, layer_of(t)) for line, t, _ in top if layer_of(t) is not None and layer_of(t) > mine]
    assert not upward, (f"minivae.{module} (layer {mine}) imports from higher layers: "
                        + ", ".join(f"line {ln}: minivae.{t} (layer {lay})" for ln, t, lay in upward))
    hidden = [(line, t or third) for line, t, third in late
              if t is not None or not any(third == o or third.startswith(o + ".") for o in OPTIONAL_IMPORTS)]
    assert not hidden, (f"minivae.{module} imports inside a function (import it at the top, or list an "
                        f"optional third-party package in OPTIONAL_IMPORTS): {hidden}")


def test_no_circle_of_imports():
    graph = {m: sorted({t for _, t, _ in _imports(m)[0] if t != m}) for m in MODULES}
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for t in graph.get(m, ()):
            if t == "" or t not in graph:     # the package's public API is not imported by its modules
                continue
            if state.get(t) == "open":
                circle = stack[stack.index(t):] + [t]
                raise AssertionError("circle of imports: " + " -> ".join(f"minivae.{c}" for c in circle))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = "done"

    for m in graph:
        if m not in state:
            visit(m)


def test_the_package_itself_is_imported_by_no_module():
    """Modules import what they need from where it lives, not through minivae/__init__."""
    offenders = [m for m in MODULES if m and any(t == "" for _, t, _ in _imports(m)[0])]
    assert not offenders, offenders


@pytest.mark.parametrize("module", list(MODULES))
def test_no_module_is_too_long(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"minivae.{module or '__init__'} has {lines} lines (at most {MAX_LINES})"


def test_the_checker_catches_what_it_should(tmp_path, monkeypatch):
    """The resolver sees relative imports of every depth, so an upward import cannot hide."""
    assert _resolve("models.vae", ast.parse("from ..priors import make_prior").body[0]) == ["priors"]
    assert _resolve("models.vae", ast.parse("from .base import Model").body[0]) == ["models.base"]
    assert _resolve("models", ast.parse("from . import checkpoint").body[0]) == ["models.checkpoint"]
    assert _resolve("kl", ast.parse("from .estimators import log_softmax").body[0]) == ["estimators"]
    assert _resolve("kl", ast.parse("import minivae.train").body[0]) == ["train"]
    assert layer_of("kl") < layer_of("models.vae") < layer_of("train") < layer_of("cli")
