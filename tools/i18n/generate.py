"""A translated chapter, generated: the English source with its catalogue's translations put in.

What the generator adds beyond the translations, each for a reason a test checks:

* **the edition's language**, in the first code cell (:data:`LANGUAGE_LINES`): a notebook says its
  language itself and never takes it from the kernel's environment, so one notebook never mixes two:
  ``boxkit.set_language("pt_BR")`` makes what the package prints (verdicts, the host check, the RECORDED
  badge, figure labels, errors) Portuguese from that cell on. These are the only code lines a translated
  edition adds; the same-code check takes exactly them out before it compares.
* **anchors kept**: a heading that a link targets (``01-namespaces.ipynb#Exercise``) gets its English id as
  an explicit ``<a id>`` when translated, so every link into it still lands (JupyterLab scrolls to any
  element of that id).
* **links to chapters not yet translated** go to the English edition (``../02-cgroups.ipynb``), so the
  index never points at a notebook that is not there; they switch to the translated one as soon as that
  chapter has a catalogue (and its freshness test asks for the regeneration).

An entry that is untranslated or fuzzy falls back to its English here, so a translator can build a
half-done chapter to look at it; CI refuses such a catalogue, so no published edition mixes languages.
"""

from __future__ import annotations

import os
import re
import sys
from collections import defaultdict
from collections.abc import Callable

from babel.messages.catalog import Catalog

from . import CHECKOUT, Layout, catalog
from . import extract as ex
from .units import Unit

LANGUAGE_LINES = {
    "pt_BR": ("# edição em português (pt_BR): daqui em diante, o próprio boxkit também fala português\n"
              "import boxkit\n"
              'boxkit.set_language("pt_BR")'),
}

_CHAPTER_LINK = re.compile(r"\]\((\d\d-[\w-]+)\.ipynb((?:#[^)\s]*)?)\)")
_FRAGMENT = re.compile(r"(?:\.ipynb)?#([^)\s#]+)\)")


def lookup(po: Catalog, units: list[Unit]) -> Callable[[Unit], str | None]:
    """The translation of a unit, or None where the catalogue has none that may be used."""
    kinds: dict[str, set[str]] = defaultdict(set)
    for u in units:
        kinds[u.text].add(u.kind)

    def find(u: Unit) -> str | None:
        m = po.get(u.text, context=catalog.context(u, kinds))
        return m.string if m is not None and m.string and not m.fuzzy else None

    return find


def link_targets(layout: Layout) -> frozenset[str]:
    """Every ``#fragment`` a link of the English course points at."""
    found: set[str] = set()
    for name in layout.chapters():
        with open(layout.source(name)) as f:
            found.update(_FRAGMENT.findall(f.read()))
    return frozenset(found)


def generate(name: str, lang: str, layout: Layout = CHECKOUT) -> str:
    """The translated source of chapter ``name`` (not written)."""
    with open(layout.source(name)) as f:
        english = f.read()
    extra = ex.extra_literals(ex.config(layout.config), name)
    units = ex.units(english, extra)
    po = catalog.read(layout.po(name, lang))
    translated = set(layout.translated(lang))

    def links(md: str) -> str:
        return _CHAPTER_LINK.sub(lambda m: m.group(0) if m.group(1) in translated
                                 else f"](../{m.group(1)}.ipynb{m.group(2)})", md)

    return ex.translate(english, lookup(po, units), extra, anchors=link_targets(layout),
                        first_code_line=LANGUAGE_LINES[lang], markdown_filter=links)


def write(name: str, lang: str, layout: Layout = CHECKOUT) -> bool:
    """Write ``notebooks/src/LANG/NAME.py``; False when it already held exactly this."""
    text = generate(name, lang, layout)
    path = layout.generated(name, lang)
    if os.path.exists(path):
        with open(path) as f:
            if f.read() == text:
                return False
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return True


def _notebooks_module():
    tools = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if tools not in sys.path:
        sys.path.insert(0, tools)
    import notebooks

    return notebooks


def build(name: str, lang: str) -> str:
    """Execute the generated source live into ``notebooks/LANG/NAME.ipynb`` (tools/notebooks.py's build:
    real containers, so under the shared lock)."""
    return _notebooks_module().build(name, lang=lang)


def refresh_markdown(name: str, lang: str, layout: Layout = CHECKOUT) -> str:
    """Put the generated source's markdown into the built notebook, keeping its outputs: for a change of
    prose only. Refused when any code cell differs, since then only a live run tells the outputs."""
    import nbformat

    nbmod = _notebooks_module()
    with open(layout.generated(name, lang)) as f:
        cells = nbmod.parse(f.read())
    path = layout.notebook(name, lang)
    nb = nbformat.read(path, as_version=4)
    if [c.cell_type for c in nb.cells] != [k for k, _ in cells]:
        raise SystemExit(f"{path}: its cells are not the generated source's: build it live "
                         f"(python -m tools.i18n build {name})")
    for c, (kind, body) in zip(nb.cells, cells, strict=True):
        if kind == "code" and c.source != body:
            raise SystemExit(f"{path}: a code cell changed, so its outputs may too: build it live "
                             f"(python -m tools.i18n build {name})")
        c.source = body
    for c in nb.cells:
        c.pop("id", None)
    nb.nbformat_minor = 4
    nbformat.write(nb, path)
    return path
