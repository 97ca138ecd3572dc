"""The sources of the course website, laid out from the repository for Sphinx to build.

Nothing here is committed output: ``docs/build.py`` calls :func:`stage` to write a source folder
(inside the build folder) and then runs Sphinx on it. What goes in:

* ``index.md``: the README, its links pointed at the site's own pages;
* ``notebooks/*.ipynb``: every notebook found at build time, with its committed outputs (never
  executed), each numbered section given a target and a line linking back to the rows of the
  derivation map that cite it;
* ``derivations.md``: the derivation map with every function, test and notebook section it names
  turned into a link (the committed ``docs/derivations.md`` stays plain Markdown);
* every other ``docs/*.md`` (the robustness document, the notation table, ...);
* ``api/``: one page per module of the package, every public name of its ``__all__``;
* ``tests/``: the source of every test the documents name, one page per test file.

A name, test, notebook or section that the documents cite but that does not exist raises
:class:`SiteError` here, or becomes a reference Sphinx cannot resolve (a warning, and the build
runs with warnings as errors).
"""
from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import posixpath
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "minivae"
if str(ROOT / "docs") not in sys.path:
    sys.path.insert(0, str(ROOT / "docs"))            # docmath, beside this file
import docmath  # noqa: E402

TEST_REF = re.compile(r"`(tests/(\w+)\.py)::(\w+)`")
NAME_REF = re.compile(r"`(minivae(?:\.\w+)+)([^`]*)`")
SHORT_REF = re.compile(r"`([A-Z]\w*\.\w+)`")
NOTEBOOK_REF = re.compile(r"`(\d\d_\w+)`")
SECTION_REF = re.compile(r"§ (\d+)")
SECTION_HEADING = re.compile(r"^##\s+(\d+)\.\s")
MD_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")


def _import_longest(parts):
    """The module named by the longest importable prefix of ``parts`` and that prefix's length
    (None, 0 when no prefix imports)."""
    for i in range(len(parts), 0, -1):
        try:
            return importlib.import_module(".".join(parts[:i])), i
        except ImportError:
            continue
    return None, 0


class SiteError(Exception):
    """The repository cites something the site cannot link: a missing notebook or section."""


def write_if_changed(path: Path, text: str) -> None:
    """Write only when the content differs, so that Sphinx rebuilds only what changed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def copy_if_changed(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.exists() or dst.read_bytes() != src.read_bytes():
        shutil.copyfile(src, dst)


# ------------------------------------------------------------------------------------------
# The API reference: which names are documented, and where
# ------------------------------------------------------------------------------------------
def package_modules() -> list[str]:
    """Every module of the package found on disk (aliases kept for old import paths are not files)."""
    pkg = importlib.import_module(PACKAGE)
    names = [PACKAGE]
    for info in pkgutil.walk_packages(pkg.__path__, PACKAGE + "."):
        if info.name.rsplit(".", 1)[-1].startswith("_"):
            continue                      # __main__ runs the command line when imported
        names.append(info.name)
    return sorted(names)


def _public(module) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items()
                 if not n.startswith("_") and (inspect.isfunction(v) or inspect.isclass(v))
                 and v.__module__ == module.__name__]
    return list(names)


def _kind(obj) -> str:
    if inspect.ismodule(obj):
        return "module"
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return "function"
    return "data"


def _home(obj, module_name: str) -> str:
    """The module whose page documents ``obj``: where it was defined, for classes and functions."""
    if inspect.isclass(obj) or inspect.isfunction(obj):
        return obj.__module__
    return module_name


def _section(obj, title: str) -> str:
    """One numpydoc section of ``obj``'s docstring ('' when it has none)."""
    doc = inspect.getdoc(obj) or ""
    m = re.search(rf"^{title}\n-+\n(.*?)(?=^\w[\w ]*\n-+\n|\Z)", doc, re.M | re.S)
    return m.group(1) if m else ""


