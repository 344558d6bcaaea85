"""Prose against output: values written in a notebook's markdown that none of its outputs or code shows.

The course's rule is that prose states only what the run shows: a value that depends on the host (an
address, a count, a size, a kernel version, a PID or an inode) is printed from the measurement, never
written in markdown. Two reviews in a row found about ten places where the words had drifted from the
outputs beside them (a bridge at ``10.213.0.1`` in the prose, ``10.213.1.1`` in every output). This module
finds the mechanical ones in a committed notebook:

* **extract** every number in the markdown with what it is: an IPv4 address or network, a size with its
  unit (``500 MiB``, ``2.4 MB``, ``500M``), a kernel version (``Linux 6.1``, ``6.18.44-fc``), an id or
  digest in hex (a layer's ``sha256:9379295d8b52``, a mask ``0xa80425fb``), a percentage, or a count with
  the words around it (``40 capabilities``, ``PID 4242``, ``15 entries``);
* **drop** the teaching constants in :data:`ALLOWED` (each with its reason: ``PID 1``, ``uid 0``,
  ``65534``, chapter and section numbers, CVE ids, man page sections, the kernel version a feature
  arrived in, ...);
* **look** for each of the rest in the same notebook's outputs and code (code without its comments:
  a comment is prose too). An address must appear as such; a size must equal a size shown there
  (``500 MiB`` = ``500M`` = ``524288000``; ``500 MB`` is not ``500 MiB``), within the rounding of the
  prose's last digit; a count must be a number literal of the code, or appear in an output line
  together with one of the words beside it in the prose.

What it does not catch, on purpose: numbers written as words ("three orphans"); a count equal to any
number literal of the notebook's code (code states the parameters the author chose, so ``pids_limit=20``
covers "20 tasks" — and would also cover a host count that happens to equal a literal); a claim
that is not a number (a state, a name, a list of names). A markdown cell that links another notebook
(00's tables) may point at what that notebook shows.

    python tests/prose_drift.py [notebooks/NN-*.ipynb ...]     # print the findings, one a line
    python tests/prose_drift.py --rev HEAD                       # the notebooks as committed

The unit test is tests/unit/test_prose_drift.py.
"""

from __future__ import annotations

import glob
import html
import io
import json
import os
import re
import sys
import tokenize
from dataclasses import dataclass

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# --- units -------------------------------------------------------------------------------------------

UNITS = {
    "b": 1, "byte": 1, "bytes": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}
# docker's and boxkit's suffixes (``--memory 500M``, ``memory="64m"``) are binary
SUFFIX = {"k": 2**10, "m": 2**20, "g": 2**30}

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
SIZE_RE = re.compile(rf"(?<![\w.])({_NUM})\s?(KiB|MiB|GiB|TiB|kB|KB|MB|GB|TB|bytes|byte|B)(?![\w])")
SUFFIX_RE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)([kKmMgG])(?![\w.])")
IPV4_RE = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?:/(\d{1,2}))?(?![\w]|\.\d)")
PERCENT_RE = re.compile(rf"(?<![\w.])({_NUM})\s?%")
KERNEL_RE = re.compile(r"(?i)\b(?:linux|kernel)\s+(\d+\.\d+(?:\.\d+)?(?:-[\w.-]*\w)?)(\+?)")
VERSION3_RE = re.compile(r"(?<![\w.])(\d+\.\d+\.\d+(?:-[\w.-]*\w)?)(?![\w]|\.\d)")
# an id or a digest (a layer's sha256, a container id, a capability mask): hex with a letter and a digit
HEX_RE = re.compile(r"(?<![\w])(?:sha256:)?(0x[0-9a-fA-F]+|(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{8,})(?![\w])")
NUMBER_RE = re.compile(rf"(?<![\w.\-/:])({_NUM})(?![\w]|\.\d|-\w|/\d|:\d)")
# a keyword or variable named for its unit: step_mb=10, limit_mib = 48
CODE_SIZE_NAME_RE = re.compile(r"\b\w+_(kib|kb|mib|mb|gib|gb)\s*=\s*(\d+(?:\.\d+)?)(?![\w.])", re.I)

