"""The topology figure, fed a made-up netlink snapshot and port map: the DNAT is drawn where it goes."""

from __future__ import annotations

import matplotlib

from boxkit.viz.topology import topology_figure

matplotlib.use("Agg")


def _if(index, name, addrs, kind="veth", master=None):
    return {"index": index, "name": name, "addresses": addrs, "up": True, "kind": kind, "master": master}


SNAP = {
    "namespaces": [
        {"label": "host", "pid": None, "inode": 4026531833,
         "ifaces": [_if(5, "bk0", ["10.213.0.1/24"], kind="bridge"), _if(7, "bkvaaa", [], master=5),
                    _if(9, "bkvbbb", [], master=5)]},
        {"label": "web", "pid": 100, "inode": 4026532001, "ifaces": [_if(2, "eth0", ["10.213.0.2/24"])]},
        {"label": "client", "pid": 200, "inode": 4026532002, "ifaces": [_if(2, "eth0", ["10.213.0.3/24"])]},
    ],
    "cables": [(None, 7, "web", 2), (None, 9, "client", 2)],
}
RULE = "fib daddr type local dnat ip to meta l4proto . th dport map @ports"


def _arrows(fig):
    return {a.get_gid(): a for a in fig.axes[0].texts if isinstance(a, matplotlib.text.Annotation) and a.get_gid()}


def test_published_port_is_an_arrow_to_the_container_that_holds_the_address():
    fig = topology_figure(SNAP, ports={("tcp", 18080): ("10.213.0.2", 80)}, rule=RULE)
    texts = {t.get_gid(): t.get_text() for t in fig.axes[0].texts if t.get_gid()}
    assert texts["port:tcp:18080"].startswith("host :18080/tcp  DNAT → 10.213.0.2:80")
    assert RULE in texts["dnat-rule"]
    arrows = _arrows(fig)
    assert set(arrows) == {"dnat:18080:web"}
    web_x = next(t.get_position()[0] for t in fig.axes[0].texts if t.get_text() == "web")
    assert abs(arrows["dnat:18080:web"].xy[0] - web_x) < 1.0          # it lands on web, not on client


def test_no_ports_no_dnat_and_an_unknown_address_is_said():
    assert not _arrows(topology_figure(SNAP))
    fig = topology_figure(SNAP, ports={("tcp", 8080): ("10.213.9.9", 80)})
    assert not _arrows(fig)
    assert any("(no such container)" in t.get_text() for t in fig.axes[0].texts)