class ApiIndex:
    """The documented names: module -> own names (documented there) and re-exported names."""

    def __init__(self, modules: list[str]):
        self.modules = modules
        self.own: dict[str, list[tuple[str, str]]] = {}      # module -> [(name, kind)]
        self.reexports: dict[str, list[tuple[str, str]]] = {}  # module -> [(name, target)]
        self.documented: set[str] = set(modules)
        for mod_name in modules:
            module = importlib.import_module(mod_name)
            own, re_ = [], []
            for name in _public(module):
                obj = getattr(module, name)
                kind = _kind(obj)
                if kind == "module":
                    re_.append((name, obj.__name__))
                    continue
                home = _home(obj, mod_name)
                if home == mod_name or home not in modules:
                    own.append((name, kind))
                    full = f"{mod_name}.{name}"
                    self.documented.add(full)
                    if inspect.isclass(obj):
                        for attr in vars(obj):
                            if not attr.startswith("_"):
                                self.documented.add(f"{full}.{attr}")
                else:
                    re_.append((name, f"{home}.{obj.__name__}"))
            self.own[mod_name] = own
            self.reexports[mod_name] = re_
        # a base class a page shows ("Bases: Likelihood") is documented where it lives
        for mod_name in modules:
            module = importlib.import_module(mod_name)
            for name, kind in list(self.own[mod_name]):
                obj = getattr(module, name)
                if not inspect.isclass(obj):
                    continue
                for base in inspect.getmro(obj)[1:]:
                    home, full = base.__module__, f"{base.__module__}.{base.__qualname__}"
                    if home in self.own and full not in self.documented:
                        self.own[home].append((base.__qualname__, _kind(base)))
                        self.documented.add(full)
                        self.documented.update(f"{full}.{a}" for a in vars(base) if not a.startswith("_"))

    def lookup(self, target: str, module: str | None = None, cls: str | None = None) -> str | None:
        """Where a name a docstring cites is documented, looking it up as Python would from the
        docstring's module (and class): a re-exported name, a module alias or an inherited member
        leads to its home. None when the name does not exist at all."""
        candidates = [target]
        if module:
            if cls:
                candidates.append(f"{module}.{cls}.{target}")
            candidates.append(f"{module}.{target}")
            # a name of the module's own classes (a module docstring's :meth:`loss_and_grad`)
            for name, kind in self.own.get(module, []):
                if kind == "class" and "." not in target:
                    candidates.append(f"{module}.{name}.{target}")
            # then the enclosing packages (a sibling module's name, re-exported there)
            parts = module.split(".")
            candidates += [f"{'.'.join(parts[:k])}.{target}" for k in range(len(parts) - 1, 0, -1)]
        for dotted in candidates:
            found = self._object_path(dotted)
            if found:
                return found
        if module and "." in target and not target.startswith(PACKAGE):
            cls, target = target.rsplit(".", 1)          # Params.grad from the module's text
        if module and cls and "." not in target:
            owner = self._object_path(f"{module}.{cls}")
            klass = self._object(owner) if owner else None
            if inspect.isclass(klass):
                # an instance attribute listed in the class's Attributes section
                if re.search(rf"^\s*{re.escape(target)}\s*:", _section(klass, "Attributes"), re.M):
                    return owner
                # a method every subclass defines (an abstract interface)
                if any(target in vars(sub) for sub in klass.__subclasses__()):
                    return owner
        return None

    def _object(self, dotted: str):
        parts = dotted.split(".")
        for i in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
            for attr in parts[i:]:
                obj = getattr(obj, attr)
            return obj
        return None

    def _object_path(self, dotted: str) -> str | None:
        parts = dotted.split(".")
        if parts[0] != PACKAGE:
            return None
        obj, i = _import_longest(parts)
        if obj is None:
            return None
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return None
            obj = getattr(obj, attr)
        if inspect.ismodule(obj):
            return obj.__name__ if obj.__name__ in self.documented else None
        if inspect.isclass(obj) or inspect.isfunction(obj):
            home = f"{obj.__module__}.{obj.__qualname__}"
            if home in self.documented:
                return home
        return self.resolve(dotted)

    def resolve(self, dotted: str) -> str:
        """The documented target for ``dotted``: itself, the class that defines an inherited
        member, or the nearest documented parent (a private method links to its class)."""
        if dotted in self.documented:
            return dotted
        parts = dotted.split(".")
        obj, i = _import_longest(parts)
        chain = [obj]
        for attr in parts[i:]:
            if not hasattr(chain[-1], attr):
                return dotted                         # Sphinx will report the broken reference
            chain.append(getattr(chain[-1], attr))
        if inspect.ismodule(chain[-1]) and chain[-1].__name__ in self.documented:
            return chain[-1].__name__                 # an alias kept for an old import path
        # an inherited member: documented on the class that defines it
        if len(parts) - i >= 2 and inspect.isclass(chain[-2]):
            for base in inspect.getmro(chain[-2]):
                if parts[-1] in vars(base):
                    target = f"{base.__module__}.{base.__qualname__}.{parts[-1]}"
                    if target in self.documented:
                        return target
                    break
        for j in range(len(parts) - 1, 0, -1):
            if ".".join(parts[:j]) in self.documented:
                return ".".join(parts[:j])
        return dotted

    def resolve_short(self, short: str) -> str | None:
        """``VAE.loss_and_grad`` -> its full name, when exactly one documented name ends so."""
        hits = [n for n in self.documented if n.endswith("." + short)]
        return hits[0] if len(hits) == 1 else None


