"""The course website: it builds without a warning, and a student's browser shows it whole.

The build (``docs/build.py``, Sphinx with warnings as errors) runs once per session into a
temporary folder. Headless Chromium (Debian's ``chromium``), driven over the Chrome DevTools
protocol with a small websocket client, then opens every page from a local HTTP server and
checks that it loads without a JavaScript error or a failed request, that every internal link
(with its #fragment) and image resolves, that no raw TeX is left where MathJax should have
typeset it (the derivation map and an API page must hold typeset mathematics), and that the
search finds a function by name. It writes screenshots of three pages (the home page, a
notebook with a figure and equations, an API page) into ``docs/_build/screenshots`` (or
``$MINIVAE_SITE_SCREENSHOTS``), never committed.

Without the docs extra (``pip install -e ".[docs]"``) or without Chromium the tests skip and
say what is missing.
"""
from __future__ import annotations

import base64
import functools
import http.server
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SCREENSHOTS = Path(os.environ.get("MINIVAE_SITE_SCREENSHOTS", DOCS / "_build" / "screenshots"))

pytestmark = pytest.mark.docs

DOCS_PACKAGES = ("sphinx", "myst_nb", "numpydoc", "furo", "mathjax")


def _missing_docs_packages():
    return [p for p in DOCS_PACKAGES if importlib.util.find_spec(p) is None]


def _skip(reason: str):
    """Skip, except in CI (MINIVAE_REQUIRE_SITE_CHECK=1), where a missing tool is a failure."""
    if os.environ.get("MINIVAE_REQUIRE_SITE_CHECK") == "1":
        pytest.fail(reason + " (MINIVAE_REQUIRE_SITE_CHECK=1: the site must be checked here)")
    pytest.skip(reason)


def _need_docs_extra():
    missing = _missing_docs_packages()
    if missing:
        _skip(f"the docs extra is not installed (missing {', '.join(missing)}): "
                    f"pip install -e \".[docs]\"")


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _sitegen():
    sys.path.insert(0, str(DOCS))
    try:
        import sitegen
    finally:
        sys.path.remove(str(DOCS))
    return sitegen


# ------------------------------------------------------------------------------------------
# the build
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The site, built once into a temporary folder: the html folder's path."""
    _need_docs_extra()
    out = tmp_path_factory.mktemp("site")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(DOCS / "build.py"), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, f"the site build failed ({seconds:.0f} s):\n{proc.stdout}\n{proc.stderr}"
    print(f"site built in {seconds:.1f} s")
    return out / "html"


def test_every_notebook_module_and_document_has_a_page(site):
    sitegen = _sitegen()
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        assert (site / "notebooks" / f"{nb.stem}.html").exists(), nb.name
    for md in DOCS.glob("*.md"):
        assert (site / f"{md.stem}.html").exists(), md.name
    for module in sitegen.package_modules():
        assert (site / "api" / f"{module}.html").exists(), module
    # every public name of every module is documented somewhere, as an anchor of its page
    api = sitegen.ApiIndex(sitegen.package_modules())
    for module, names in api.own.items():
        page = (site / "api" / f"{module}.html").read_text(encoding="utf-8")
        for name, _ in names:
            assert f'id="{module}.{name}"' in page, f"{module}.{name} has no entry on its page"


