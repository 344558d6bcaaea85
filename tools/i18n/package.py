"""The package's own words: one gettext domain, ``boxkit``, extracted from ``boxkit/**.py``.

What the package says to a learner (exercise verdicts and hints, the host check, the RECORDED badge,
figure labels, errors and hints) is marked in the code with :func:`boxkit.i18n._` (said now),
:func:`boxkit.i18n.N_` (a message kept in a table, said later) and ``ngettext``; a comment starting
``i18n:`` on the line above is copied to the translator. Fields are named (``{pid}``) and
``str.format``-ed after translation.

1. **extract**: Babel's Python extractor reads the marked calls into ``locale/boxkit.pot``.
2. **update**: the template is merged into ``locale/LANG/LC_MESSAGES/boxkit.po`` (as ``msgmerge``).
3. **compile**: the PO becomes ``boxkit/locale/LANG/LC_MESSAGES/boxkit.mo``, which the package ships
   and :func:`boxkit.i18n.set_language` loads. It is committed, and CI proves it is the PO's compile.
4. **merge FILE.po …**: translations from partial catalogues (one per translator) fill the empty or
   fuzzy entries with the same msgid.
"""

from __future__ import annotations

import ast
import glob
import io
import os
import re

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from . import REPO
from . import catalog as cat_mod

KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
PROJECT = "boxkit"
FIELD = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)(?:[!:][^{}]*)?\}(?!\})")


def pot_path(root: str = REPO) -> str:
    return os.path.join(root, "locale", "boxkit.pot")


def po_path(lang: str, root: str = REPO) -> str:
    return os.path.join(root, "locale", lang, "LC_MESSAGES", "boxkit.po")


def mo_path(lang: str, root: str = REPO) -> str:
    return os.path.join(root, "boxkit", "locale", lang, "LC_MESSAGES", "boxkit.mo")


def template(root: str = REPO) -> Catalog:
    """The package's messages as a Babel catalogue, from ``boxkit/**.py``."""
    cat = Catalog(project=PROJECT, version="1", charset="utf-8", fuzzy=True,
                  header_comment="# What the boxkit package says (extracted by tools/i18n from boxkit/**.py).\n"
                                 "# Do not edit: python -m tools.i18n package extract writes it.\n#")
    pkg = os.path.join(root, "boxkit")
    for filename, lineno, message, comments, context in extract_from_dir(
            pkg, method_map=[("**.py", "python")], keywords=KEYWORDS, comment_tags=("i18n:",),
            strip_comment_tags=True):
        loc = (f"boxkit/{filename}", lineno)
        found = cat.get(message, context=context)
        if found is None:
            cat.add(message, locations=[loc], auto_comments=comments, context=context,
                    flags=("python-brace-format",) if _has_fields(message) else ())
        else:
            found.locations.append(loc)
            for c in comments:
                if c not in found.auto_comments:
                    found.auto_comments.append(c)
    return cat


def _has_fields(message) -> bool:
    texts = message if isinstance(message, tuple) else (message,)
    return any(FIELD.search(t or "") for t in texts)


def write_template(root: str = REPO) -> bool:
    text = cat_mod.render(template(root))
    path = pot_path(root)
    if os.path.exists(path):
        with open(path) as f:
            if cat_mod._without_dates(f.read()) == cat_mod._without_dates(text):
                return False
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return True


def update(lang: str, root: str = REPO, drop_obsolete: bool = False) -> dict[str, int]:
    pot = template(root)
    path = po_path(lang, root)
    if os.path.exists(path):
        po = cat_mod.read(path)
        before = cat_mod.render(po, previous=True)
        po.update(pot, no_fuzzy_matching=False, update_header_comment=False, keep_user_comments=True,
                  update_creation_date=False)
    else:
        po = read_po(io.BytesIO(cat_mod.render(pot).encode()), locale=lang)
        po.locale = lang
        po.fuzzy = False
        po.language_team = cat_mod.LANGUAGE_TEAMS.get(lang, lang)
        if lang == "pt_BR":   # GNU gettext's rule for Brazilian Portuguese (0 and 1 are singular), not CLDR's three
            po._num_plurals, po._plural_expr = 2, "(n > 1)"
        po.header_comment = (f"# {lang} translation of what the boxkit package says.\n"
                             "# Translate with any PO editor; docs/i18n/README.md says how.\n#")
        before = None
    if drop_obsolete:
        po.obsolete.clear()
    _drop_stale_previous(po)
    text = cat_mod.render(po, previous=True)
    if text != before:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    return cat_mod.counts(po)


