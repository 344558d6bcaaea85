"""The host check and the course's modes in Brazilian Portuguese and in English: the banner every
chapter opens with, what a mode means for the cells below, the RECORDED badge, what a replayed cell
says when it has no recording, the idmap shortfall, and the probe's table (``plain_rows``,
``plain_text``, ``plain_html``, ``text`` for ``boxkit probe``) come out whole in pt_BR (no English
sentence left, every field filled) and unchanged in English. The probe report is assembled from
made-up trials and a fake ``/proc`` in a temp dir (pure). Needs the compiled catalogue
(``python -m tools.i18n package compile``)."""

from __future__ import annotations

import re

import pytest

from boxkit import course, i18n
from boxkit import probe as P
from boxkit.probe_host import Said, mode_word, say

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
"""
# the trials' details are their own message ids (boxkit.probe_trials marks them)
WORKS = {"ns.mount": "unshare(CLONE_NEWNS) and making / private work",
         "ns.uts": "unshare(CLONE_NEWUTS) and sethostname work",
         "ns.ipc": "unshare(CLONE_NEWIPC) works",
         "ns.pid": "a child forked after unshare(CLONE_NEWPID) is PID 1",
         "ns.net": "unshare(CLONE_NEWNET) works and lo comes up",
         "ns.user": "unshare(CLONE_NEWUSER) works",
         "ns.cgroup": "unshare(CLONE_NEWCGROUP) works",
         "ns.time": "unshare(CLONE_NEWTIME) works",
         "overlay": "mounted an overlay on a private tmpfs: a new file went to upperdir and a deleted lower "
                    "file became a whiteout (char device 0/0)",
         "pivot_root": "pivot_root into a fresh tmpfs and detaching the old root work",
         "userns.unprivileged": "uid 65534 (nobody) created a user namespace and became root inside",
         "overlay.userns": "uid 65534 (nobody) created a user namespace and became root inside",
         "veth": "created a veth pair in a private network namespace"}
ALL_OK = {k: {"ok": True, "errno": None, "detail": v} for k, v in WORKS.items()}
ALL_OK["seccomp"] = {"ok": True, "errno": None, "detail": "libseccomp compiled ...",
                     "said": ["libseccomp compiled the default profile into {instructions} BPF instructions "
                              "({size} bytes); loaded, it refused unshare(CLONE_NEWUSER) with EPERM",
                              {"instructions": 974, "size": 7792}]}
# a learner's laptop without user namespaces for overlay, and a kernel too old for time namespaces
NOT_ROOT = {k: {"ok": True, "errno": None, "detail": v} for k, v in WORKS.items() if k.startswith("ns.")}
NOT_ROOT["ns.time"] = {"ok": False, "errno": 22, "detail": "invalid argument"}
NOT_ROOT["ns.net"] = {"ok": False, "errno": 1, "detail": "a veth pair to the host needs root"}
NOT_ROOT["userns.net"] = {"ok": True, "errno": None, "detail": "unshare(CLONE_NEWNET) works and lo comes up"}
NOT_ROOT["overlay"] = {"ok": False, "errno": 1, "detail": "a veth pair to the host needs root"}
NOT_ROOT["pivot_root"] = {"ok": True, "errno": None, "detail": WORKS["pivot_root"]}
NOT_ROOT["userns.unprivileged"] = {"ok": True, "errno": None, "detail": WORKS["ns.user"]}

# words of the English sentences that must not survive in a Portuguese one (the status identifiers
# ok/missing/info, the kernel's and the programs' names and the fields are left out of what is checked)
ENGLISH = re.compile(r"\b(the|and|with|cannot|without|every|replays?|runs?|gets?|made|demos?|"
                     r"containers?|RECORDED|LIVE|ROOTLESS|yes|how|so|failed|works|answer|inside|not root)\b")


@pytest.fixture
def pt():
    assert i18n.set_language("pt_BR") == "pt_BR"
    yield
    i18n.set_language("en")


def english_left(text: str) -> list[str]:
    # what the text quotes of a program or a file (paths, $variables, code) is not prose
    prose = re.sub(r"(\S*/\S*|\$\w+|'[^']*'|--\S+|# boxkit: needs \.\.\.|\w+\(\w*\)|\bnone\b)", " ", text)
    return ENGLISH.findall(prose)


def fake_root(tmp_path, *, sysctl="63000", docker=False) -> str:
    def put(rel, text):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)

    put("proc/self/status", "Name:\tpython3\nCapEff:\t000001ffffffffff\nSeccomp:\t0\n")
    put("proc/self/mountinfo", HYBRID)
    put("proc/sys/user/max_user_namespaces", f"{sysctl}\n")
    if docker:
        put(".dockerenv", "")
        put("proc/1/cgroup", "0::/docker/abc\n")
    return str(tmp_path)


def report(tmp_path, trials=None, *, euid=0, cgroup=None, **kw) -> P.HostReport:
    if cgroup is None:
        cgroup = (["cpu", "memory"], True, Said("created and removed a group in the {hierarchies} hierarchies",
                                                {"hierarchies": "memory, cpu"}))
    return P.assemble(ALL_OK if trials is None else trials, root_dir=fake_root(tmp_path, **kw), euid=euid,
                      release="6.1.0-18-amd64", busybox="/bin/busybox" if euid == 0 else None, cgroup=cgroup)


class Host:
    """What :func:`boxkit.course.decide` and :func:`boxkit.course.banner` ask of a probe report."""

    def __init__(self, *, root: bool, rootless: bool = False, topics: tuple[str, ...] = ()):
        self.root, self.rootless, self.topics = root, rootless, set(topics)
        self.cgroup_mode, self.kernel, self.euid, self.checks = "hybrid", "6.1.0-18-amd64", 0 if root else 1000, []

    def live_for(self, topic: str) -> bool:
        return topic in self.topics


FULL = Host(root=True, topics=("containers", "cgroups", "network"))
LAPTOP = Host(root=False, rootless=True, topics=("namespaces",))
BINDER = Host(root=False)
META = {"cells": {}, "meta": {"kernel": "6.18.44", "date": "2026-12-07"}}


# --- the banner and what the mode means -----------------------------------------------------------------

def test_banner_and_modes_in_english_are_unchanged(monkeypatch):
    monkeypatch.setitem(course._state, "recording", META)
    live = course.decide(FULL, "containers")
    assert course.banner(FULL, live) == "LIVE: linux 6.1.0-18-amd64, cgroup hybrid, root"
    assert course.mode_says(live) == "the cells below start real containers on this kernel."
    lap = course.decide(LAPTOP, "containers")
    assert course.banner(LAPTOP, lap) == "ROOTLESS: linux 6.1.0-18-amd64, cgroup hybrid, not root (uid 1000)"
    assert course.mode_says(lap) == (
        "this notebook runs without root; containers start in a user namespace of your own, and cells that "
        "need root or cgroups or network or cgroup v2 replay a recording. Those cells carry a # boxkit: needs "
        "... line; they replay a real run recorded on linux 6.18.44 (2026-12-07) and carry a RECORDED badge. "
        "Every other cell runs live.")
    rec = course.decide(BINDER, "containers")
    assert course.mode_says(rec) == (
        "boxkit needs root to start containers, and this notebook runs without it. The cells below replay a "
        "real run recorded on linux 6.18.44 (2026-12-07); each output carries a RECORDED badge.")
    assert str(rec.reason) == "boxkit needs root to start containers, and this notebook runs without it"


def test_banner_and_modes_in_portuguese(pt, monkeypatch):
    monkeypatch.setitem(course._state, "recording", META)
    live = course.decide(FULL, "containers")
    assert course.banner(FULL, live) == "AO VIVO: linux 6.1.0-18-amd64, cgroup hybrid, root"
    assert course.mode_says(live) == "as células abaixo iniciam contêineres de verdade neste kernel."
    lap = course.decide(LAPTOP, "containers")
    assert course.banner(LAPTOP, lap) == "SEM ROOT: linux 6.1.0-18-amd64, cgroup hybrid, sem root (uid 1000)"
    says = course.mode_says(lap)
    assert says.startswith("este notebook roda sem root; ")
    assert "root ou cgroups ou network ou cgroup v2" in says          # the directive's names stay
    assert "linux 6.18.44 (2026-12-07)" in says and "GRAVADO" in says and "# boxkit: needs ..." in says
    rec = course.mode_says(course.decide(BINDER, "containers"))
    assert rec.startswith("o boxkit precisa de root") and "linux 6.18.44 (2026-12-07)" in rec
    for text in (says, rec):
        assert not english_left(text), english_left(text)
        assert "{" not in text


def test_the_host_check_a_chapter_shows_in_portuguese(pt, monkeypatch):
    import IPython.display

    monkeypatch.setitem(course._state, "recording", META)
    got = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: got.append(obj))

    class Shown(Host):
        def plain_html(self, banner: bool = True) -> str:
            return "<table></table>"

    course._show(Shown(root=True), course.Mode("recorded", Said("boxkit needs root to start containers, and "
                                                                "this notebook runs without it"), frozenset()),
                 False)
    text, page = got[0]["text/plain"], got[0]["text/html"]
    assert text.startswith("GRAVADO: linux 6.1.0-18-amd64, cgroup hybrid, root: o boxkit precisa de root")
    assert "<b style='color:#cf222e'>GRAVADO</b>: linux 6.1.0-18-amd64" in page
    assert "a verificação do host, linha por linha (o notebook 00 explica)" in page


# --- the RECORDED badge and a replayed cell ---------------------------------------------------------------

def test_the_badge_reads_in_the_current_language(pt, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setitem(course._state, "badges", {})
    assert course._badge().startswith(b"\x89PNG")
    assert mode_word("recorded") == "GRAVADO" and list(course._state["badges"]) == ["GRAVADO"]
    i18n.set_language("en")
    course._badge()
    assert list(course._state["badges"]) == ["GRAVADO", "RECORDED"]


def test_a_cell_without_a_recording_explains_itself_in_portuguese(pt, monkeypatch, capsys):
    monkeypatch.setitem(course._state, "recording", META)
    monkeypatch.setitem(course._state, "reason", course.decide(BINDER, "containers").reason)
    course.replay("nokey", "cgroups, network")
    course.replay("nokey", "")
    first, second = capsys.readouterr().out.splitlines()
    assert first == ("Esta célula não está na gravação (ela foi editada?), e não pode rodar ao vivo aqui: ela "
                     "precisa de cgroups, network, que este host não oferece. Rode o curso num host onde "
                     "boxkit.probe() diga ao vivo (veja o README).")
    assert "aqui: o boxkit precisa de root para iniciar contêineres, e este notebook roda sem root. " in second


def test_a_cell_without_a_recording_in_english_is_unchanged(monkeypatch, capsys):
    monkeypatch.setitem(course._state, "recording", META)
    course.replay("nokey", "cgroups")
    assert capsys.readouterr().out == (
        "This cell is not in the recording (was it edited?), and it cannot run live here: it needs cgroups, "
        "which this host does not give. Run the course on a host where boxkit.probe() says live (see README).\n")


def test_the_idmap_shortfall(pt):
    says = course.idmap_shortfall("0 0 65536\n", "0 0 4294967295\n")
    assert says.startswith("O kernel deste notebook roda num namespace de usuário que mapeia só 65536 ids de "
                           "usuário, e não os ids de 100000 a 165535")
    assert "uid 100000" in says and not english_left(says)
    assert "65536 ids de grupo" in course.idmap_shortfall("0 0 4294967295\n", "0 0 65536\n")
    i18n.set_language("en")
    assert course.idmap_shortfall("0 0 65536\n", "0 0 4294967295\n").startswith(
        "This notebook's kernel runs in a user namespace that maps only 65536 user ids, and not the ids from "
        "100000 to 165535 that the user-namespace demo maps a container onto, so the demo's cells below")


# --- the probe's table -------------------------------------------------------------------------------------

def test_the_probe_table_in_english_is_unchanged(tmp_path):
    r = report(tmp_path)
    assert r.banner() == "LIVE: linux 6.1.0-18-amd64, cgroup hybrid, root"
    assert r.plain_text().startswith(
        "  run containers: yes\n"
        "      how: it read the user id this notebook runs as, and whether that user may make mounts and "
        "namespaces (CAP_SYS_ADMIN).\n"
        "      so: containers, cgroups and networks can run live\n")
    assert r.text().splitlines()[:2] == ["boxkit probe: mode LIVE — every demo runs live on this host",
                                         "kernel 6.1.0-18-amd64, cgroup hybrid, root"]
    assert "libseccomp compiled the default profile into 974 BPF instructions (7792 bytes)" in r.text()
    page = r.plain_html()
    assert "<th style='text-align:left'>can this host …</th>" in page and "✔ yes" in page


def test_the_probe_table_in_portuguese(pt, tmp_path):
    r = report(tmp_path, docker=True)
    rows = r.plain_rows()
    assert rows[0][:3] == ("rodar contêineres", "ok", "sim")   # the status stays an identifier
    for label, status, answer, how, means in rows:
        assert status in ("ok", "missing", "info")
        for text in (label, how, means) + ((answer,) if status != "info" else ()):
            assert text and "{" not in text and not english_left(text), (text, english_left(text))
    cgroup_mode = next(row for c, row in zip(r.checks, rows, strict=True) if c.key == "cgroup.mode")
    assert cgroup_mode[2] == "hybrid" and "Um host híbrido tem as árvores do v1" in cgroup_mode[3]
    container = next(row for c, row in zip(r.checks, rows, strict=True) if c.key == "container")
    assert container[2] == "sim"
    assert container[3].endswith(" Ele encontrou: /.dockerenv existe (docker); /proc/1/cgroup cita docker.")
    text = r.plain_text()
    assert text.startswith("  rodar contêineres: sim\n      como: ele leu o id de usuário")
    assert "\n      então: contêineres, cgroups e redes podem rodar ao vivo\n" in text
    page = r.plain_html()
    for head in ("este host consegue …", "resposta", "como o boxkit descobriu", "o que isso significa para o curso"):
        assert f"<th style='text-align:left'>{head}</th>" in page
    assert "✔ sim" in page and "<b style='color:#1a7f37'>AO VIVO</b>: linux 6.1.0-18-amd64" in page
    assert r.banner() == "AO VIVO: linux 6.1.0-18-amd64, cgroup hybrid, root"


def test_boxkit_probe_text_in_portuguese_keeps_its_status_words(pt, tmp_path):
    r = report(tmp_path, docker=True)
    lines = r.text().splitlines()
    assert lines[0] == "boxkit probe: modo AO VIVO — todas as demonstrações rodam ao vivo neste host"
    assert lines[1] == "kernel 6.1.0-18-amd64, cgroup hybrid, root, dentro de um contêiner"
    rows = lines[3:]
    assert [row.split()[0] for row in rows[::2]] == [c.status for c in r.checks]
    assert any("namespace mount" in row and "unshare(CLONE_NEWNS) e tornar / privado funcionam" in row
               for row in rows)
    assert any("a libseccomp compilou o perfil padrão em 974 instruções BPF (7792 bytes)" in row for row in rows)
    assert any("sim: /.dockerenv existe (docker); /proc/1/cgroup cita docker" in row for row in rows)
    for row in rows:
        assert "{" not in row
    # the report itself (boxkit probe --json, the tests) stays English
    assert r.check("root").why == "running as root (euid 0) with CAP_SYS_ADMIN"
    assert '"why": "running as root (euid 0) with CAP_SYS_ADMIN"' in r.to_json()


def test_what_a_learner_without_root_reads(pt, tmp_path):
    r = report(tmp_path, NOT_ROOT, euid=1000, cgroup=(["memory"], False, Said(
        "{failure} (not root)", {"failure": Said("mkdir {path}: {error}", {"path": "/sys/fs/cgroup/memory/x",
                                                                           "error": "permission denied"},
                                                 ("error",))})))
    said = {c.key: (say(c.name), say(c.why), say(c.means)) for c in r.checks}
    assert said["root"] == ("root", "rodando como uid 1000, não como root",
                            "só roda ao vivo o que os namespaces de usuário permitem; o resto reproduz "
                            "execuções GRAVADAS")
    assert said["ns.net"] == ("namespace net", "funciona só dentro de um namespace de usuário: unshare(CLONE_NEWNET) "
                              "funciona e lo fica ativa", "os contêineres começam com uma rede vazia (só loopback) "
                              "e, como root, ganham cabos e switches virtuais (pares veth e bridges) (rootless)")
    assert said["ns.time"][1].startswith("unshare falhou: ")
    assert said["ns.time"][2] == "as demonstrações do namespace time reproduzem execuções GRAVADAS"
    assert said["overlay"][:2] == ("overlayfs (num namespace de usuário)",
                                   "não foi possível montar o overlay: um par veth até o host precisa de root")
    assert said["rootless"][1] == "não é possível rodar contêineres sem root: sem overlayfs num namespace de usuário"
    assert said["cgroup.create"][1].startswith("mkdir /sys/fs/cgroup/memory/x: ")
    assert said["cgroup.create"][1].endswith(" (sem root)")
    assert said["busybox"][1] == "nenhum busybox estático encontrado"
    for name, _why_said, means in said.values():
        for text in (name, means):
            assert "{" not in text and not english_left(text), (text, english_left(text))
    missing = [row for row in r.plain_rows() if row[1] == "missing"]
    assert missing and all(" O kernel respondeu: " in how for _l, _s, _a, how, _m in missing)
    i18n.set_language("en")
    assert r.check("rootless").why == "cannot run containers without root: no overlayfs in a user namespace"
    assert str(r.check("ns.net").means).endswith("(veth pairs and bridges) (rootless)")