def _first_paragraph(obj, kind: str) -> str:
    """The docstring's first paragraph, its equations as mathematics (for the contents table)."""
    doc = inspect.getdoc(obj) if kind != "data" else None
    if not doc:
        return kind
    para = " ".join(doc.strip().split("\n\n")[0].split())
    return " ".join(docmath.process_lines([para])).strip()


def api_pages(api: ApiIndex) -> dict[str, str]:
    """RST sources of the API reference: ``api/index.rst`` and one page per module."""
    pages = {}
    rows = []
    for mod_name in api.modules:
        module = importlib.import_module(mod_name)
        summary = (inspect.getdoc(module) or "").strip().split("\n\n")[0].replace("\n", " ")
        rows.append(f"   * - :mod:`{mod_name}`\n     - {summary}")
        lines = [mod_name, "=" * len(mod_name), "", f".. automodule:: {mod_name}", "   :no-members:", ""]
        own = api.own[mod_name]
        if own:
            lines += [".. rubric:: Contents", "", ".. list-table::", "   :widths: 25 75", ""]
            for name, kind in own:
                first = _first_paragraph(getattr(module, name.split(".")[0]) if "." not in name
                                         else None, kind)
                lines += [f"   * - :py:obj:`{name} <{mod_name}.{name}>`", f"     - {first}"]
            lines.append("")
        if api.reexports[mod_name]:
            lines += [".. rubric:: Also importable from here", ""]
            for name, target in api.reexports[mod_name]:
                role = "mod" if target in api.modules else "obj"
                lines.append(f"* ``{name}``: :{role}:`{target}`")
            lines.append("")
        for name, kind in own:
            full = f"{mod_name}.{name}"
            if kind in ("class", "exception"):
                lines += [f".. auto{kind}:: {full}", "   :members:", "   :undoc-members:",
                          "   :show-inheritance:", ""]
            else:
                lines += [f".. auto{kind}:: {full}", ""]
        pages[f"api/{mod_name}.rst"] = "\n".join(lines)
    head = ["API reference", "=============", "",
            "Every public name of every module (its ``__all__``), with its docstring: the equation",
            "it implements, the lecture it comes from, and the shapes it takes.", "",
            ".. toctree::", "   :hidden:", ""]
    head += [f"   {m}" for m in api.modules]
    head += ["", ".. list-table::", "   :header-rows: 1", "   :widths: 30 70", "",
             "   * - module", "     - what it holds"] + rows + [""]
    pages["api/index.rst"] = "\n".join(head)
    return pages


# ------------------------------------------------------------------------------------------
# Notebooks and the derivation map
# ------------------------------------------------------------------------------------------
def notebook_stems() -> list[str]:
    return sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))


def section_label(stem: str, number: str) -> str:
    return f"nb-{stem}-s{number}".replace("_", "-").lower()


def test_label(file_stem: str, name: str) -> str:
    return f"{file_stem}-{name}".replace("_", "-").lower()     # Sphinx's ids are lower case


def _cell_source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def notebook_sections(stem: str) -> dict[str, str]:
    """Numbered sections of a notebook: number -> heading text."""
    nb = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text(encoding="utf-8"))
    found = {}
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in _cell_source(cell).splitlines():
                m = SECTION_HEADING.match(line)
                if m:
                    found[m.group(1)] = line.lstrip("#").strip()
    return found


def _split_row(line: str) -> list[str]:
    """Cells of a Markdown table row; an escaped pipe stays inside its cell."""
    cells, cur, i = [], "", 0
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body) and body[i + 1] == "|":
            cur += "\\|"
            i += 2
            continue
        if body[i] == "|":
            cells.append(cur.strip())
            cur = ""
        else:
            cur += body[i]
        i += 1
    cells.append(cur.strip())
    return cells