def _drop_stale_previous(po: Catalog) -> None:
    # "#| msgid" is the old English beside a fuzzy entry; once the entry is checked it says nothing
    for m in po:
        if m.id and not m.fuzzy:
            m.previous_id = []


def compiled(lang: str, root: str = REPO) -> bytes:
    """The MO the PO compiles to (translated, non-fuzzy entries only, as msgfmt)."""
    po = cat_mod.read(po_path(lang, root))
    buf = io.BytesIO()
    write_mo(buf, po, use_fuzzy=False)
    return buf.getvalue()


def compile_mo(lang: str, root: str = REPO) -> bool:
    data = compiled(lang, root)
    path = mo_path(lang, root)
    if os.path.exists(path):
        with open(path, "rb") as f:
            if f.read() == data:
                return False
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return True


def merge(lang: str, sources: list[str], root: str = REPO) -> int:
    """Fill the PO's entries from partial catalogues with the same msgid (a part's translation wins:
    it is the translator's latest); returns how many entries changed."""
    path = po_path(lang, root)
    po = cat_mod.read(path)
    found: dict = {}
    for src in sources:
        for m in cat_mod.read(src):
            done = all(m.string) if isinstance(m.string, (tuple, list)) else bool(m.string)
            if m.id and done and not m.fuzzy:
                found[(m.context, m.id)] = m.string
    n = 0
    for m in po:
        want = found.get((m.context, m.id))
        if m.id and want is not None and (m.fuzzy or tuple(want) != tuple(m.string)
                                          if isinstance(want, (tuple, list)) else m.fuzzy or want != m.string):
            m.string = want
            m.flags.discard("fuzzy")
            n += 1
    _drop_stale_previous(po)
    with open(path, "w") as f:
        f.write(cat_mod.render(po, previous=True))
    return n


def part(out: str, files: list[str], lang: str = "pt_BR", root: str = REPO) -> dict[str, int]:
    """A partial catalogue for one translator: the messages of ``files`` (paths like
    ``boxkit/exercises.py``), keeping the translations ``out`` already holds."""
    wanted = {os.path.normpath(f) for f in files}
    fresh = template(root)
    po = Catalog(locale=lang, project=PROJECT, charset="utf-8", fuzzy=False)
    if lang == "pt_BR":
        po._num_plurals, po._plural_expr = 2, "(n > 1)"
    old = {(m.context, m.id): m.string for m in cat_mod.read(out) if m.id} if os.path.exists(out) else {}
    for m in fresh:
        if m.id and any(os.path.normpath(loc[0]) in wanted for loc in m.locations):
            po.add(m.id, string=old.get((m.context, m.id)) or ("", "") if isinstance(m.id, tuple) else
                   old.get((m.context, m.id), ""), locations=m.locations, auto_comments=m.auto_comments,
                   context=m.context, flags=m.flags)
    with open(out, "w") as f:
        f.write(cat_mod.render(po))
    return cat_mod.counts(po)


def fields_problems(msgid, msgstr) -> list[str]:
    """A translation must name the same fields as the English (``{pid}``, ``{limit:,}``)."""
    out = []
    ids = msgid if isinstance(msgid, tuple) else (msgid,)
    strs = msgstr if isinstance(msgstr, tuple) else (msgstr,)
    want = sorted(FIELD.findall(ids[-1] or ""))
    for s in strs:
        have = sorted(FIELD.findall(s or ""))
        if s and have != want and not (len(ids) > 1 and set(have) <= set(want)):
            out.append(f"fields differ: English {want}, translation {have}")
    return out


