"""The docstrings' equations, rendered as mathematics on the website.

minivae's docstrings write their equations in plain text, so that they read well in a terminal
and in the source next to the code: ``KL = 1/2 sum_i (Sigma_ii + mu_i^2 - 1 - log Sigma_ii)``.
For the website, :func:`process_docstring` (an ``autodoc-process-docstring`` handler, run after
numpydoc has turned the sections into reStructuredText) turns them into TeX for MathJax, without
touching the source:

* a display equation (an indented block after a blank line, holding a relation such as ``=``)
  becomes a ``.. math::`` block;
* in running text, a stretch of mathematical tokens around a relation (``z = mu + sigma eps``,
  ``E_q||z||^2 = ||mu||^2 + d sigma^2``) becomes a ``:math:`` role, and so does ``|x|``;
* the aligned two-column lists some module docstrings use (a literal, two spaces, its meaning)
  become definition lists, which reStructuredText reads as intended.

Words are split into mathematics (Greek letter names, single letters, indexed names such as
``mu_i``, ``log``, ``exp``, ``KL``, ...) and prose (any other word): prose ends an inline
stretch, so a sentence around an equation stays a sentence. Literals, roles and emphasis are
left alone.
"""
from __future__ import annotations

import re

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi",
    "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Phi", "Psi", "Omega",
}
ALIASES = {"eps": r"\varepsilon", "epsilon": r"\varepsilon", "lambda": r"\lambda"}
FUNCTIONS = {"log": r"\log", "exp": r"\exp", "max": r"\max", "min": r"\min", "sin": r"\sin",
             "cos": r"\cos", "tanh": r"\tanh", "det": r"\det"}
OPERATORS = {"softmax", "argmax", "argmin", "expm1", "log1p", "sqrt", "diag", "onehot", "sigmoid",
             "softplus", "relu", "tr", "var", "Var", "Cov", "sign", "logsumexp", "clip"}
SPECIAL = {"KL": r"\mathrm{KL}", "ELBO": r"\mathrm{ELBO}", "E": r"\mathbb{E}", "N": r"\mathcal{N}",
           "U": r"\mathcal{U}", "inf": r"\infty", "sum": r"\sum", "prod": r"\prod"}
#: multi-letter words that are mathematics, not prose, in this package's docstrings
MATH_WORDS = GREEK | set(FUNCTIONS) | OPERATORS | set(SPECIAL) | {"eps", "MIG", "NLL", "loss", "dz"}
#: one-letter English words that end an inline stretch unless they stand next to an operator
LONE_WORDS = {"a", "A", "I"}