class Linker:
    """Turns the plain citations of the documents into references Sphinx checks."""

    def __init__(self, api: ApiIndex, stems: list[str], depth: int):
        self.api = api
        self.stems = set(stems)
        self.up = "../" * depth
        self.tests: dict[str, set[str]] = {}      # test file stem -> test names cited

    def code(self, text: str) -> str:
        def name(m):
            dotted, rest = m.group(1), m.group(2)
            target = self.api.resolve(dotted)
            shown = (dotted + rest).replace("<", "\\<")
            return f"{{py:obj}}`{shown} <{target}>`"

        def short(m):
            target = self.api.resolve_short(m.group(1))
            return f"{{py:obj}}`{m.group(1)} <{target}>`" if target else m.group(0)

        return SHORT_REF.sub(short, NAME_REF.sub(name, text))

    def tests_in(self, text: str) -> str:
        def test(m):
            path, file_stem, name = m.groups()
            if not (ROOT / path).exists():
                raise SiteError(f"{path} is cited but does not exist")
            self.tests.setdefault(file_stem, set()).add(name)
            return f"{{ref}}`{path}::{name} <{test_label(file_stem, name)}>`"
        return TEST_REF.sub(test, text)

    def notebooks_in(self, text: str, strict_sections: bool) -> tuple[str, list[tuple[str, str]]]:
        """Link ``NN_name`` to its notebook and each ``§ N`` after it to that section."""
        cited = []
        out, pos, current = [], 0, None
        tokens = sorted([(m.start(), m.end(), "nb", m.group(1)) for m in NOTEBOOK_REF.finditer(text)]
                        + [(m.start(), m.end(), "sec", m.group(1)) for m in SECTION_REF.finditer(text)])
        for start, end, kind, value in tokens:
            out.append(text[pos:start])
            pos = end
            if kind == "nb":
                if value not in self.stems:
                    if strict_sections:
                        raise SiteError(f"notebook {value} is cited but notebooks/{value}.ipynb does not exist")
                    out.append(text[start:end])
                    current = None
                    continue
                current = value
                out.append(f"{{doc}}`{self.up}notebooks/{value}`")      # shown by its title
            elif current is None:
                out.append(text[start:end])
            else:
                if value not in notebook_sections(current):
                    raise SiteError(f"{current} has no section '## {value}.' (cited as § {value})")
                cited.append((current, value))
                out.append(f"{{ref}}`§ {value} <{section_label(current, value)}>`")
        out.append(text[pos:])
        return "".join(out), cited

    def links(self, text: str, staged_docs: dict[str, str], src_dir: str = "", dst_dir: str = "") -> str:
        """Relative Markdown links of a file in the repository folder ``src_dir``, staged into
        ``dst_dir``: to a staged page, rewritten; to anything else, plain text."""
        def link(m):
            label, target = m.groups()
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                return m.group(0)
            path, _, fragment = target.partition("#")
            repo_path = posixpath.normpath(posixpath.join(src_dir, path))
            if repo_path in staged_docs:
                new = posixpath.relpath(staged_docs[repo_path], dst_dir or ".")
                return f"[{label}]({new}{'#' + fragment if fragment else ''})"
            return f"{label} (`{repo_path}` in the repository)" if label != path else f"`{repo_path}`"
        return MD_LINK.sub(link, text)


def outside_fences(text: str, fn) -> str:
    """Apply ``fn`` to the Markdown outside fenced code blocks only."""
    parts = re.split(r"(^```.*?^```[^\n]*$)", text, flags=re.M | re.S)
    return "".join(p if i % 2 else fn(p) for i, p in enumerate(parts))


def equation_cell(cell: str) -> str:
    """The equation column with its equations as MyST math roles (no pipe left inside them:
    the cell sits in a Markdown table)."""
    text = cell.replace("\\|", "|")
    rst = docmath.inline(text)

    def role(m):
        tex = m.group(1).replace(r"\lVert ", r"\lVert ").replace("|", r"\vert ")
        return "{math}`" + tex + "`"
    out = re.sub(r":math:`([^`]*)`", role, rst)
    # what stayed text keeps its escaped pipes
    parts = re.split(r"(\{math\}`[^`]*`)", out)
    return "".join(p if p.startswith("{math}") else p.replace("|", "\\|").replace("\\*", "*")
                   for p in parts)