def f_string_calls(root: str = REPO) -> list[str]:
    """``_(f"...")``, ``_("..." + x)`` and ``_("..." % x)`` cannot be translated (the id differs at every
    call): name each. ``_(name)`` is allowed: a value that came from ``N_()``."""
    out = []
    for path in sorted(glob.glob(os.path.join(root, "boxkit", "**", "*.py"), recursive=True)):
        with open(path) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "N_") \
                    and node.args and isinstance(node.args[0], (ast.JoinedStr, ast.BinOp)):
                out.append(f"{os.path.relpath(path, root)}:{node.lineno}: {node.func.id}() of something other "
                           "than a string literal (an f-string or a sum): name the fields and .format() the translation")
    return out


def shadowed_underscore(root: str = REPO) -> list[str]:
    """A module that translates with ``_`` must not also use ``_`` as a throwaway name: in a function
    that assigns it, every ``_()`` call raises UnboundLocalError."""
    out = []
    for path in sorted(glob.glob(os.path.join(root, "boxkit", "**", "*.py"), recursive=True)):
        with open(path) as f:
            tree = ast.parse(f.read())
        imports_ = any(isinstance(n, ast.ImportFrom) and any(a.name == "_" and a.asname in (None, "_") for a in n.names)
                       for n in ast.walk(tree))
        if not imports_:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store):
                out.append(f"{os.path.relpath(path, root)}:{node.lineno}: '_' assigned in a module that "
                           "translates with _(): use another throwaway name")
    return out


def check(lang: str, root: str = REPO) -> list[str]:
    """What CI proves of the package catalogue: fresh against extraction, complete, fields kept, the
    MO its compile; and no untranslatable call."""
    from . import checks

    problems = f_string_calls(root) + shadowed_underscore(root)
    fresh = template(root)
    pot = cat_mod.read(pot_path(root))
    problems += checks.freshness(pot, fresh, "locale/boxkit.pot")
    if not os.path.exists(po_path(lang, root)):
        return problems + [f"{po_path(lang, root)}: missing; run python -m tools.i18n package update"]
    po = cat_mod.read(po_path(lang, root))
    problems += checks.freshness(po, fresh, f"locale/{lang}/LC_MESSAGES/boxkit.po")
    for m in po:
        if m.id and (not all(m.string) if isinstance(m.string, (tuple, list)) else not m.string):
            problems.append(f"untranslated: {m.locations[0][0] if m.locations else '?'} {str(m.id)[:60]!r}")
        elif m.id and m.fuzzy:
            problems.append(f"fuzzy (check the translation, then remove the flag): {str(m.id)[:60]!r}")
    problems += [f"obsolete (delete it or run package update --drop-obsolete): {str(m.id)[:60]!r}"
                 for m in po.obsolete.values()]
    for m in po:
        if m.id and m.string:
            where = f"{m.locations[0][0]}:{m.locations[0][1]}" if m.locations else "?"
            problems += [f"{p}: {where} {str(m.id)[:60]!r}" for p in fields_problems(m.id, m.string)]
            s = m.string if isinstance(m.string, str) else m.string[0]
            i = m.id if isinstance(m.id, str) else m.id[0]
            if s != s.strip() and i == i.strip():
                problems.append(f"spaces at the start or end: {where} {str(m.id)[:60]!r}")
    flat = Catalog(locale=lang)
    for m in po:
        if m.id:
            for i, text in enumerate(m.string if isinstance(m.string, (tuple, list)) else (m.string,)):
                flat.add(f"{m.id}#{i}", string=text, locations=m.locations)
    problems += checks.glossary(flat, lang)
    path = mo_path(lang, root)
    if not os.path.exists(path):
        problems.append(f"{path}: missing; run python -m tools.i18n package compile")
    else:
        with open(path, "rb") as f:
            if f.read() != compiled(lang, root):
                problems.append(f"{path}: not the compile of its PO; run python -m tools.i18n package compile")
    return problems