RELATIONS = {"=", "~", "<=", ">=", "!=", "->", "<", ">", "~="}
TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<num>\d+(?:\.\d+)?(?:e-?\d+)?)
  | (?P<word>[A-Za-z][A-Za-z0-9_]*'*)
  | (?P<op>\|\||<=|>=|!=|->|~=|[-+*/^=~<>|(),\[\]{}_.:;!])
  | (?P<other>.)
""", re.X)

# ``literal``, :role:`text`, `text`_, *emphasis*, **strong** and "quoted" words stay as they are
PROTECTED = re.compile(r"\b(?:i\.e\.|e\.g\.|cf\.)|``.+?``|:[\w:.-]+:`[^`]+`|`[^`]+`_*|\*\*[^*]+\*\*|(?<![\w)])\*[A-Za-z][^*]*\*(?!\w)")
PARAM_LINE = re.compile(r"^\s*\**\w+(?:\s*,\s*\**\w+)*\s*:(?:\s|$)")
COLUMN_ITEM = re.compile(r"^(\s*)(``[^`]+``)(\s{2,})(\S.*)$")
COLUMN_ITEM_LOOSE = re.compile(r"^(\s*)(``[^`]+``)(\s+)(\S.*)$")
ABS_VALUE = re.compile(r"(?<![|\w`])\|([A-Za-z_(](?:[^|`\n]*?[\w)])?)\|(?![|\w`])")


# ------------------------------------------------------------------------------------------
# plain text -> TeX
# ------------------------------------------------------------------------------------------
def _name(word: str) -> str:
    """One identifier as TeX: mu_i -> \\mu_{i}, tau_min -> \\tau_{\\min}, log_var -> \\mathrm{log\\_var}."""
    primes = word[len(word.rstrip("'")):]
    word = word.rstrip("'")
    head, *subs = word.split("_")
    if word in SPECIAL:
        return SPECIAL[word] + primes
    if word in FUNCTIONS:
        return FUNCTIONS[word] + primes
    if word in OPERATORS:
        return rf"\operatorname{{{word}}}" + primes
    if word in ALIASES or word in GREEK:
        return ALIASES.get(word, "\\" + word) + primes
    if not subs and len(word) > 1 and word[0] == "d" and (word[1:] in GREEK or word[1:] in ALIASES):
        return "d" + _name(word[1:]) + primes          # dmu, dpsi: a differential
    if not subs and re.fullmatch(r"[A-Za-z]\d+", word):
        return f"{word[0]}_{{{word[1:]}}}" + primes     # b1, tau0
    if not subs:
        if len(word) == 1:
            return word + primes
        return rf"\mathrm{{{word}}}" + primes
    base = {"E": r"\mathbb{E}"}.get(head, head) if len(head) == 1 else (
        ALIASES.get(head) or ("\\" + head if head in GREEK else SPECIAL.get(head))
        or {"grad": r"\nabla"}.get(head))
    if base and all(len(s) <= 3 or s in FUNCTIONS for s in subs) and all(subs):
        sub = ",".join(FUNCTIONS.get(s) or ALIASES.get(s) or ("\\" + s if s in GREEK else s) for s in subs)
        return f"{base}_{{{sub}}}" + primes
    return r"\mathrm{" + word.replace("_", r"\_") + "}" + primes


def to_tex(text: str, display: bool = False) -> str:
    """Plain-text mathematics as TeX; in ``display`` mode prose words become ``\\text``."""
    out = []
    notes = []
    if display:
        def note(m):
            notes.append(m.group())
            return f"NOTE{len(notes) - 1}"
        text = re.sub(r"\((?:see |as in |)lectures? [^)]*\)", note, text)
    tokens = []
    for m in TOKEN.finditer(text):
        if m.lastgroup == "word" and m.group().endswith("_") and len(m.group()) > 1:
            tokens += [("word", m.group()[:-1]), ("op", "_")]     # E_{z ~ q}: a group follows
        else:
            tokens.append((m.lastgroup, m.group()))
    bars = 0
    braces: list[bool] = []
    for i, (kind, tok) in enumerate(tokens):
        if tok == "{" and i and tokens[i - 1][1] in ("_", "^"):
            braces.append(True)
            out.append("{")
            continue
        if tok == "{":
            braces.append(False)
        if tok == "}" and braces and braces.pop():
            out.append("}")
            continue
        if kind == "word" and tok.startswith("d") and len(tok) > 1 and (
                (i and tokens[i - 1][1] == "/") or (i + 1 < len(tokens) and tokens[i + 1][1] == "/")) \
                and tok not in MATH_WORDS:
            out.append("d" + _name(tok[1:]))            # dz/dmu, d/dl_k: differentials
            continue
        nxt = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        if kind == "word" and re.fullmatch(r"NOTE\d+", tok) and notes:
            out.append(rf"\qquad\text{{{notes[int(tok[4:])]}}}")
            continue
        if display and kind == "word" and _is_prose(tok):
            # a run of prose words is one \text, spaces kept (math mode drops them)
            j, words = i, []
            while j < len(tokens) and (tokens[j][0] == "word" and _is_prose(tokens[j][1])
                                       or tokens[j][0] == "space" and j + 1 < len(tokens)
                                       and tokens[j + 1][0] == "word" and _is_prose(tokens[j + 1][1])):
                words.append(tokens[j][1])
                j += 1
            out.append(rf"\text{{{''.join(words)}}}")
            tokens[i + 1:j] = [("space", "")] * (j - i - 1)
            continue
        if kind == "space" and not tok:
            continue
        if kind == "space":
            out.append(r"\qquad " if display and len(tok) >= 3 else " ")
        elif kind == "num":
            out.append(tok)
        elif kind == "word":
            if display and _is_prose(tok):
                out.append(rf"\text{{{tok}}}")
            else:
                out.append(_name(tok))
        elif tok == "||":
            out.append(r"\lVert " if bars % 2 == 0 else r"\rVert ")
            bars += 1
        elif tok == "|":
            prev = tokens[i - 1][0] if i else "space"
            out.append(r"\mid " if prev == "space" and tokens[i + 1 if nxt else i][0] == "space" else "|")
        elif tok in ("^", "_") and nxt == "(":
            depth, j = 0, i + 1
            while j < len(tokens):
                depth += tokens[j][1] == "("
                depth -= tokens[j][1] == ")"
                if depth == 0:
                    break
                j += 1
            inner = "".join(t for _, t in tokens[i + 1:j + 1])
            out.append(tok + "{" + to_tex(inner) + "}")
            tokens[i + 1:j + 1] = [("space", "")] * (j - i)
        elif tok in ("^", "_") and i + 1 < len(tokens) and tokens[i + 1][0] in ("word", "num"):
            out.append(tok + "{" + _name(nxt) if tokens[i + 1][0] == "word" else tok + "{" + nxt)
            out.append("}")
            tokens[i + 1] = ("space", "")
        else:
            out.append({"->": r"\to ", "~": r"\sim ", "<=": r"\le ", ">=": r"\ge ", "!=": r"\ne ",
                        "~=": r"\approx ", "*": r"\cdot ", "{": r"\{", "}": r"\}",
                        "<": "<", ">": ">", "%": r"\%", "#": r"\#", "&": r"\&", "$": r"\$",
                        "\\": r"\backslash ", "∫": r"\int "}.get(tok, tok))
    return "".join(out).strip()


def _is_prose(word: str) -> bool:
    w = word.rstrip("'")
    if w in MATH_WORDS or "_" in w or re.fullmatch(r"[A-Za-z]\d*", w):
        return False
    if len(w) > 1 and w[0] == "d" and (w[1:] in MATH_WORDS or len(w) == 2):
        return False                                   # dmu, dz: differentials
    return True


# ------------------------------------------------------------------------------------------
# finding the equations in running text
# ------------------------------------------------------------------------------------------
def _mask(line: str):
    saved = []

    def keep(m):
        saved.append(m.group())
        return f"\x00{len(saved) - 1}\x00"
    return PROTECTED.sub(keep, line), saved


def _unmask(text: str, saved) -> str:
    return re.sub(r"\x00(\d+)\x00", lambda m: saved[int(m.group(1))], text)


def inline(line: str) -> str:
    """Wrap the equations of one line of running text in ``:math:`` roles."""
    masked, saved = _mask(line)
    masked = ABS_VALUE.sub(lambda m: "\x01" + m.group(1) + "\x01", masked)
    tokens = [(m.lastgroup, m.group(), m.start()) for m in TOKEN.finditer(masked)]
    spans, i = [], 0
    while i < len(tokens):
        j = i
        while j < len(tokens) and _mathy(tokens, j):
            j += 1
        if j > i:
            span = _trim(tokens, i, j)
            if span:
                spans.append(span)
        i = j + 1
    out, pos = [], 0
    for a, b in spans:
        out.append(masked[pos:a])
        out.append(":math:`" + to_tex(masked[a:b].replace("\x01", "|")) + "`")
        pos = b
    out.append(masked[pos:])
    text = "".join(out)
    text = re.sub("\x01([^\x01]+)\x01", lambda m: f":math:`|{to_tex(m.group(1))}|`", text)
    # every emphasis was protected above: an asterisk left is a character, as in a shape (M, *s)
    text = re.sub(r"(?<![\\`])\*(?=\S)", r"\\*", text)
    return _unmask(text, saved)


def _mathy(tokens, j) -> bool:
    kind, tok, _ = tokens[j]
    if kind in ("space", "num"):
        return True
    if kind == "word":
        before = tokens[j - 1][1] if j else ""
        after = tokens[j + 1][1] if j + 1 < len(tokens) else ""
        if before in ("(", "[", "_", "^") and after in (")", "]", ","):
            return True                                # softmax(logits): an argument
        if tok in LONE_WORDS:
            near = [tokens[k][1] for k in (j - 1, j + 1) if 0 <= k < len(tokens)]
            return any(n.strip() and n in "=+-*/^()|" for n in near)
        return not _is_prose(tok)
    if kind == "op":
        return tok not in (";", ":", "!")
    return tok in ("\x01", "∫")


def _trim(tokens, i, j):
    """The part of tokens[i:j] worth rendering: starts and ends on a term, holds a relation with
    a term on each side, and has balanced brackets; None if there is none."""
    while i < j and (tokens[i][0] == "space" or tokens[i][1] in (",", ".", ")", "]", "=", "~")):
        i += 1
    while j > i and (tokens[j - 1][0] == "space" or tokens[j - 1][1] in (",", ".", "(", "[", "=", "-", "+", "~")):
        j -= 1
    # a function whose argument is prose is not part of the equation: "sigmoid(decoder logits)"
    while j > i and j < len(tokens) and tokens[j][1] == "(" and tokens[j - 1][0] == "word":
        j -= 1
        while j > i and (tokens[j - 1][0] == "space" or tokens[j - 1][1] in (",", ".", "(", "[", "=", "-", "+", "~")):
            j -= 1
    if j - i < 3:
        return None
    body = [t for _, t, _ in tokens[i:j]]
    # a relation makes an equation; so does a norm or divergence, a sum or an expectation
    # (KL(q || p), E_q[log q - log p]) even without one
    if not any(t in RELATIONS for t in body) and not (
            "||" in body or any(t.startswith(("sum_", "E_")) for t in body) or "sum" in body):
        return None
    # a comma at depth 0 separates an equation from the next phrase: keep the part holding
    # the first relation, and the ones after it that have relations of their own
    depth = 0
    for k, t in enumerate(body):
        depth += t in "([{"
        depth -= t in ")]}"
        if depth < 0:
            return None
    if depth != 0:
        return None
    words = [t for kind, t, _ in tokens[i:j] if kind in ("word", "num")]
    if len(words) < 2:
        return None
    return tokens[i][2], tokens[j - 1][2] + len(tokens[j - 1][1])


# ------------------------------------------------------------------------------------------
# the docstring as a whole
# ------------------------------------------------------------------------------------------
def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def columns_to_definitions(lines: list[str]) -> list[str]:
    """``"name"``  meaning, continued at the meaning's column -> a definition list."""
    out, i, in_list = [], 0, False
    while i < len(lines):
        m = COLUMN_ITEM.match(lines[i]) or (in_list and COLUMN_ITEM_LOOSE.match(lines[i]))
        in_list = bool(m)
        if not m:
            out.append(lines[i])
            i += 1
            continue
        lead, term, gap, text = m.groups()
        col = len(lead) + len(term) + len(gap)
        if out and out[-1].strip() and not COLUMN_ITEM.match(lines[i - 1]) and not out[-1].startswith(lead + "    "):
            out.append("")
        out += [lead + term, lead + "    " + text]
        i += 1
        while i < len(lines) and lines[i].strip() and _indent(lines[i]) == col and not COLUMN_ITEM.match(lines[i]):
            out.append(lead + "    " + lines[i].strip())
            i += 1
        if i < len(lines) and lines[i].strip() and not COLUMN_ITEM_LOOSE.match(lines[i]):
            out.append("")
            in_list = False
    return out


def escape_stars(line: str) -> str:
    """An asterisk that starts no emphasis (a shape such as (M, *s)) as a plain character."""
    masked, saved = _mask(line)
    return _unmask(re.sub(r"(?<![\\`])\*(?=\S)", r"\\*", masked), saved)


def _is_display(block: list[str]) -> bool:
    text = " ".join(line.strip() for line in block)
    if text.startswith((">>>", "..", "*", "-", "$")) or "``" in text:
        return False
    tokens = [t for t in re.split(r"\s+", text) if t]
    relation = any(t in RELATIONS for t in tokens) or any(r in text for r in ("=", " ~ ", "->"))
    prose = [t for t in re.findall(r"[A-Za-z][A-Za-z0-9_]*", text) if _is_prose(t)]
    return relation and len(prose) <= max(6, len(tokens) // 3)


def process_lines(lines: list[str]) -> list[str]:
    lines = columns_to_definitions(list(lines))
    out: list[str] = []
    i, literal_indent, prev_para_indent, prev_text = 0, None, 0, ""
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            out.append(line)
            i += 1
            continue
        ind = _indent(line)
        if literal_indent is not None and ind > literal_indent:
            out.append(line)                               # inside a literal block
            i += 1
            continue
        literal_indent = None
        block_start = i
        while i < len(lines) and lines[i].strip() and _indent(lines[i]) == ind:
            i += 1
        block = lines[block_start:i]
        after_blank = block_start == 0 or not lines[block_start - 1].strip()
        if after_blank and ind > prev_para_indent and not prev_text.rstrip().endswith("::") \
                and out and _is_display(block):
            tex = to_tex(" ".join(b.strip() for b in block).rstrip(".,;"), display=True)
            out += [" " * prev_para_indent + ".. math::", "", *[" " * (prev_para_indent + 4) + tex], ""]
            continue
        para: list[str] = []
        for k, b in enumerate(block):
            underline = k + 1 < len(block) and re.fullmatch(r"\s*[-=~^]{3,}\s*", block[k + 1])
            if b.lstrip().startswith((">>>", ".. ", "* ", "- ", "``")) or PARAM_LINE.match(b) \
                    or re.match(r"\s*(\d+\.|#\.|\(\w\))\s", b) \
                    or underline or re.fullmatch(r"\s*[-=~^]{3,}\s*", b) or b.rstrip().endswith("::"):
                if para:
                    out.append(" " * ind + inline(" ".join(p.strip() for p in para)))
                    para = []
                out.append(inline(b) if b.lstrip().startswith(("* ", "- ", "``")) or
                           re.match(r"\s*(\d+\.|#\.|\(\w\))\s", b) else b)
            else:
                para.append(b)
        if para:
            out.append(" " * ind + inline(" ".join(p.strip() for p in para)))
        if block[-1].rstrip().endswith("::"):
            literal_indent = ind
        prev_para_indent, prev_text = ind, block[-1]
    return out


def process_docstring(app, what, name, obj, options, lines):
    """autodoc-process-docstring: rewrite ``lines`` in place (see the module docstring)."""
    lines[:] = process_lines(lines)