# --- the allow-list: numbers that are teaching constants, not measurements --------------------------
# Each entry: (name, patterns matched against the text AROUND a number (the number itself is the named
# group ``n``), the reason). A number is allowed when one pattern matches at its position.
ALLOWED: list[tuple[str, tuple[str, ...], str]] = [
    ("PID 1", (r"(?i)\bPID\s+(?P<n>1)\b",),
     "the first process of a PID namespace is 1 by definition: the point of the lesson, not a measurement"),
    ("uid 0", (r"(?i)\b(?:e?uid|gid)[\s=]*(?P<n>0)\b",),
     "root is uid 0 by definition"),
    ("overflow id", (r"(?P<n>65534)",),
     "the kernel's default overflow uid/gid (nobody), /proc/sys/kernel/overflowuid"),
    ("chapter number", (r"(?i)(?:notebook|chapter)s?\s+(?P<n>\d\d)\b", r"(?<![\w.])(?P<n>\d\d)\s+[—-]\s"),
     "a notebook's number names a chapter"),
    ("part number", (r"(?i)\b(?:part|section|step)\s+(?P<n>\d+)\b", r"§\s*(?P<n>\d+)"),
     "a number that names a section of the same notebook"),
    ("heading number", (r"(?m)^#+\s+(?P<n>\d+)\.\s", r"(?m)^#+\s+\d+\.\s+[^\n]*?,\s+(?P<n>\d+)\.\s"),
     "a section number in a heading"),
    ("list ordinal", (r"(?m)^\s*(?P<n>\d+)[.)]\s",),
     "an ordered list's item number"),
    ("table row number", (r"(?m)^\|\s*(?P<n>\d+)\s*\|",),
     "the index column of a table"),
    ("year", (r"(?i)\b(?:in|since|from|until|of)\s+(?P<n>(?:19|20)\d\d)(?![\d.,])",),
     "a year dates history, it measures nothing"),
    ("kernel feature version", (r"(?P<n>\d+\.\d+)\+",
                                r"(?i)\b(?:since|before|until|from|needs|requires)\s+(?:linux\s+|kernel\s+)?"
                                r"(?P<n>\d+\.\d+)"),
     "the kernel release a feature arrived in (Linux 5.6+, since 5.17, needs Linux 5.19): kernel history, "
     "not this host"),
    ("other software's version", (r"(?i)\b(?:java|python|jdk|runc|podman|docker)\s+(?P<n>\d+(?:\.\d+)*)\+?",
                                  r"(?i)\b(?P<n>\d+u\d+)\b"),
     "the release of another program a behaviour belongs to"),
    ("image version", (r"(?i)\b(?:version|v)\s*(?P<n>\d+\.\d+)\b", r":(?P<n>\d+\.\d+)\b"),
     "an image's version tag (1.0, 2.0) is a name, not a measurement"),
    ("whiteout device", (r"(?P<n>0)/0", r"0/(?P<n>0)"),
     "a whiteout is a character device with device number 0/0: overlayfs's definition"),
    ("standard fds", (r"(?P<n>0)-2", r"0-(?P<n>2)"),
     "file descriptors 0-2 are stdin, stdout and stderr by convention"),
    ("exit status of a signal", (r"(?P<n>128)\s*\+\s*\d+", r"128\s*\+\s*(?P<n>\d+)",
                                 r"(?i)\bexit(?:\s+code|\s+status)?\s+(?P<n>137|143)\b"),
     "a shell reports death by signal N as 128 + N (SIGKILL 9: 137, SIGTERM 15: 143): a convention"),
    ("arithmetic in the prose", (r"=\s*(?P<n>\d[\d,.]*)",),
     "the result of arithmetic the sentence shows (1,500 × 32 KiB = 47 MiB); its operands are checked"),
    ("loopback", (r"(?P<n>127)/8", r"(?P<n>127\.0\.0\.1)", r"(?P<n>0\.0\.0\.0)"),
     "the loopback network and the any-address are fixed by RFC 1122/5735, not by this host"),
    ("kernel ABI size", (r"(?i)struct\s+\w+`?\s+(?:of|is|takes)\s+(?P<n>\d+)\s*bytes",),
     "the size of a kernel structure is fixed by the ABI (a sock_filter instruction is 8 bytes)"),
    ("cfs period", (r"(?P<n>100)\s*ms\s+\*?period",),
     "CFS's default period is 100 ms (cpu.cfs_period_us 100000): the unit quotas are written in"),
]

