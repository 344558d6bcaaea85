"""The translators' commands (docs/i18n/README.md walks through them).

    python -m tools.i18n extract [NAME ...]              # English -> locale/notebooks/NAME.pot (every chapter)
    python -m tools.i18n update NAME [--drop-obsolete]   # POT -> locale/pt_BR/LC_MESSAGES/notebooks/NAME.po
    python -m tools.i18n generate [NAME ...]             # PO + English -> notebooks/src/pt_BR/NAME.py
    python -m tools.i18n build NAME [--markdown-only]    # -> notebooks/pt_BR/NAME.ipynb (live: take the lock)
    python -m tools.i18n build --markdown-only           # every built notebook whose prose (or links) changed
    python -m tools.i18n check [NAME ...]                # what CI checks, as a list of problems
    python -m tools.i18n stats                           # messages and words per chapter, and how many are done
    python -m tools.i18n show NAME                       # the built notebook's text outputs, cell by cell
    python -m tools.i18n package extract|update|compile|check|stats   # the package's own words (boxkit.po)
    python -m tools.i18n package part OUT.po FILE.py ... # one translator's share: the messages of FILEs
    python -m tools.i18n package merge PART.po ...       # fill the package catalogue from partial ones

NAME is a chapter (``01-namespaces``); ``--lang`` picks the edition (default pt_BR).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from . import LANGUAGES, Layout, catalog, checks, generate


def _names(given: list[str], available: list[str], what: str) -> list[str]:
    for n in given:
        if n not in available:
            sys.exit(f"{n}: no such {what} (have: {', '.join(available) or 'none'})")
    return given or available


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.i18n", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["extract", "update", "generate", "build", "check", "stats", "show", "package"])
    ap.add_argument("names", nargs="*", help="chapters, like 01-namespaces (default: all that apply)")
    ap.add_argument("--lang", default="pt_BR", choices=LANGUAGES)
    ap.add_argument("--drop-obsolete", action="store_true", help="update: delete entries the English no longer has")
    ap.add_argument("--markdown-only", action="store_true",
                    help="build: only prose changed; keep the notebook's outputs, run nothing")
    a = ap.parse_args(argv)
    layout = Layout()
    chapters = layout.chapters()
    lang = a.lang

    if a.command == "package":
        return _package(a.names, lang, a.drop_obsolete)
    if a.command == "extract":
        for n in _names(a.names, chapters, "chapter"):
            changed = catalog.write_template(n, layout)
            print(f"{layout.pot(n)}: {'written' if changed else 'unchanged'}")
    elif a.command == "update":
        if not a.names:
            sys.exit("update: name the chapters (a new one gets a new catalogue): update 02-cgroups")
        for n in _names(a.names, chapters, "chapter"):
            catalog.write_template(n, layout)
            c = catalog.update(n, lang, layout, drop_obsolete=a.drop_obsolete)
            print(f"{layout.po(n, lang)}: " + ", ".join(f"{v} {k}" for k, v in c.items()))
    elif a.command == "generate":
        for n in _names(a.names, layout.translated(lang), f"{lang} catalogue"):
            changed = generate.write(n, lang, layout)
            print(f"{layout.generated(n, lang)}: {'written' if changed else 'unchanged'}")
    elif a.command == "build":
        if not a.names and not a.markdown_only:
            sys.exit("build: name the chapter to run live (one at a time, under the lock); "
                     "--markdown-only without names refreshes every notebook whose prose changed")
        for n in _names(a.names, layout.translated(lang), f"{lang} catalogue"):
            generate.write(n, lang, layout)
            if a.markdown_only:
                with open(layout.generated(n, lang)) as f:
                    if not a.names and os.path.exists(layout.notebook(n, lang)) \
                            and not checks.notebook_fresh(n, lang, layout, f.read()):
                        continue   # already what its source makes
                print(generate.refresh_markdown(n, lang, layout))
            else:
                t = time.monotonic()
                path = generate.build(n, lang)
                print(f"{path}: built live in {time.monotonic() - t:.1f} s")
    elif a.command == "check":
        problems = []
        for n in _names(a.names, layout.translated(lang), f"{lang} catalogue"):
            problems += checks.chapter(n, lang, layout) + checks.literal_guard(n, layout)
            found, stats = checks.msgfmt(layout.po(n, lang))
            problems += found
            print(f"{n}: msgfmt: {stats}")
        for p in problems:
            print(p)
        print(f"{len(problems)} problem(s)")
        return 1 if problems else 0
    elif a.command == "show":
        import json

        for n in _names(a.names, layout.translated(lang), f"{lang} catalogue"):
            with open(layout.notebook(n, lang)) as f:
                nb = json.load(f)
            for i, c in enumerate(nb["cells"]):
                if c["cell_type"] != "code":
                    continue
                lines = [x for x in "".join(c["source"]).splitlines() if x.strip() and not x.startswith("#")]
                print(f"--- cell {i}: {lines[0][:90] if lines else ''}")
                for o in c.get("outputs", []):
                    text = o.get("text") or o.get("data", {}).get("text/plain", "")
                    kinds = ", ".join(k for k in o.get("data", {}) if k != "text/plain")
                    print("".join(text).rstrip() + (f"   [{kinds}]" if kinds else ""))
    elif a.command == "stats":
        print(f"{'chapter':16} {'msgids':>6} {'words':>6}  {lang}")
        total = [0, 0]
        for n in chapters:
            pot = catalog.template(n, layout)
            entries = [m for m in pot if m.id]
            words = sum(len(m.id.split()) for m in entries)
            total[0] += len(entries)
            total[1] += words
            done = ""
            if os.path.exists(layout.po(n, lang)):
                done = ", ".join(f"{v} {k}" for k, v in catalog.counts(catalog.read(layout.po(n, lang))).items())
            print(f"{n:16} {len(entries):6} {words:6}  {done}")
        print(f"{'total':16} {total[0]:6} {total[1]:6}")
    return 0


def _package(args: list[str], lang: str, drop_obsolete: bool) -> int:
    from . import package as pkg

    action = args[0] if args else "check"
    if action == "extract":
        print(f"{pkg.pot_path()}: {'written' if pkg.write_template() else 'unchanged'}")
    elif action == "update":
        pkg.write_template()
        c = pkg.update(lang, drop_obsolete=drop_obsolete)
        print(f"{pkg.po_path(lang)}: " + ", ".join(f"{v} {k}" for k, v in c.items()))
    elif action == "compile":
        print(f"{pkg.mo_path(lang)}: {'written' if pkg.compile_mo(lang) else 'unchanged'}")
    elif action == "part":
        c = pkg.part(args[1], args[2:], lang)
        print(f"{args[1]}: " + ", ".join(f"{v} {k}" for k, v in c.items()))
    elif action == "merge":
        print(f"{pkg.po_path(lang)}: {pkg.merge(lang, args[1:])} entries filled")
    elif action == "stats":
        po = catalog.read(pkg.po_path(lang))
        live = [m for m in po if m.id]
        words = sum(len((m.id if isinstance(m.id, str) else m.id[0]).split()) for m in live)
        print(f"boxkit.po: {len(live)} messages, {words} English words; "
              + ", ".join(f"{v} {k}" for k, v in catalog.counts(po).items()))
        print(f"msgfmt: {checks.msgfmt(pkg.po_path(lang))[1]}")
    elif action == "check":
        problems = pkg.check(lang)
        for p in problems:
            print(p)
        print(f"{len(problems)} problem(s)")
        return 1 if problems else 0
    else:
        sys.exit(f"package {action}: no such action (extract, update, compile, merge, stats, check)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
