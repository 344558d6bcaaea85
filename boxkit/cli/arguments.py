"""The command line's parser with docker's manners.

Two habits of argparse surprise a docker user, and both are mended here rather than per verb:

* A value that starts with ``-`` is read as an option: ``boxkit run --memory -5M busybox true`` used
  to stop with argparse's "expected one argument" and exit 2, while ``--memory=-5M`` reached the value
  check. docker's flag parser (pflag) gives an option that takes a value the next word, whatever it
  starts with. :func:`normalize` does the same before argparse sees the words, by joining such a pair
  into one word (``--memory=-5M``, ``-m-5M``), so the value check answers in both spellings.
* A usage error exits 2. docker exits 125 for every error of its own, bad flags included, and so does
  boxkit: :class:`Parser` turns argparse's message into a :class:`~boxkit.errors.UsageError`, which
  the CLI prints as one sentence.

Only words before a verb's positional "rest of the line" (``run IMAGE CMD...``) are rewritten: what
follows the image is the container's command, with its own options.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from ..errors import UsageError


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one sentence and exit 125 (sub-parsers inherit it)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(self.prog, message)


def _takes_value(action: argparse.Action) -> bool:
    return bool(action.option_strings) and action.nargs in (None, 1)


def normalize(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> list[str]:
    """``argv`` with every option that takes a value joined to its value when the value starts with ``-``."""
    return _walk(parser, list(sys.argv[1:] if argv is None else argv))


def _walk(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    valued = {s for a in parser._actions if _takes_value(a) for s in a.option_strings}
    subparsers = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    positionals = [a for a in parser._actions if not a.option_strings
                   and not isinstance(a, argparse._SubParsersAction)]
    out: list[str] = []
    npos = 0
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            return out + argv[i:]
        if word.startswith("-") and word != "-":
            if word in valued and i + 1 < len(argv):
                value = argv[i + 1]
                if value.startswith("-"):
                    out.append(f"{word}={value}" if word.startswith("--") else word + value)
                else:
                    out += [word, value]
                i += 2
            else:
                out.append(word)
                i += 1
            continue
        out.append(word)
        if subparsers is not None:     # the verb: its own options follow
            verb = subparsers.choices.get(word)
            return out + (_walk(verb, argv[i + 1:]) if verb is not None else argv[i + 1:])
        if npos < len(positionals) and positionals[npos].nargs in (None, 1):
            npos += 1
        if npos < len(positionals) and positionals[npos].nargs == argparse.REMAINDER:
            return out + argv[i + 1:]   # the container's command and its own options
        i += 1
    return out