def derivation_map(text: str, linker: Linker) -> tuple[str, dict[tuple[str, str], list[tuple[str, str]]]]:
    """The derivation map with links, and for each notebook section the rows that cite it."""
    backlinks: dict[tuple[str, str], list[tuple[str, str]]] = {}
    out, header, used_ids, extra = [], None, set(), 0
    for line in text.splitlines():
        if not line.startswith("|"):
            header = None
            out.append(linker.tests_in(linker.code(line)) if "`" in line else line)
            continue
        cells = _split_row(line)
        if header is None:
            header = [c.lower() for c in cells]
            if out and out[-1].strip():
                out.append("")
            out += [f"{{.derivation-map .columns-{len(header)}}}", line]
            continue
        if all(re.fullmatch(r":?-+:?", c) for c in cells):
            out.append(line)
            continue
        row = dict(zip(header, cells))
        if "#" in row and row["#"]:
            base = f"item-{row['#']}"
            shown = f"item {row['#']}"
        else:
            extra += 1
            base = f"implementation-{extra}"
            shown = f"implementation row {extra}"
        row_id, k = base, 1
        while row_id in used_ids:
            k += 1
            row_id = f"{base}-{k}"
        used_ids.add(row_id)
        new = []
        for col, cell in zip(header, cells):
            if col == "equation or claim":
                cell = equation_cell(cell)
            elif col == "code":
                cell = linker.code(cell)
            elif col == "test":
                cell = linker.tests_in(cell)
            elif col == "notebook section":
                cell, cited = linker.notebooks_in(cell, strict_sections=True)
                for key in cited:
                    if (shown, row_id) not in backlinks.setdefault(key, []):
                        backlinks[key].append((shown, row_id))
            new.append(cell)
        first = new[0] if new[0] else ""
        new[0] = f"[{first or '·'}]{{#{row_id}}}"
        out.append("| " + " | ".join(new) + " |")
    return "\n".join(out) + "\n", backlinks


