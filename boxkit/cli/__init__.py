"""``boxkit ...``: docker's habits over the library, so a learner's muscle memory works.

    boxkit run [-d] [-i] [-t] [--rm] [--init] [--name N] [--hostname H] [-e K=V] [-w DIR] [-u UID[:GID]] [--read-only]
               [-v HOST:CTR[:ro]] [--network none] [--memory 500M] [--cpus 0.5] ... IMAGE [CMD...]
    boxkit ps [-a] | exec [-it] C CMD | logs [-f] C | stop | kill | rm | start | wait | inspect | top
    boxkit probe [--json]
    boxkit gc

Exit status, as docker's: the container's own; 125 when boxkit itself fails; 126 when the command
cannot be executed; 127 when it is not found. Every failure is one sentence on stderr, never a
traceback. ``run`` forks a keeper per container (:mod:`boxkit.runtime.keeper`), which holds it while
the command is attached and after it detached; the command forwards SIGINT, SIGTERM and SIGHUP to
it, as ``docker run`` does, and SIGKILLs a container that ignores a SIGTERM once ``--stop-timeout``
has passed (exit status 143), as ``docker stop`` does. The verbs live in :mod:`.verbs` and the modules it names; the
warm helper that makes ``boxkit run`` fast is :mod:`.warm`, its client :mod:`boxkit.fastrun`.
"""

from __future__ import annotations

import sys

from ..errors import BoxkitError, check_linux
from ..i18n import _, from_environment, set_language
from .arguments import normalize
from .verbs import parser

__all__ = ["main", "parser", "speak_locale"]


def speak_locale() -> str:
    """The command line speaks the locale's language, as every gettext program does (``BOXKIT_LANG``,
    then ``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``); English when there is no catalogue for it."""
    try:
        return set_language(from_environment())
    except ValueError:   # the catalogue is missing or unreadable: say it in English rather than fail
        return set_language("en")


def main(argv: list[str] | None = None) -> int:
    """The ``boxkit`` command. Called as the command (``argv`` None: ``python -m boxkit``), it speaks
    the locale's language; called with a list, the language the caller chose."""
    if argv is None:
        speak_locale()
    try:
        check_linux()
        ap = parser()
        a = ap.parse_args(normalize(ap, argv))
        if not getattr(a, "func", None):
            ap.print_help()
            return 0
        return int(a.func(a) or 0)
    except BoxkitError as e:
        print(f"boxkit: {e}", file=sys.stderr)
        return getattr(e, "exit_code", 125)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as e:  # an unexpected system error still gets one sentence
        where = f" {e.filename}" if e.filename else ""
        # strerror(3)'s words are message ids of boxkit.errors.STRERROR (a rarer one stays as the C library says it)
        what = _((e.strerror or str(e)).lower())
        print(f"boxkit: {what}{where} — " + _("see boxkit probe"), file=sys.stderr)
        return 125


if __name__ == "__main__":
    sys.exit(main())
