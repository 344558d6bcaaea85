"""What a translator translates: one unit of English, as a gettext message sees it."""

from __future__ import annotations

import re
from dataclasses import dataclass

# what each kind of unit is, as the catalogue's extracted comment (``#.``) tells the translator
KIND_NOTES = {
    "heading": "markdown heading",
    "paragraph": "markdown paragraph",
    "list item": "markdown list item",
    "table cell": "markdown table cell",
    "comment": "code comment",
    "printed": "text a code cell prints: keep every {field} and a final colon",
    "label": "a label a code cell draws (a figure's title)",
}


@dataclass(frozen=True)
class Unit:
    text: str    # the msgid: the English as the translator reads it
    kind: str    # a key of KIND_NOTES
    line: int    # 1-based line of the English source file where it starts

    @property
    def words(self) -> int:
        return len(self.text.split())


CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
_CHAPTER_LINK = re.compile(r"\[\d\d-[\w-]+\]\([^)]*\)")
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_URL = re.compile(r"https?://\S+")


def has_words(text: str) -> bool:
    """Is there anything to translate? Not when a unit holds only code spans, numbers, punctuation and
    links named by a chapter's file name (``[01-namespaces](01-namespaces.ipynb)``)."""
    rest = CODE_SPAN.sub(" ", text)
    rest = _CHAPTER_LINK.sub(" ", rest)
    rest = _LINK_TARGET.sub("]", rest)
    rest = _URL.sub(" ", rest)
    return re.search(r"[^\W\d_]{2,}", rest) is not None
