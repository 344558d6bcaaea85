"""gettext catalogues with Babel: a template (POT) per chapter, merged into each language's PO.

* :func:`template` turns a chapter's units into a Babel ``Catalog``. An entry is keyed by its English
  text: the same English twice in a chapter is one entry (one translation), unless the two are of
  different kinds (a heading and a printed label, say) — then each gets a ``msgctxt`` naming its kind,
  which is stable: it does not move when the English around it does.
* :func:`write_template` writes the POT only when an entry or a location changed, so re-extracting an
  unchanged chapter leaves the file (and its creation date) alone.
* :func:`update` is ``msgmerge``: Babel's ``Catalog.update`` keeps every translation whose English is
  unchanged, marks an entry whose English changed ``fuzzy`` with the old English as ``#| msgid``, and
  keeps the entries no longer in the English as obsolete (``#~``) until ``--drop-obsolete``. A missing
  PO is created from the template (``msginit``).

Files are written 79 columns wide, as ``msgmerge`` and Poedit write them, so a translator's tool and
this one produce the same diff.
"""

from __future__ import annotations

import io
import os
from collections import defaultdict

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from . import CHECKOUT, Layout
from . import extract as ex
from .units import KIND_NOTES, Unit

WIDTH = 79
PROJECT = "boxkit notebooks"
LANGUAGE_TEAMS = {"pt_BR": "pt_BR <boxkit issue 25>"}


def template(name: str, layout: Layout = CHECKOUT) -> Catalog:
    """The chapter's POT as a Babel catalogue, from its English source."""
    conf = ex.config(layout.config)
    with open(layout.source(name)) as f:
        units = ex.units(f.read(), ex.extra_literals(conf, name))
    return catalog_of(units, name)


def catalog_of(units: list[Unit], name: str) -> Catalog:
    kinds: dict[str, set[str]] = defaultdict(set)
    for u in units:
        kinds[u.text].add(u.kind)
    cat = Catalog(project=PROJECT, version="1", charset="utf-8", fuzzy=True,
                  header_comment=f"# Translatable text of notebooks/src/{name}.py (extracted by tools/i18n).\n"
                                 "# Do not edit: python -m tools.i18n extract writes it.\n#")
    for u in units:
        ctx = context(u, kinds)
        loc = (f"notebooks/src/{name}.py", u.line)
        found = cat.get(u.text, context=ctx)
        if found is None:
            cat.add(u.text, locations=[loc], auto_comments=[KIND_NOTES[u.kind]], context=ctx)
        else:
            found.locations.append(loc)
    return cat


def context(unit: Unit, kinds: dict[str, set[str]]) -> str | None:
    """The msgctxt of a unit: its kind, where the same English appears as another kind too."""
    return unit.kind if len(kinds[unit.text]) > 1 else None


def keys(cat: Catalog) -> list[tuple[str | None, str]]:
    """The (msgctxt, msgid) of every live entry, header left out."""
    return [(m.context, m.id) for m in cat if m.id]


def render(cat: Catalog, previous: bool = False, drop_obsolete: bool = False) -> str:
    buf = io.BytesIO()
    write_po(buf, cat, width=WIDTH, include_previous=previous, ignore_obsolete=drop_obsolete)
    return buf.getvalue().decode()


def read(path: str) -> Catalog:
    with open(path, "rb") as f:
        return read_po(f)


def _without_dates(text: str) -> str:
    return "\n".join(x for x in text.splitlines() if not x.startswith(('"POT-Creation-Date:', '"PO-Revision-Date:')))


def write_template(name: str, layout: Layout = CHECKOUT) -> bool:
    """Write ``locale/notebooks/NAME.pot``; False when it already held exactly this."""
    text = render(template(name, layout))
    path = layout.pot(name)
    if os.path.exists(path):
        with open(path) as f:
            if _without_dates(f.read()) == _without_dates(text):
                return False
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return True


def update(name: str, lang: str, layout: Layout = CHECKOUT, drop_obsolete: bool = False) -> dict[str, int]:
    """Merge the chapter's template into its ``lang`` catalogue (creating it if missing). Returns the
    counts a translator needs next: translated, fuzzy, untranslated, obsolete."""
    pot = template(name, layout)
    path = layout.po(name, lang)
    if os.path.exists(path):
        po = read(path)
        before = render(po, previous=True)
        po.update(pot, no_fuzzy_matching=False, update_header_comment=False, keep_user_comments=True,
                  update_creation_date=False)
    else:
        po = read_po(io.BytesIO(render(pot).encode()), locale=lang)
        po.locale = lang
        po.fuzzy = False
        po.language_team = LANGUAGE_TEAMS.get(lang, lang)
        po.header_comment = (f"# {lang} translation of notebooks/src/{name}.py.\n"
                             "# Translate with any PO editor; docs/i18n/README.md says how.\n#")
        before = None
    if drop_obsolete:
        po.obsolete.clear()
    text = render(po, previous=True)
    if text != before:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    return counts(po)


def counts(po: Catalog) -> dict[str, int]:
    live = [m for m in po if m.id]
    return {
        "translated": sum(1 for m in live if m.string and not m.fuzzy),
        "fuzzy": sum(1 for m in live if m.fuzzy),
        "untranslated": sum(1 for m in live if not m.string),
        "obsolete": len(po.obsolete),
    }