def test_mathjax_is_served_by_the_site_itself(site):
    """No page loads a script or style sheet from another host: the site works offline."""
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        for url in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html):
            assert not re.match(r"^(https?:)?//", url), f"{page.relative_to(site)} loads {url}"
    assert (site / "_static" / "mathjax" / "tex-chtml-full.js").exists()
    assert (site / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()


def test_the_derivation_map_links_code_tests_and_notebook_sections_both_ways(site):
    html = (site / "derivations.html").read_text(encoding="utf-8")
    text = (DOCS / "derivations.md").read_text(encoding="utf-8")
    # every function the map names links to its API entry, every test to its source
    assert 'href="api/minivae.kl.html#minivae.kl.kl_diag_normal"' in html
    for path, name in set(re.findall(r"`tests/(\w+)\.py::(\w+)`", text)):
        label = f"{path}-{name}".replace("_", "-").lower()
        assert f'href="tests/{path}.html#{label}"' in html, f"{path}::{name}"
        assert f'id="{label}"' in (site / "tests" / f"{path}.html").read_text(encoding="utf-8")
    # each cited notebook section links to its anchor, and the section links back to a row
    for stem, number in set(re.findall(r"`(\d\d_\w+)` § (\d+)", text)):
        label = f"nb-{stem}-s{number}".replace("_", "-").lower()
        assert f'href="notebooks/{stem}.html#{label}"' in html, label
        page = (site / "notebooks" / f"{stem}.html").read_text(encoding="utf-8")
        assert f'id="{label}"' in page
        assert re.search(r'href="\.\./derivations\.html#item-[\w-]+"', page), f"{stem} has no link back"


def test_a_cited_notebook_or_section_that_does_not_exist_stops_the_build():
    _need_docs_extra()
    sitegen = _sitegen()
    api = sitegen.ApiIndex(["minivae", "minivae.kl"])
    linker = sitegen.Linker(api, sitegen.notebook_stems(), depth=0)
    row = "| # | equation or claim | lecture | code | test | notebook section |\n| --- | --- | --- | --- | --- | --- |\n"
    with pytest.raises(sitegen.SiteError, match="99_no_such_notebook"):
        sitegen.derivation_map(row + "| 1 | x | 000 | | | `99_no_such_notebook` § 1. Nothing |\n", linker)
    stem = sitegen.notebook_stems()[0]
    with pytest.raises(sitegen.SiteError, match="no section '## 97.'"):
        sitegen.derivation_map(row + f"| 1 | x | 000 | | | `{stem}` § 97. Nothing |\n", linker)


@pytest.mark.parametrize("body, message", [
    ("See {py:func}`minivae.kl.no_such_function`.", "unresolved reference to minivae.kl.no_such_function"),
    ("```{eval-rst}\n.. autofunction:: broken_docstring.f\n```", "Inline literal start-string without end-string"),
], ids=["broken-reference", "docstring-that-does-not-parse"])
def test_a_broken_reference_or_docstring_fails_the_build(tmp_path, body, message):
    """The site's Sphinx configuration, warnings as errors, on one small page."""
    _need_docs_extra()
    src = tmp_path / "src"
    src.mkdir()
    (src / "index.md").write_text(f"# A page\n\n{body}\n")
    (tmp_path / "broken_docstring.py").write_text('def f():\n    """Returns ``x, where the literal never closes."""\n')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", "-c", str(DOCS),
                           str(src), str(tmp_path / "html")], capture_output=True, text=True, env=env)
    assert proc.returncode != 0
    assert message in proc.stderr


# ------------------------------------------------------------------------------------------
# the browser: Chromium over the DevTools protocol
# ------------------------------------------------------------------------------------------
class DevTools:
    """A minimal client of the Chrome DevTools protocol for one page (a websocket)."""

    def __init__(self, ws_url: str):
        import websocket
        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        for i, ev in enumerate(self.events):
            if ev.get("method") == method:
                return self.events.pop(i)
        self.ws.settimeout(1.0)
        try:
            while time.monotonic() < deadline:
                try:
                    msg = json.loads(self.ws.recv())
                except Exception:          # a second without a message: keep waiting
                    continue
                if msg.get("method") == method:
                    return msg
                self.events.append(msg)
        finally:
            self.ws.settimeout(60)
        raise TimeoutError(f"no {method} within {timeout} s")

    def evaluate(self, expression: str, await_promise: bool = False):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=await_promise)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:60]}...: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self):
        self.ws.close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def browser(site):
    """(DevTools page, base URL): the built site served on 127.0.0.1, opened in Chromium."""
    chromium = _chromium()
    if chromium is None:
        _skip("Chromium is not installed (Debian: apt-get install chromium); "
                    "the browser checks of the site need it")
    if importlib.util.find_spec("websocket") is None:
        _skip("websocket-client is not installed: pip install -e \".[docs]\"")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    profile = tempfile.mkdtemp(prefix="minivae-chromium-")
    proc = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--no-default-browser-check", "--disable-extensions",
         "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
         f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("Chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        req = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT")
        target = json.loads(urllib.request.urlopen(req, timeout=30).read())
        page = DevTools(target["webSocketDebuggerUrl"])
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.call(f"{domain}.enable")
        page.call("Emulation.setDeviceMetricsOverride", width=1280, height=1400,
                  deviceScaleFactor=1, mobile=False)
        yield page, base
        page.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)


