"""What CI proves about a translated edition. Each function returns a list of problems, one sentence each
(empty: all is well), so a test can show it fails on a broken catalogue as well as pass on a good one.

* :func:`completeness` — no untranslated, fuzzy or obsolete entry (each would show English, or stale
  text, inside the translated notebook).
* :func:`placeholders` — a translation keeps every f-string field, ``%`` format, code span, URL, link
  target, HTML tag and number of its English, a fact line's final colon (nbval's sanitizer and the
  tests read ``label: True``), and a table cell's or printed line's single line.
* :func:`freshness` — a catalogue holds exactly the entries a fresh extraction of the English gives.
* :func:`same_code` — every code cell of a generated source is the English cell's code: the same AST
  once the translated literals are set aside (their f-string fields must still be the same
  expressions), the same directive lines; every markdown cell has the English's block structure.
* :func:`glossary` — the terms the glossary fixes (``docs/i18n/glossary.pt-BR.md``).
* :func:`chapter` — all of them for one chapter, plus the generated source and the built notebook being
  what the catalogue makes today.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
from collections import Counter

from babel.messages.catalog import Catalog

from . import CHECKOUT, Layout, catalog, cells, code, generate, markdown
from . import extract as ex
from .units import CODE_SPAN

_URL = re.compile(r"https?://[^\s)>\]]+")
_LINK = re.compile(r"\]\(([^)]*)\)")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_PERCENT = re.compile(r"%(?:\(\w+\))?[#0+-]?\d*(?:\.\d+)?[sdifrxXeEgGc]")
_NUMBER = re.compile(r"\d+")
_PIPE = re.compile(r"(?<!\\)\|")


def _entries(po: Catalog):
    return [m for m in po if m.id]


def _where(m) -> str:
    loc = f"{m.locations[0][0]}:{m.locations[0][1]}" if m.locations else "?"
    return f"{loc} {m.id[:60]!r}"


def completeness(po: Catalog) -> list[str]:
    out = []
    for m in _entries(po):
        if not m.string:
            out.append(f"untranslated: {_where(m)}")
        elif m.fuzzy:
            out.append(f"fuzzy (the English changed; check the translation, then remove the fuzzy flag): {_where(m)}")
    for m in po.obsolete.values():
        out.append(f"obsolete (no longer in the English; delete it or run update --drop-obsolete): {m.id[:60]!r}")
    if po.fuzzy:
        out.append("the catalogue's header is marked fuzzy: remove '#, fuzzy' above the first msgid")
    return out


def _fields(text: str) -> list[str]:
    return [p for k, p in code.fields(text) if k == "field"]


def _outside(text: str) -> str:
    """The text with code spans, fields, URLs and link targets taken out (they are checked whole)."""
    for rx in (CODE_SPAN, _URL, _LINK, _TAG):
        text = rx.sub(" ", text)
    return "".join(p if k == "text" else " " for k, p in code.fields(text))


def _printed_pattern(text: str) -> re.Pattern:
    """A printed message as a pattern of what it prints: fields match anything, and a fact line's
    boolean may follow."""
    body = "".join(".+?" if k == "field" else re.escape(p.replace("{{", "{").replace("}}", "}"))
                   for k, p in code.fields(text))
    return re.compile(body + r"(?:\s+(?:True|False))?")


def quoted_output(po: Catalog) -> list[tuple[re.Pattern, re.Pattern]]:
    """(English, translation) patterns of every printed message: prose that quotes a cell's output in a
    code span (`the container exited with success (exit code 0): True`) quotes the translated output."""
    return [(_printed_pattern(m.id), _printed_pattern(m.string)) for m in _entries(po)
            if m.string and any("prints" in c for c in m.auto_comments)]


def _excuse_quotes(lost: Counter, added: Counter, quotes) -> None:
    """Remove each (lost, added) pair of code spans that quote one printed message in both languages."""
    for span in list(lost.elements()):
        inner = span.strip("`")
        for en, tr in quotes:
            if en.fullmatch(inner):
                match = next((a for a in added.elements() if tr.fullmatch(a.strip("`"))), None)
                if match is not None:
                    lost[span] -= 1
                    added[match] -= 1
                    break
    lost += Counter()
    added += Counter()


def placeholder_problems(msgid: str, msgstr: str, kind: str = "", quotes=()) -> list[str]:
    """What a translation of ``msgid`` broke (``kind``: the entry's extracted comment; ``quotes``: see
    :func:`quoted_output`)."""
    out = []
    checks = (
        ("f-string fields", _fields),
        ("% formats", lambda t: _PERCENT.findall(t)),
        ("code spans", lambda t: [m.group(0) for m in CODE_SPAN.finditer(t)]),
        ("URLs", lambda t: _URL.findall(t)),
        ("link targets", lambda t: _LINK.findall(t)),
        ("HTML tags", lambda t: _TAG.findall(t)),
        ("numbers", lambda t: _NUMBER.findall(_outside(t))),
    )
    for what, find in checks:
        a, b = Counter(find(msgid) or []), Counter(find(msgstr) or [])
        if what == "code spans" and a != b:
            lost_c, added_c = a - b, b - a
            _excuse_quotes(lost_c, added_c, quotes)
            if not lost_c and not added_c:
                continue
        if a != b:
            lost, added = sorted((a - b).elements()), sorted((b - a).elements())
            out.append(f"{what} differ: " + "; ".join(x for x in (lost and f"lost {lost}", added and f"added {added}") if x))
    if msgid.rstrip().endswith(":") and not msgstr.rstrip().endswith(":"):
        out.append("the final colon is gone (a fact line must end 'label: True')")
    if msgstr != msgstr.strip():
        out.append("spaces at the start or end (the English's own spaces are kept outside the message)")
    if ("table cell" in kind or "heading" in kind or "prints" in kind) and "\n" in msgstr and "\n" not in msgid:
        out.append("a line break where the English has none (a table cell, heading or printed line is one line)")
    if "table cell" in kind and len(_PIPE.findall(msgstr)) != len(_PIPE.findall(msgid)):
        out.append("a '|' in a table cell ends the cell: write it as '\\|'")
    return out


def placeholders(po: Catalog) -> list[str]:
    out = []
    quotes = quoted_output(po)
    for m in _entries(po):
        if m.string:
            out += [f"{p}: {_where(m)}" for p in placeholder_problems(m.id, m.string, " ".join(m.auto_comments), quotes)]
    return out


def freshness(cat: Catalog, fresh: Catalog, what: str) -> list[str]:
    have, want = set(catalog.keys(cat)), set(catalog.keys(fresh))
    out = [f"{what}: not in the English any more: {ctx + ' | ' if ctx else ''}{mid[:60]!r}" for ctx, mid in sorted(have - want, key=str)]
    out += [f"{what}: missing, new in the English: {ctx + ' | ' if ctx else ''}{mid[:60]!r}" for ctx, mid in sorted(want - have, key=str)]
    if out:
        out.append(f"{what}: run python -m tools.i18n update, then translate what it marks")
    return out


def _paths(tree: ast.AST, nodes: set[int]) -> set[tuple]:
    """Where in the tree each of ``nodes`` sits, as a path of (field, index) steps from the root."""
    found: set[tuple] = set()

    def walk(node: ast.AST, path: tuple) -> None:
        if id(node) in nodes:
            found.add(path)
            return
        for name, value in ast.iter_fields(node):
            if isinstance(value, list):
                for i, v in enumerate(value):
                    if isinstance(v, ast.AST):
                        walk(v, (*path, (name, i)))
            elif isinstance(value, ast.AST):
                walk(value, (*path, (name, None)))

    walk(tree, ())
    return found


def _set_aside(tree: ast.AST, paths: set[tuple]) -> str:
    """The tree's dump with the node at each path replaced by a marker that keeps only its f-string
    fields (which are code). A path the tree does not have is left alone: the dumps then differ."""
    for path in sorted(paths, key=len, reverse=True):
        parent = tree
        try:
            for name, i in path[:-1]:
                parent = getattr(parent, name) if i is None else getattr(parent, name)[i]
            name, i = path[-1]
            node = getattr(parent, name) if i is None else getattr(parent, name)[i]
        except (AttributeError, IndexError, TypeError):
            continue
        if code.literal_key(node) is None:
            continue
        fields = sorted(ast.dump(v) for v in getattr(node, "values", []) if isinstance(v, ast.FormattedValue))
        marker = ast.Constant("<translated>" + "|".join(fields))
        if i is None:
            setattr(parent, name, marker)
        else:
            getattr(parent, name)[i] = marker
    return ast.dump(tree)


def _normal_pair(english: str, translated: str, extra: frozenset[str]) -> tuple[str, str]:
    """Both cells' dumps with the literals the English cell translates set aside. Which literals is
    decided on the English alone (:func:`code.select`) and found in the translation by position, so a
    translated literal needs no name, and any other literal that changed still shows."""
    en, tr = ast.parse(english), ast.parse(translated)
    paths = _paths(en, {id(n) for n, _ in code.select(en, extra)})
    return _set_aside(en, paths), _set_aside(tr, paths)


def same_code(english: str, translated: str, extra: frozenset[str] = frozenset(),
              language_lines: str | None = None) -> list[str]:
    """Is ``translated`` the English source with only prose, comments and printed text changed (and,
    in its first code cell, the edition's ``language_lines``, which must be there)?"""
    a, b = cells.split(english), cells.split(translated)
    if [c.kind for c in a] != [c.kind for c in b]:
        return ["the cells differ in number or kind from the English"]
    out = []
    first = True
    for ce, ct in zip(a, b, strict=True):
        where = f"cell at English line {ce.line}"
        if ce.kind == "code" and first and language_lines is not None:
            first = False
            if language_lines + "\n" not in ct.body:
                out.append(f"{where}: the first code cell does not set the edition's language")
            ct = type(ct)(**{**ct.__dict__, "body": ct.body.replace(language_lines + "\n", "", 1)})
        if ce.kind == "code":
            if [x for x in ce.body.splitlines() if code.DIRECTIVE.match(x.strip())] != \
                    [x for x in ct.body.splitlines() if code.DIRECTIVE.match(x.strip())]:
                out.append(f"{where}: its directive lines (# boxkit:, # NBVAL_) differ")
            try:
                a_dump, b_dump = _normal_pair(ce.body, ct.body, extra)
                if a_dump != b_dump:
                    out.append(f"{where}: the code differs from the English, not only its strings and comments")
            except SyntaxError as e:
                out.append(f"{where}: the translation is not Python ({e.msg})")
        elif ce.kind == "markdown":
            if markdown.structure(cells.markdown_of(ce.body)[0]) != markdown.structure(cells.markdown_of(ct.body)[0]):
                out.append(f"{where}: the markdown's block structure (headings, lists, tables) differs")
        elif ce.body != ct.body:
            out.append(f"{where}: the text before the first cell differs")
    return out


_WORD_CONTAINER = re.compile(r"(?<![\w-])[Cc]ontainers?(?![\w-]|:[A-Z]|\.conf)")
_QUOTED = re.compile(r"\"[^\"\n]*\"|“[^”]*”|'[^'\n]*'")


def glossary(po: Catalog, lang: str) -> list[str]:
    """pt_BR: 'contêiner' (circumflex) in prose; 'container' only in code, in quotations of the seed, in
    identifiers."""
    if lang != "pt_BR":
        return []
    out = []
    for m in _entries(po):
        if m.string and _WORD_CONTAINER.search(_QUOTED.sub(" ", _outside(m.string))):
            out.append(f"'container' in prose: write 'contêiner' (docs/i18n/glossary.pt-BR.md): {_where(m)}")
    return out


def msgfmt(path: str) -> tuple[list[str], str]:
    """GNU msgfmt's own check of a PO file, and its statistics line."""
    r = subprocess.run(["msgfmt", "--check", "--statistics", "-o", "/dev/null", path],
                       capture_output=True, text=True)
    problems = [f"msgfmt: {x}" for x in r.stderr.splitlines() if r.returncode and x.strip()]
    return problems, r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""


def links(translated: str, name: str, lang: str, layout: Layout) -> list[str]:
    """A link to a translated chapter's #fragment must land on a heading or an explicit id there."""
    out = []
    for target, frag in re.findall(r"\]\((\d\d-[\w-]+)\.ipynb#([^)\s]+)\)", translated):
        if target not in layout.translated(lang):
            continue
        with open(layout.generated(target, lang)) as f:
            text = f.read()
        heads = {markdown.anchor_id(h.strip()) for h in re.findall(r"(?m)^# #+ (?:<a id=\"[^\"]*\"></a>)?(.*)$", text)}
        ids = set(re.findall(r"<a id=\"([^\"]+)\"></a>", text))
        if frag not in heads | ids:
            out.append(f"{name}: the link to {target}.ipynb#{frag} lands nowhere (no such heading or id there)")
    return out


def chapter(name: str, lang: str, layout: Layout = CHECKOUT, built: bool = True) -> list[str]:
    """Every check of one translated chapter."""
    po = catalog.read(layout.po(name, lang))
    fresh = catalog.template(name, layout)
    out = completeness(po) + placeholders(po) + glossary(po, lang)
    out += freshness(po, fresh, f"{lang}/{name}.po")
    out += freshness(catalog.read(layout.pot(name)), fresh, f"{name}.pot")
    try:
        with open(layout.generated(name, lang)) as f:
            generated = f.read()
    except FileNotFoundError:
        return out + [f"no generated source {layout.generated(name, lang)}: run python -m tools.i18n generate {name}"]
    if generated != generate.generate(name, lang, layout):
        out.append(f"{layout.generated(name, lang)} is not what the catalogue makes: run python -m tools.i18n generate {name}")
    with open(layout.source(name)) as f:
        english = f.read()
    extra = ex.extra_literals(ex.config(layout.config), name)
    out += same_code(english, generated, extra, generate.LANGUAGE_LINES.get(lang))
    out += links(generated, name, lang, layout)
    if built:
        out += notebook_fresh(name, lang, layout, generated)
    return out


def notebook_fresh(name: str, lang: str, layout: Layout, generated: str) -> list[str]:
    """The built notebook's cells are the generated source's (tools/notebooks.py's parse)."""
    nbmod = generate._notebooks_module()
    try:
        with open(layout.notebook(name, lang)) as f:
            nb = json.load(f)
    except FileNotFoundError:
        return [f"{layout.notebook(name, lang)} is not built: python -m tools.i18n build {name} (live, under the lock)"]
    have = [(c["cell_type"], "".join(c["source"])) for c in nb["cells"]]
    if have != nbmod.parse(generated):
        return [f"{layout.notebook(name, lang)} differs from its generated source: rebuild it "
                f"(python -m tools.i18n build {name}; --markdown-only when only prose changed)"]
    return []


def literal_guard(name: str, layout: Layout = CHECKOUT) -> list[str]:
    """Every string literal of three words or more in a code cell is either translated or listed as code
    in locale/notebooks.toml, so a new one must be decided by whoever adds it."""
    conf = ex.config(layout.config).get(name, {})
    known = set(conf.get("translate", [])) | set(conf.get("code", []))
    out = []
    with open(layout.source(name)) as f:
        source = f.read()
    for c in cells.split(source):
        if c.kind != "code":
            continue
        tree = ast.parse(c.body)
        inside = {id(x) for n, _ in code.select(tree, frozenset(known)) for x in ast.walk(n)}
        for n in code.literals(tree):
            key = code.literal_key(n)
            if id(n) not in inside and len(key.split()) >= 3 and key not in known:
                out.append(f"{name} line {c.line + n.lineno - 1}: is {key!r} text a learner reads "
                           f"(list it under translate) or code (under code) in locale/notebooks.toml?")
    return out