# Stripped before extraction, with the reason: they hold digits that are names, not values.
STRIPPED: list[tuple[str, str]] = [
    (r"\]\([^)]*\)", "a link's target (file names such as 02-cgroups.ipynb)"),
    (r"<[^>]+>", "an HTML tag's attributes"),
    (r"https?://\S+", "a URL (its path, port and query)"),
    (r"(?i)\bCVE-\d{4}-\d+", "a CVE id names a vulnerability"),
    (r"(?i)\bRFC\s?\d+", "an RFC number names a document"),
    (r"(?i)\bman\s+\d\w?\s+[\w.-]+", "a man page section (man 2 seccomp)"),
    (r"\b[\w.-]+\(\d\w?\)", "a man page section (capabilities(7))"),
    (r"\*\"[^\"]*\"\*|\*“[^”]*”\*", "a quotation of the seed: what it says, not what the run measured"),
]

STOPWORDS = set("""a an the of to in on at by for from with and or but not no is are was were be been it its
this that these those as so than then there here each every any all one two three per into out up down
over under about after before between while when where which who what how why only also still just
same other both more most less few many much can may might must will would should could does did do
has have had inside outside host""".split())


@dataclass(frozen=True)
class Claim:
    """One value written in a markdown cell."""
    kind: str        # address, size, kernel (a version), id (hex), percent, count
    text: str        # as written ("10.213.0.1", "500 MiB", "40")
    value: float | str
    cell: int
    context: str     # the words around it, for the report
    words: tuple[str, ...] = ()   # content words near it (counts and percentages)
    tolerance: float = 0.0        # sizes: half a unit of the last written digit, in bytes


@dataclass(frozen=True)
class Finding:
    notebook: str
    cell: int
    kind: str
    text: str
    context: str

    def __str__(self) -> str:
        return f"{self.notebook} c{self.cell} {self.kind} {self.text!r}: …{self.context}…"


# --- reading a notebook ------------------------------------------------------------------------------

def _src(cell: dict) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def _output_text(cell: dict) -> str:
    parts = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            t = o.get("text", "")
            parts.append("".join(t) if isinstance(t, list) else t)
        elif o.get("output_type") == "error":
            parts.append(o.get("ename", "") + ": " + o.get("evalue", ""))
        for mime, v in o.get("data", {}).items():
            if mime in ("text/plain", "text/markdown", "text/html", "text/latex"):
                t = "".join(v) if isinstance(v, list) else v
                if mime == "text/html":
                    t = html.unescape(re.sub(r"<[^>]+>", " ", t))
                parts.append(t)
    return "\n".join(parts)


def _code_without_comments(src: str) -> str:
    """The code a learner runs, its comments blanked out (a comment is prose too). IPython's ``!cmd``
    and ``%magic`` lines are not Python: there a ``#`` starts a comment as in a shell."""
    rows = src.splitlines()
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(src + "\n").readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return re.sub(r"(?m)(^|\s)#.*$", "", src)
    for tok in reversed(toks):
        if tok.type == tokenize.COMMENT and tok.start[0] == tok.end[0]:
            r, a, b = tok.start[0] - 1, tok.start[1], tok.end[1]
            rows[r] = rows[r][:a] + " " * (b - a) + rows[r][b:]
    return "\n".join(rows)


# --- extraction --------------------------------------------------------------------------------------

def _to_float(s: str) -> float:
    return float(s.replace(",", ""))


def _digits_tolerance(num: str) -> float:
    """Half a unit of the last written digit: '47' -> 0.5, '2.4' -> 0.05."""
    num = num.replace(",", "")
    return 0.5 * 10 ** -(len(num.split(".")[1]) if "." in num else 0)


def _words_near(text: str, start: int, end: int, n: int = 3) -> tuple[str, ...]:
    """Up to ``n`` content words on each side of ``text[start:end]``, within its sentence."""
    left = re.split(r"[.;:!?|\n]\s", text[:start])[-1]
    right = re.split(r"[.;:!?|\n]\s", text[end:])[0]
    def words(s):
        return [w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z_]+", s)
                if w.lower() not in STOPWORDS and len(w) >= 3]
    return tuple(words(left)[-n:] + words(right)[:n])


def _stem(w: str) -> str:
    w = w.lower()
    for suf in ("ies", "es", "s", "ing", "ed"):
        if w.endswith(suf) and len(w) - len(suf) >= 4:
            w = w[: -len(suf)]
            break
    return w[:6]