def open_page(page: DevTools, url: str) -> list[str]:
    """Load ``url`` and wait for MathJax; the problems seen while loading it."""
    page.events.clear()
    page.call("Page.navigate", url=url)
    page.wait_for("Page.loadEventFired")
    page.evaluate("window.MathJax && MathJax.startup && MathJax.startup.promise "
                  "? MathJax.startup.promise.then(() => true) : true", await_promise=True)
    problems = []
    for ev in page.events:
        method, params = ev.get("method"), ev.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            problems.append(f"JavaScript error: {details.get('exception', {}).get('description') or details.get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            problems.append("console error: " + " ".join(str(a.get("value", a.get("description")))
                                                         for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            problems.append(f"browser error: {params['entry']['text']} ({params['entry'].get('url', '')})")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            problems.append(f"request failed: {params.get('errorText')}")
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
            problems.append(f"HTTP {params['response']['status']}: {params['response']['url']}")
    return problems


PAGE_FACTS = r"""(() => {
  const skip = new Set(['PRE', 'CODE', 'SCRIPT', 'STYLE', 'TEXTAREA', 'MJX-CONTAINER', 'NOSCRIPT']);
  const raw = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    let el = node.parentElement, inside = false;
    while (el) { if (skip.has(el.tagName) || el.classList.contains('highlight')) { inside = true; break; } el = el.parentElement; }
    if (!inside && /\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{/.test(node.textContent)) raw.push(node.textContent.trim().slice(0, 80));
  }
  return {
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    images: [...document.querySelectorAll('img')].map(i => ({src: i.src, ok: i.complete && i.naturalWidth > 0})),
    ids: [...document.querySelectorAll('[id]')].map(e => e.id).concat(
         [...document.querySelectorAll('a[name]')].map(e => e.name)),
    math: document.querySelectorAll('mjx-container').length,
    mathErrors: document.querySelectorAll('mjx-merror').length,
    raw: raw,
  };
})()"""


@pytest.fixture(scope="session")
def crawl(browser):
    """Every page reachable from the home page: url -> (problems, facts)."""
    page, base = browser
    seen: dict[str, tuple[list[str], dict]] = {}
    queue = [base + "index.html"]
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        problems = open_page(page, url)
        facts = page.evaluate(PAGE_FACTS)
        seen[url] = (problems, facts)
        for link in facts["links"]:
            target = urllib.parse.urldefrag(link)[0]
            if target.startswith(base) and target.endswith(".html") and target not in seen:
                queue.append(target)
    return seen, base


def test_every_page_loads_without_an_error(crawl, site):
    seen, base = crawl
    assert len(seen) >= len(list(site.rglob("*.html"))) - 5      # the crawl reached the site
    bad = {url[len(base):]: problems for url, (problems, _) in seen.items() if problems}
    assert not bad, bad


def test_every_internal_link_and_image_resolves(crawl):
    seen, base = crawl
    broken = []
    for url, (_, facts) in seen.items():
        for link in facts["links"]:
            target, fragment = urllib.parse.urldefrag(link)
            if not target.startswith(base):
                assert not re.match(r"https?://", link) or "127.0.0.1" not in link
                continue
            if target.endswith(".html"):
                if target not in seen:
                    broken.append(f"{url[len(base):]} -> {link[len(base):]} (no such page)")
                elif fragment and urllib.parse.unquote(fragment) not in seen[target][1]["ids"]:
                    broken.append(f"{url[len(base):]} -> {link[len(base):]} (no such anchor)")
            else:
                path = urllib.parse.unquote(urllib.parse.urlparse(target).path)
                try:
                    urllib.request.urlopen(base + path.lstrip("/"), timeout=10).close()
                except Exception as exc:
                    broken.append(f"{url[len(base):]} -> {link[len(base):]} ({exc})")
        for image in facts["images"]:
            if not image["ok"]:
                broken.append(f"{url[len(base):]}: image {image['src']} did not load")
    assert not broken, "\n".join(broken)


def test_the_mathematics_is_typeset_not_left_as_tex(crawl):
    seen, base = crawl
    raw = {url[len(base):]: facts["raw"] for url, (_, facts) in seen.items() if facts["raw"]}
    assert not raw, raw
    errors = {url[len(base):]: facts["mathErrors"] for url, (_, facts) in seen.items() if facts["mathErrors"]}
    assert not errors, f"MathJax could not typeset some TeX: {errors}"
    # a derivation page, an API page and a notebook hold typeset mathematics
    for page in ("derivations.html", "api/minivae.kl.html", "notebooks/04_the_gaussian_kl_by_hand.html"):
        if base + page in seen:
            assert seen[base + page][1]["math"] >= 10, f"{page}: {seen[base + page][1]['math']} formulas"
    assert seen[base + "derivations.html"][1]["math"] >= 10
    assert seen[base + "api/minivae.kl.html"][1]["math"] >= 10


def test_the_search_finds_a_function_by_name(browser):
    page, base = browser
    problems = open_page(page, base + "search.html?q=kl_diag_normal")
    assert not problems, problems
    hrefs = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not hrefs:
        hrefs = page.evaluate("[...document.querySelectorAll('#search-results li a, ul.search li a')]"
                              ".map(a => a.getAttribute('href'))")
        time.sleep(0.2)
    assert any("api/minivae.kl.html" in h and "kl_diag_normal" in h for h in hrefs), hrefs


def _screenshot(page: DevTools, path: Path) -> None:
    data = page.call("Page.captureScreenshot", format="png")["data"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(data))


def test_screenshots_of_what_a_student_sees(browser, site):
    """The home page, a notebook with a figure and equations, an API page."""
    page, base = browser
    notebook = None
    for nb in sorted((site / "notebooks").glob("*.html")):
        html = nb.read_text(encoding="utf-8")
        if re.search(r'<img[^>]+src="\.\./_images/', html) and 'class="math' in html:
            notebook = nb
            break
    assert notebook is not None, "no notebook page with both a figure and equations"
    shots = {"home.png": ("index.html", None),
             "notebook.png": (f"notebooks/{notebook.name}", "div.cell_output img"),
             "api.png": ("api/minivae.kl.html", None)}
    for name, (rel, scroll_to) in shots.items():
        # a fresh visitor: no search terms highlighted from an earlier search
        page.evaluate("localStorage.clear(); sessionStorage.clear(); true")
        assert not open_page(page, base + rel)
        if scroll_to:
            # the first figure, with the text and equations above it
            page.evaluate(f"(() => {{ const e = document.querySelector('{scroll_to}'); "
                          f"window.scrollTo(0, Math.max(0, e.getBoundingClientRect().top + window.scrollY - 700)); }})()")
            time.sleep(0.3)
        _screenshot(page, SCREENSHOTS / name)
        assert (SCREENSHOTS / name).stat().st_size > 20_000, f"{name} looks empty"
    print(f"screenshots in {SCREENSHOTS}")
