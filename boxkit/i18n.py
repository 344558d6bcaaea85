"""The language boxkit speaks: GNU gettext catalogues, chosen by the caller, never guessed twice.

Every sentence boxkit says to a learner — an exercise's verdict and hint, the host check, the RECORDED
badge, a figure's title and labels, an error and what to do about it — is an English *message id*
looked up at the moment it is said in the catalogue of the current language
(``boxkit/locale/LANG/LC_MESSAGES/boxkit.mo``, compiled from ``locale/LANG/LC_MESSAGES/boxkit.po`` by
``python -m tools.i18n package``). A message that is missing from the catalogue is said in English, as
``gettext(3)`` does. Values never sit inside the words: a message names its fields
(``"{pid} is not running"``) and the translation keeps the same names, so a number or a path is printed
as the program measured it, and a sentence is never glued from fragments of another language.

Who picks the language:

* a notebook, explicitly: the pt-BR chapters call :func:`set_language` ``("pt_BR")`` in their first cell,
  and nothing else does — a kernel's environment (``LANG`` of whoever started JupyterLab) must not change
  the language of one chapter halfway, so importing boxkit speaks English;
* the ``boxkit`` and ``boxkit-runtime`` commands, from the environment, as every gettext program does:
  ``BOXKIT_LANG`` first, then ``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` (:func:`from_environment`).

Errors that cross a process boundary (the warm helper's socket, the supervisor's pipe) travel as their
English message ids with their fields (:mod:`boxkit.errors`), and the side that prints them renders them
in its own language. ``_`` is a module-level name here, never installed into ``builtins`` (IPython keeps
the last result there).
"""

from __future__ import annotations

import os

__all__ = ["_", "N_", "ngettext", "set_language", "language", "from_environment", "LANGUAGES", "CATALOGUES"]

#: The languages boxkit has a catalogue for, and English (the message ids themselves).
LANGUAGES = ("en", "pt_BR")
#: Where the compiled catalogues live, inside the package so a wheel carries them.
CATALOGUES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "locale")
DOMAIN = "boxkit"

_state: dict = {"lang": "en", "catalog": None}


def _(message: str) -> str:
    """``message`` in the current language (the English when the catalogue lacks it)."""
    cat = _state["catalog"]
    return message if cat is None else cat.gettext(message)


def N_(message: str) -> str:
    """Marks ``message`` for extraction and returns it unchanged: for a table of messages built at
    import, translated with :func:`_` when it is said."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n`` in the current language (Portuguese counts 0 and 1 as one)."""
    cat = _state["catalog"]
    if cat is None:
        return singular if n == 1 else plural
    return cat.ngettext(singular, plural, n)


def language() -> str:
    """The current language: ``"en"`` or one of :data:`LANGUAGES`."""
    return _state["lang"]


def normalize(name: str) -> str | None:
    """``pt_BR.UTF-8``, ``pt-br``, ``pt`` → ``"pt_BR"``; ``C``, ``POSIX``, ``en_US`` → ``"en"``; a language
    boxkit has no catalogue for → None."""
    base = name.split(".")[0].split("@")[0].replace("-", "_").strip()
    if not base:
        return None
    if base in ("C", "POSIX") or base.lower().startswith("en"):
        return "en"
    lang, _sep, region = base.partition("_")
    for known in LANGUAGES:
        k_lang, _k, k_region = known.partition("_")
        if lang.lower() == k_lang and (not region or region.upper() == k_region):
            return known
    return None


def from_environment(environ: dict | None = None) -> str:
    """The language a command-line program should speak: ``BOXKIT_LANG``, then gettext's own order
    (``LANGUAGE`` — a colon-separated list —, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``); the first variable
    that is set decides, and a language with no catalogue there means English, as gettext falls back."""
    env = os.environ if environ is None else environ
    for var in ("BOXKIT_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        if not value:
            continue
        if var == "LANGUAGE":
            # gettext reads LANGUAGE only when a locale is set at all (LC_ALL/LANG not "C")
            locale_set = env.get("LC_ALL") or env.get("LC_MESSAGES") or env.get("LANG") or "C"
            if locale_set.split(".")[0] in ("C", "POSIX"):
                continue
            for part in value.split(":"):
                found = normalize(part)
                if found:
                    return found
            continue
        return normalize(value) or "en"
    return "en"


def set_language(lang: str | None = None) -> str:
    """Speak ``lang`` from now on in this process (``"pt_BR"``, ``"en"``; None: from the environment,
    as the command line does). Returns the language now in use. An unknown language is refused with a
    sentence naming the ones there are (ValueError, so a notebook cell shows it plainly)."""
    if lang is None:
        lang = from_environment()
    found = normalize(lang)
    if found is None:
        raise ValueError(f"set_language: no catalogue for {lang!r}; boxkit speaks {', '.join(LANGUAGES)}")
    if found == "en":
        _state.update(lang="en", catalog=None)
        return "en"
    import gettext  # only when a translation is wanted: the fast client path stays light

    path = os.path.join(CATALOGUES, found, "LC_MESSAGES", f"{DOMAIN}.mo")
    try:
        with open(path, "rb") as f:
            catalog = gettext.GNUTranslations(f)
    except OSError as e:
        raise ValueError(f"set_language: cannot read the {found} catalogue {path}: "
                         f"{os.strerror(e.errno or 0).lower()}; reinstall boxkit") from None
    _state.update(lang=found, catalog=catalog)
    return found