def _allowed(text: str, start: int, end: int) -> str | None:
    """The name of the allow-list entry that covers the number at text[start:end], if any."""
    for name, patterns, _reason in ALLOWED:
        for pattern in patterns:
            for m in re.finditer(pattern, text):
                if m.start("n") <= start and end <= m.end("n"):
                    return name
    return None


def _strip(text: str) -> str:
    """Blank out what :data:`STRIPPED` lists, keeping every other character at its place."""
    for pattern, _reason in STRIPPED:
        text = re.sub(pattern, lambda m: " " * len(m.group(0)), text)
    return text


def extract(markdown: str, cell: int = 0) -> list[Claim]:
    """Every value in one markdown cell's text that a run could contradict."""
    text = _strip(markdown)
    claims: list[Claim] = []
    taken: list[tuple[int, int]] = []

    def free(s: int, e: int) -> bool:
        return all(e <= a or s >= b for a, b in taken)

    def ctx(s: int, e: int) -> str:
        return re.sub(r"\s+", " ", markdown[max(0, s - 40):e + 40]).strip()

    def add(kind, s, e, shown, value, **kw):
        taken.append((s, e))
        if _allowed(text, s, e) is None:
            claims.append(Claim(kind, shown, value, cell, ctx(s, e), **kw))

    for m in IPV4_RE.finditer(text):
        if all(0 <= int(p) <= 255 for p in m.group(1).split(".")):
            add("address", m.start(1), m.end(1), m.group(0), m.group(1))
        taken.append((m.start(), m.end()))
    for m in KERNEL_RE.finditer(text):
        if free(m.start(1), m.end(1)):
            add("kernel", m.start(1), m.end(1), m.group(1), m.group(1))
    for m in VERSION3_RE.finditer(text):
        if free(m.start(1), m.end(1)):
            add("kernel", m.start(1), m.end(1), m.group(1), m.group(1))
    for m in HEX_RE.finditer(text):
        if free(m.start(1), m.end(1)):
            add("id", m.start(1), m.end(1), m.group(0), m.group(1).lower())
    for m in SIZE_RE.finditer(text):
        if free(m.start(1), m.end(1)):
            unit = UNITS[m.group(2).lower()]
            add("size", m.start(1), m.end(1), m.group(0), _to_float(m.group(1)) * unit,
                tolerance=_digits_tolerance(m.group(1)) * unit)
    for m in SUFFIX_RE.finditer(text):
        if free(m.start(1), m.end(1)):
            unit = SUFFIX[m.group(2).lower()]
            add("size", m.start(1), m.end(1), m.group(0), _to_float(m.group(1)) * unit,
                tolerance=_digits_tolerance(m.group(1)) * unit)
    for m in PERCENT_RE.finditer(text):
        if free(m.start(1), m.end(1)):
            add("percent", m.start(1), m.end(1), m.group(0), _to_float(m.group(1)),
                words=_words_near(text, m.start(), m.end()), tolerance=_digits_tolerance(m.group(1)))
    for m in NUMBER_RE.finditer(text):
        if free(m.start(1), m.end(1)):
            n = m.group(1)
            value = int(n, 8) if re.fullmatch(r"0[0-7]{3,4}", n) else _to_float(n)   # a mode: 0700
            add("count", m.start(1), m.end(1), n, value, words=_words_near(text, m.start(), m.end()))
    return sorted(claims, key=lambda c: markdown.find(c.text))


# --- evidence ----------------------------------------------------------------------------------------

