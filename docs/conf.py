"""Sphinx configuration of the course website (build it with ``python docs/build.py``).

Sphinx with MyST-NB: the notebooks are read with their committed outputs and never executed,
Markdown and notebooks share one parser (MyST), autodoc + numpydoc read the docstrings, and the
pages load the copy of MathJax that the build puts beside them (no CDN, so the mathematics
renders offline). ``docs/sitegen.py`` lays out the source folder this file configures.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))          # the checkout's minivae, not an installed one
sys.path.insert(0, str(HERE))

import docmath  # noqa: E402  (docs/docmath.py: the docstrings' plain-text equations as TeX)
import minivae  # noqa: E402
import sitegen  # noqa: E402

API = sitegen.ApiIndex(sitegen.package_modules())

project = "minivae"
author = "the minivae authors"
copyright = "the minivae authors, MIT licence"
release = version = minivae.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
]

# notebooks: shown as committed, outputs included; executing them is the notebook tests' job
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "attrs_inline", "attrs_block", "colon_fence"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

# the API reference
autosummary_generate = False
autodoc_member_order = "bysource"
autodoc_typehints = "none"
autodoc_default_options = {}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = True

# MathJax 3, served from the site's own _static folder (docs/sitegen.py copies it there)
mathjax_path = "mathjax/tex-chtml-full.js"
mathjax3_config = {
    "options": {"menuOptions": {"settings": {"assistiveMml": False}}},
}

html_theme = "furo"
html_title = "minivae: variational autoencoders by hand"
html_static_path: list[str] = []
html_favicon = "_static/favicon.svg"
html_css_files = ["site.css"]
html_show_sourcelink = False
html_copy_source = False

exclude_patterns = ["_build", "tests/_source", "_static"]
suppress_warnings: list[str] = []

#: references that may stay unresolved: names outside minivae (numpy's, Python's)
EXTERNAL = ("numpy", "np.", "scipy", "matplotlib", "threadpoolctl", "tqdm", "typing", "collections",
            "pathlib", "os.", "concurrent", "argparse", "dataclasses", "abc.")


def _static(app, config):
    config.html_static_path = [os.path.join(app.srcdir, "_static")]


def _missing_reference(app, env, node, contnode):
    """A reference to a minivae name that resolves nowhere is an error of the site (Sphinx warns
    about unresolved Python references only in nitpicky mode, which would also flag every
    builtin a signature mentions)."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if target.startswith(EXTERNAL) or _builtin(target):
        return None
    module, cls = node.get("py:module"), node.get("py:class")
    if not (target.startswith("minivae") or (module or "").startswith("minivae")):
        return None
    found = API.lookup(target.lstrip("~."), module, cls)
    if found and found != target:
        py = env.get_domain("py")
        for role in ("obj", "mod"):
            ref = py.resolve_xref(env, node["refdoc"], app.builder, role, found, node, contnode)
            if ref is not None:
                return ref
    if True:
        from sphinx.util import logging
        logging.getLogger("minivae.site").warning(
            "unresolved reference to %s (%s)", target, node.get("reftype"), location=node,
            type="ref", subtype="minivae")
    return None


def _builtin(name: str) -> bool:
    """A name of Python's or of another installed package (ctypes, numpy.ndarray, int)."""
    import builtins
    import importlib.util
    head = name.split(".")[0]
    if head != "minivae" and "." in name and importlib.util.find_spec(head) is not None:
        return True
    if "." not in name and head != "minivae" and importlib.util.find_spec(head) is not None \
            and not hasattr(minivae, head):
        return True
    return hasattr(builtins, name.rsplit(".", 1)[-1]) and "." not in name.replace("builtins.", "")


def setup(app):
    app.connect("config-inited", _static)
    # MathJax on every page: the sidebar lists notebook titles with mathematics in them
    app.set_html_assets_policy("always")
    app.connect("autodoc-process-docstring", docmath.process_docstring)
    app.connect("missing-reference", _missing_reference)
    return {"parallel_read_safe": True}
