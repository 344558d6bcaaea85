"""The namespace explorer: the probe's output parsed, the ticked set passed to the run, the table drawn."""

from __future__ import annotations

import pytest

from boxkit.viz import explorer

OUT = """== ps
PID   COMMAND
    1 sh
    7 ps
== hostname
explorer
== ip link
1: lo: <LOOPBACK> mtu 65536 qdisc noop state DOWN
2: eth0@if9: <BROADCAST> mtu 1500
== mounts
100 99 0:50 / / rw - overlay overlay rw
101 100 0:51 / /proc rw - proc proc rw
"""


def test_summarize_reads_each_section():
    s = explorer.summarize(OUT)
    assert s == {"processes": 2, "pid1": "sh", "hostname": "explorer", "links": ["lo", "eth0"], "mounts": 2}
    assert explorer.summarize("")["processes"] is None


class FakeResult:
    exit_code = 0
    stdout = OUT


def test_the_ticked_namespaces_are_what_the_container_gets():
    pytest.importorskip("ipywidgets")
    calls = []

    def run(image, argv, **kw):
        calls.append(kw)
        return FakeResult()

    panel = explorer.namespace_explorer(run=run)
    panel.boxes["pid"].value = False
    panel.boxes["uts"].value = False
    panel.run()
    assert calls[-1]["namespaces"] == ("mount", "net", "ipc", "cgroup") and calls[-1]["hostname"] is None
    assert "<code>pid</code> ✘ shared" in panel.result.value and "<code>net</code> ✔ own" in panel.result.value
    assert "2 (sh)" in panel.result.value   # the container's answer is in the table
    assert calls[-1]["network"] == "none"
    panel.boxes["net"].value = False
    panel.run()
    assert "net" not in calls[-1]["namespaces"] and calls[-1]["network"] == "host"   # else run adds net


def test_a_failing_run_is_shown_in_the_panel():
    pytest.importorskip("ipywidgets")

    def run(image, argv, **kw):
        raise OSError(13, "denied")

    panel = explorer.namespace_explorer(run=run)
    panel.run()
    assert "PermissionError" in panel.result.value


def test_host_links_are_named_by_kind():
    from boxkit.viz.explorer import kinds_html

    page = kinds_html({"lo": "loopback", "eth0": "card", "ifb0": "ifb", "ifb1": "ifb", "cni-podman0": "bridge",
                       "odd0": "macsec"})
    assert "<code>ifb0, ifb1</code>: ifb, a virtual device for shaping incoming traffic" in page
    assert "<code>cni-podman0</code>: bridge, a virtual switch" in page
    assert "<code>eth0</code>: card, a network card" in page
    assert "<code>odd0</code>: macsec, a virtual device of this kind" in page