@dataclass
class Evidence:
    """What a notebook's outputs and code show."""
    output: str
    code: str

    def __post_init__(self):
        both = self.output + "\n" + self.code
        self.addresses = {m.group(1) for m in IPV4_RE.finditer(both)}
        self.sizes: list[float] = []
        for m in SIZE_RE.finditer(both):
            self.sizes.append(_to_float(m.group(1)) * UNITS[m.group(2).lower()])
        for m in SUFFIX_RE.finditer(both):
            self.sizes.append(_to_float(m.group(1)) * SUFFIX[m.group(2).lower()])
        for m in CODE_SIZE_NAME_RE.finditer(self.code):   # step_mb=10: a size, in either MB or MiB
            unit = m.group(1).lower()
            n = _to_float(m.group(2))
            self.sizes += [n * UNITS[unit], n * UNITS[unit.replace("i", "")[0] + "ib"]]
        # a bare integer in an output may be a byte count (memory.max 524288000)
        self.sizes += [_to_float(n) for n in re.findall(r"(?<![\w.])\d{4,}(?![\w.])", self.output)]
        self.code_numbers = {_to_float(n) for n in re.findall(rf"(?<![\w.])({_NUM})(?![\w])",
                                                              re.sub(r"(?<=\d)_(?=\d)", "", self.code))}
        self.code_numbers |= {int(n, 8) for n in re.findall(r"(?<![\w.])0o([0-7]+)\b", self.code)}
        self.output_lines = [ln for ln in self.output.splitlines() if re.search(r"\d", ln)]

    def shows(self, c: Claim) -> bool:
        if c.kind == "address":
            return c.value in self.addresses
        if c.kind == "kernel":
            return re.search(rf"(?<![\w.]){re.escape(c.value)}(?![\d])", self.output + "\n" + self.code) \
                is not None
        if c.kind == "id":   # a short id is the start of the full one
            return re.search(rf"(?<![0-9a-f]){re.escape(c.value)}", (self.output + "\n" + self.code).lower()) \
                is not None
        if c.kind == "size":
            return any(abs(s - c.value) <= c.tolerance + 1e-9 for s in self.sizes)
        # counts and percentages: a literal of the code, or in an output line beside one of its words
        if c.kind == "count" and c.value in self.code_numbers:
            return True
        stems = {_stem(w) for w in c.words}
        for line in self.output_lines:
            low = line.lower()
            nums = [_to_float(n) for n in re.findall(_NUM, line)]
            close = any(abs(n - c.value) <= c.tolerance + 1e-9 for n in nums)
            if close and (not stems or any(s in low for s in stems)):
                return True
        return False


LINK_RE = re.compile(r"\]\((\d\d-[\w-]+\.ipynb)")


def evidence_of(nb: dict) -> Evidence:
    cells = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    return Evidence(output="\n".join(_output_text(c) for c in cells),
                    code="\n".join(_code_without_comments(_src(c)) for c in cells))


def check_notebook(nb: dict, name: str = "notebook", linked: dict[str, Evidence] | None = None) -> list[Finding]:
    """Every claim of the notebook's markdown that its outputs and code do not show. A markdown cell that
    links another notebook (00's table of chapters) may also point at what that notebook shows:
    ``linked`` maps a notebook's file name to its evidence."""
    ev = evidence_of(nb)
    out = []
    for i, c in enumerate(nb.get("cells", [])):
        if c.get("cell_type") != "markdown":
            continue
        src = _src(c)
        others = [linked[f] for f in dict.fromkeys(LINK_RE.findall(src)) if linked and f in linked]
        for claim in extract(src, i):
            if not any(e.shows(claim) for e in [ev, *others]):
                out.append(Finding(name, i, claim.kind, claim.text, claim.context))
    return out


def check_course(paths: list[str]) -> list[Finding]:
    """check_notebook over several notebooks, each able to point at those it links."""
    nbs = {}
    for p in paths:
        with open(p) as f:
            nbs[os.path.basename(p)] = json.load(f)
    linked = {name: evidence_of(nb) for name, nb in nbs.items()}
    return [f for name, nb in nbs.items() for f in check_notebook(nb, name, linked)]


def course_notebooks() -> list[str]:
    return sorted(glob.glob(os.path.join(REPO, "notebooks", "[0-9][0-9]-*.ipynb")))


def _at_revision(rev: str, directory: str) -> list[str]:
    """The course notebooks as ``rev`` holds them, written to ``directory``."""
    import subprocess

    names = subprocess.run(["git", "-C", REPO, "ls-tree", "--name-only", rev, "notebooks/"],
                           capture_output=True, text=True, check=True).stdout.split()
    paths = []
    for rel in names:
        if re.fullmatch(r"notebooks/\d\d-[\w-]+\.ipynb", rel):
            path = os.path.join(directory, os.path.basename(rel))
            with open(path, "wb") as f:
                f.write(subprocess.run(["git", "-C", REPO, "show", f"{rev}:{rel}"], capture_output=True,
                                       check=True).stdout)
            paths.append(path)
    return paths


def main(argv: list[str]) -> int:
    import tempfile

    if argv[:1] == ["--rev"]:
        with tempfile.TemporaryDirectory() as d:
            return main(_at_revision(argv[1], d))
    paths = argv or course_notebooks()
    findings = check_course(paths)
    for finding in findings:
        print(finding)
    print(f"{len(findings)} findings in {len(paths)} notebooks", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