def stage_notebook(stem: str, dst: Path, backlinks, linker: "Linker", staged_docs: dict[str, str]) -> None:
    """A copy of the notebook, outputs untouched, with section targets, links back to the map,
    and its links to the repository's documents pointed at their pages."""
    nb = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        lines = []
        source = outside_fences(_cell_source(cell),
                                lambda t: linker.links(t, staged_docs, "notebooks", "notebooks"))
        for line in source.splitlines():
            m = SECTION_HEADING.match(line)
            if not m:
                lines.append(line)
                continue
            lines += [f"({section_label(stem, m.group(1))})=", line]
            rows = backlinks.get((stem, m.group(1)))
            if rows:
                refs = ", ".join(f"{{ref}}`{shown} <{rid}>`" for shown, rid in rows)
                lines += ["", f"```{{admonition}} Derivation map\n:class: derivation-backlinks\n"
                              f"This section derives {refs}.\n```", ""]
        cell["source"] = "\n".join(lines)
    write_if_changed(dst, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def test_pages(tests: dict[str, set[str]], srcdir: Path) -> dict[str, str]:
    """One page per test file, with the source of each test the documents cite."""
    pages = {}
    for file_stem in sorted(tests):
        src = ROOT / "tests" / f"{file_stem}.py"
        copy_if_changed(src, srcdir / "tests" / "_source" / src.name)
        source = src.read_text(encoding="utf-8")
        lines = [f"# `tests/{file_stem}.py`", "",
                 f"The tests of `tests/{file_stem}.py` that the documents of this site cite, "
                 f"in the order of the file.", ""]
        order = {name: source.find(f"def {name}(") for name in tests[file_stem]}
        for name in sorted(order, key=order.get):
            if order[name] < 0:
                raise SiteError(f"tests/{file_stem}.py::{name} is cited but does not exist")
            lines += [f"({test_label(file_stem, name)})=", f"## `{name}`", "",
                      f"```{{literalinclude}} _source/{src.name}", f":pyobject: {name}",
                      ":language: python", "```", ""]
        pages[f"tests/{file_stem}.md"] = "\n".join(lines)
    index = ["# The tests", "", "The source of every test that the derivation map or the robustness",
             "document cites.", "", "```{toctree}", ":maxdepth: 1", ""]
    index += [f"{s}" for s in sorted(tests)] + ["```", ""]
    pages["tests/index.md"] = "\n".join(index)
    return pages


# ------------------------------------------------------------------------------------------
# The whole source folder
# ------------------------------------------------------------------------------------------
DOC_TITLES = {"derivations": "The derivation map", "notation": "Notation",
              "robustness": "Bad input, crashes and numerical extremes"}

READING_NOTE = """```{admonition} Reading this site
:class: tip
The notebooks (in the menu) derive the lectures' equations one at a time, with minivae's code
beside them and their outputs as computed. The {doc}`derivation map <derivations>` ties every
equation to the function that computes it, the test that checks it and the notebook section that
derives it; the {doc}`API reference <api/index>` holds every docstring, equations typeset.
```"""

SITE_TOC = """
```{{toctree}}
:hidden:
:caption: Notebooks
:glob:

notebooks/*
```

```{{toctree}}
:hidden:
:caption: Reference

{docs}
api/index
tests/index
```
"""


def mathjax_dir() -> Path:
    """MathJax 3 as shipped by the PyPI package django-static-mathjax (the site serves this copy)."""
    try:
        import mathjax
    except ImportError as exc:
        raise SiteError("MathJax is missing: pip install -e '.[docs]' installs it") from exc
    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (es5 / "tex-chtml-full.js").exists():
        raise SiteError(f"no MathJax 3 at {es5}: the 'mathjax' module found is another package")
    return es5


def stage_mathjax(dst: Path) -> None:
    """The one combined file the pages load, and what it fetches lazily (fonts, menu, a11y)."""
    es5 = mathjax_dir()
    copy_if_changed(es5 / "tex-chtml-full.js", dst / "tex-chtml-full.js")
    for sub in ("output", "input", "ui", "a11y", "sre", "adaptors"):
        for f in (es5 / sub).rglob("*"):
            if f.is_file():
                copy_if_changed(f, dst / f.relative_to(es5))
    copy_if_changed(es5.parent / "LICENSE", dst / "LICENSE")


def plain_doc(text: str, linker: Linker, staged_docs: dict[str, str], src_dir: str = "") -> str:
    text = linker.links(text, staged_docs, src_dir)
    text, _ = linker.notebooks_in(text, strict_sections=False)
    return linker.tests_in(linker.code(text))


def stage(srcdir: Path) -> dict:
    """Write the site's sources into ``srcdir``; returns what was staged (for the build's log)."""
    srcdir.mkdir(parents=True, exist_ok=True)
    stems = notebook_stems()
    api = ApiIndex(package_modules())
    docs = sorted(p.stem for p in (ROOT / "docs").glob("*.md"))
    staged_docs = {f"docs/{d}.md": f"{d}.md" for d in docs}
    staged_docs.update({f"notebooks/{s}.ipynb": f"notebooks/{s}.ipynb" for s in stems})
    staged_docs["README.md"] = "index.md"
    pages: dict[str, str] = {}
    top = Linker(api, stems, depth=0)
    backlinks = {}
    for d in docs:
        text = (ROOT / "docs" / f"{d}.md").read_text(encoding="utf-8")
        if d == "derivations":
            text, backlinks = derivation_map(top.links(text, staged_docs, "docs"), top)
        else:
            text = outside_fences(text, lambda t: plain_doc(t, top, staged_docs, "docs"))
        pages[f"{d}.md"] = text
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    readme = outside_fences(readme, lambda t: plain_doc(t, top, staged_docs))
    # a note for the student, after the README's first paragraph
    head, sep, rest = readme.partition("\n\n")
    first, sep2, rest = rest.partition("\n\n")
    readme = head + sep + first + sep2 + READING_NOTE + "\n\n" + rest
    pages["index.md"] = readme + SITE_TOC.format(docs="\n".join(docs))
    pages.update(api_pages(api))
    pages.update(test_pages(top.tests, srcdir))
    for rel, text in pages.items():
        write_if_changed(srcdir / rel, text)
    for stem in stems:
        stage_notebook(stem, srcdir / "notebooks" / f"{stem}.ipynb", backlinks, top, staged_docs)
    # pages of an earlier build whose source is gone (a renamed notebook) must not linger
    keep = set(pages) | {f"notebooks/{s}.ipynb" for s in stems}
    for path in list(srcdir.rglob("*")):
        rel = path.relative_to(srcdir).as_posix()
        if path.suffix in (".md", ".rst", ".ipynb") and rel not in keep and not rel.startswith("_"):
            path.unlink()
    for f in (ROOT / "docs" / "_static").glob("*"):
        copy_if_changed(f, srcdir / "_static" / f.name)
    stage_mathjax(srcdir / "_static" / "mathjax")
    return {"notebooks": stems, "documents": docs, "modules": api.modules,
            "test files": sorted(top.tests)}
