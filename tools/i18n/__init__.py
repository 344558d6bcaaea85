"""The course in other languages: English notebook sources plus gettext catalogues make each edition.

The English sources (``notebooks/src/NN-name.py``, jupytext percent format) are the only source of code.
A translated edition is *generated* from them, never copied, so it cannot fall behind:

1. **extract** (:mod:`.extract`): every translatable unit of a chapter becomes one gettext message in
   ``locale/notebooks/NN-name.pot`` — one per markdown heading, paragraph, list item and table cell (as
   d2l and Sphinx split prose, so a changed sentence marks one entry), one per code comment (a run of
   comment lines is one), and one per string literal a cell *prints* (``print`` arguments, ``title=``
   keywords, and the few literals ``locale/notebooks.toml`` lists). Code, identifiers, paths, shell
   commands and kernel output are never extracted.
2. **update** (:mod:`.catalog`): Babel merges the template into ``locale/LANG/LC_MESSAGES/notebooks/
   NN-name.po`` as ``msgmerge`` would: an English change turns just that entry fuzzy, with the old
   English kept beside it (``#| msgid``) for the translator.
3. **generate** (:mod:`.generate`): the English source with each unit replaced by its translation is
   written to ``notebooks/src/LANG/NN-name.py``; every other byte is the English one.
4. **build**: ``tools/notebooks.py`` executes that source live into ``notebooks/LANG/NN-name.ipynb``.

:mod:`.checks` holds what CI proves (tests/unit/test_i18n_catalogs.py): catalogues complete and fresh,
placeholders kept, generated files fresh, code cells the same code, markdown the same structure.

    .venv/bin/python -m tools.i18n --help        # the commands; docs/i18n/README.md is the how-to
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# the editions this pipeline makes besides the English one
LANGUAGES = ("pt_BR",)


@dataclass(frozen=True)
class Layout:
    """Where a checkout keeps each file of the pipeline. Tests point one at a temporary copy."""

    root: str = REPO

    @property
    def src_dir(self) -> str:
        return os.path.join(self.root, "notebooks", "src")

    def chapters(self) -> list[str]:
        """Every English chapter, by name (``01-namespaces``)."""
        return sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(self.src_dir, "[0-9][0-9]-*.py")))

    def source(self, name: str) -> str:
        return os.path.join(self.src_dir, name + ".py")

    def pot(self, name: str) -> str:
        return os.path.join(self.root, "locale", "notebooks", name + ".pot")

    def po(self, name: str, lang: str) -> str:
        return os.path.join(self.root, "locale", lang, "LC_MESSAGES", "notebooks", name + ".po")

    def translated(self, lang: str) -> list[str]:
        """The chapters that have a catalogue in ``lang``: those are the ones its edition holds."""
        pattern = os.path.join(self.root, "locale", lang, "LC_MESSAGES", "notebooks", "[0-9][0-9]-*.po")
        return sorted(os.path.basename(p)[:-3] for p in glob.glob(pattern))

    def generated(self, name: str, lang: str) -> str:
        return os.path.join(self.src_dir, lang, name + ".py")

    def notebook(self, name: str, lang: str) -> str:
        return os.path.join(self.root, "notebooks", lang, name + ".ipynb")

    @property
    def config(self) -> str:
        return os.path.join(self.root, "locale", "notebooks.toml")


CHECKOUT = Layout()   # this checkout's files: every function's default
