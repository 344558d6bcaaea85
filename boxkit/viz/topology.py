"""The network pictures: the topology (host, bridges, namespaces, cables) and the measured round trips.

Drawn from :func:`boxkit.net.topology.snapshot`, i.e. from what the kernel reports over netlink at
the moment of the call: a bridge is a bar in the host's namespace, each veth pair is a line from a
bridge port (the host end, ``bkv...``) down to ``eth0`` in a container's box, and every interface
carries its addresses and state. A namespace with no cable (``network="none"``) is a box holding only
``lo``: the picture shows isolation as the absence of a line. A published port is a dashed arrow from
the host's port to the container it is rewritten to (DNAT: no process listens on the host's port; a
nat hook changes the packet's destination, before routing for a packet from elsewhere, in the output
hook for the host's own, which is then routed again), with the nftables rule that does it.
"""

from __future__ import annotations

import statistics

from ..i18n import _
from . import badge, new_figure

HOST_FC, NS_FC, BR_FC, PORT_FC = "#eef2f6", "#fff7e6", "#4c78a8", "#dbe8f5"


def _iface_line(i: dict) -> str:
    state = "up" if i["up"] else "DOWN"
    addrs = " ".join(i["addresses"])
    return f"{i['name']} ({state}) {addrs}".rstrip()


def topology_figure(snap: dict | None = None, title: str | None = None, recorded: bool = False,
                    ports: dict | None = None, rule: str | None = None):
    """A Figure of ``snap`` (default: a fresh :func:`~boxkit.net.topology.snapshot`). ``ports`` is the
    published-port map (:func:`boxkit.net.firewall.published`: ``{("tcp", 8080): ("10.213.0.2", 80)}``)
    and ``rule`` the DNAT rule that reads it (:func:`boxkit.net.firewall.dnat_rule`): each published
    port is drawn on the host and joined to the container that holds the address it rewrites to."""
    from matplotlib.patches import FancyBboxPatch, Rectangle

    if snap is None:
        # lazy: viz modules import no kernel-side module until a figure is drawn
        from ..net.topology import snapshot

        snap = snapshot()
    published = ports or {}   # ``ports`` is reused below for a bridge's port positions
    spaces = snap["namespaces"]
    host = next(s for s in spaces if s["pid"] is None)
    others = [s for s in spaces if s["pid"] is not None]
    n = max(1, len(others))
    width = max(8.0, 3.0 * n)
    fig = new_figure(figsize=(width, 5.6), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, 10)
    ax.axis("off")
    t = badge(title or _("Network namespaces, veth pairs and bridges, as the kernel reports them"), recorded)
    ax.text(width / 2, 9.6, t, ha="center", va="center", fontsize=12, weight="bold")

    # the host namespace
    ax.add_patch(FancyBboxPatch((0.2, 5.2), width - 0.4, 3.8, boxstyle="round,pad=0.05", fc=HOST_FC, ec="#555"))
    ax.text(0.4, 8.75, _("host network namespace  ({inode})").format(inode=f"net:[{host['inode']}]"), fontsize=9,
            va="center", color="#333")
    hidx = {i["index"]: i for i in host["ifaces"]}
    slot = width / n
    centers = {s["label"]: slot * (k + 0.5) for k, s in enumerate(others)}

    # container namespaces along the bottom
    for s in others:
        cx = centers[s["label"]]
        w = min(slot - 0.3, 2.8)
        ax.add_patch(FancyBboxPatch((cx - w / 2, 0.3), w, 3.4, boxstyle="round,pad=0.05", fc=NS_FC, ec="#a66"))
        ax.text(cx, 3.45, f"{s['label']}", ha="center", va="center", fontsize=10, weight="bold")
        ax.text(cx, 3.05, f"pid {s['pid']}  net:[{s['inode']}]", ha="center", va="center", fontsize=7,
                color="#555")
        y = 2.5
        cabled = {c[3] for c in snap["cables"] if c[2] == s["label"]}
        for i in sorted(s["ifaces"], key=lambda i: (i["index"] not in cabled, i["name"])):
            ax.text(cx, y, _iface_line(i), ha="center", va="center", fontsize=7.5, family="monospace",
                    color=("#1f4e89" if i["index"] in cabled else "#222") if i["up"] else "#999",
                    weight="bold" if i["index"] in cabled else "normal")
            y -= 0.45
        if not any(c[2] == s["label"] for c in snap["cables"]):
            ax.text(cx, 0.6, _("no cable: isolated"), ha="center", fontsize=7.5, color="#a33", style="italic")

    # cables: host end (a bridge port or a bare veth) down to the container end
    port_x: dict[int, float] = {}
    for _h, hi, label, _ci in snap["cables"]:
        cx = centers.get(label)
        if cx is None or hi not in hidx:
            continue
        port_x[hi] = cx
        hv = hidx[hi]
        ax.add_patch(Rectangle((cx - 0.75, 5.6), 1.5, 0.55, fc=PORT_FC, ec="#4c78a8"))
        ax.text(cx, 5.87, hv["name"] + ("" if hv["up"] else " (down)"), ha="center", va="center", fontsize=7.5,
                family="monospace")
        if hv["addresses"]:
            ax.text(cx, 5.38, " ".join(hv["addresses"]), ha="center", va="center", fontsize=7, family="monospace")
        ax.plot([cx, cx], [5.6, 3.75], color="#4c78a8", lw=2)
        ax.text(cx + 0.08, 4.4, _("veth pair"), rotation=90, fontsize=7, color="#4c78a8", va="center")

    # bridges: a bar over their ports
    bridges = [i for i in host["ifaces"] if i["kind"] == "bridge"]
    for k, br in enumerate(bridges):
        ports = [port_x[i["index"]] for i in host["ifaces"] if i["master"] == br["index"] and i["index"] in port_x]
        y = 7.3 - 0.9 * k
        x0, x1 = (min(ports) - 0.9, max(ports) + 0.9) if ports else (0.6, 3.6)
        ax.add_patch(Rectangle((x0, y), x1 - x0, 0.5, fc=BR_FC, ec="#234"))
        label = f"{br['name']} (bridge{'' if br['up'] else ', down'})  {' '.join(br['addresses'])}"
        ax.text((x0 + x1) / 2, y + 0.25, label, ha="center", va="center", fontsize=8.5, color="white",
                weight="bold", family="monospace")
        for px in ports:
            ax.plot([px, px], [6.15, y], color="#234", lw=1.5)
    if not bridges:
        ax.text(width / 2, 7.4, _("no boxkit bridge"), ha="center", fontsize=9, color="#777", style="italic")
    _draw_ports(ax, others, centers, published)
    if rule:
        ax.text(0.4, 8.4, _("nft DNAT rule: {rule}").format(rule=rule), fontsize=7.5, family="monospace", color=DNAT_C,
                va="center", gid="dnat-rule")
    return fig


DNAT_C = "#c0392b"


def _draw_ports(ax, others: list[dict], centers: dict, ports: dict) -> None:
    """No process listens on a published port: the kernel's nat hook rewrites the destination of a
    packet to the host's port (DNAT) before routing, so it is drawn as an arrow from the host's port
    to the container that holds the rewritten address."""
    owner = {a.split("/")[0]: s["label"] for s in others for i in s["ifaces"] for a in i["addresses"]}
    for k, ((proto, hport), (addr, cport)) in enumerate(sorted(ports.items())):
        label = owner.get(addr)
        cx = centers.get(label) if label else None
        # i18n: a published port: the host's port rewritten (DNAT) to a container's address and port
        text = (_("host :{port}/{proto}  DNAT → {address}:{container_port}") if cx is not None
                else _("host :{port}/{proto}  DNAT → {address}:{container_port} (no such container)")).format(
            port=hport, proto=proto, address=addr, container_port=cport)
        x = (cx + 0.85) if cx is not None else 0.6 + 2.5 * k
        ax.text(x, 8.0 - 0.3 * k, text, fontsize=8, color=DNAT_C, weight="bold", va="center",
                family="monospace", gid=f"port:{proto}:{hport}")
        if cx is not None:
            ax.annotate("", xy=(cx + 0.8, 3.75), xytext=(cx + 0.8, 8.0 - 0.3 * k), gid=f"dnat:{hport}:{label}",
                        arrowprops={"arrowstyle": "->", "color": DNAT_C, "lw": 1.6, "ls": "--"})



def rtt_figure(series: dict[str, list[float]], recorded: bool = False):
    """Round-trip times (ms) per path, one row of points per path with its median marked."""
    fig = new_figure(figsize=(8, 0.9 + 0.7 * len(series)), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    for k, rtts in enumerate(series.values()):
        ax.scatter(rtts, [k] * len(rtts), alpha=0.6, s=18)
        if rtts:
            med = statistics.median(rtts)
            ax.plot([med, med], [k - 0.3, k + 0.3], color="black", lw=2)
            ax.annotate(_("median {ms} ms").format(ms=f"{med:.3f}"), (med, k + 0.32), fontsize=8, ha="center")
    ax.set_yticks(range(len(series)), list(series))
    ax.set_ylim(-0.6, len(series) - 0.2)
    ax.set_xlabel(_("round-trip time (ms)"))
    ax.set_xlim(left=0)
    ax.set_title(badge(_("ping round trips"), recorded))
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def draw_docs_figures(outdir: str) -> None:
    """``docs/img/topology.png``: two containers on the default bridge, ``web`` publishing 18080:80."""
    import os

    # lazy: this figure runs containers; viz modules import no kernel-side module until a figure is drawn
    from ..net import firewall  # lazy: firewall ~7 ms
    from ..net.topology import snapshot  # lazy: see topology_figure
    from ..runtime import run  # lazy: runtime.run loads runtime.container (~30 ms)

    web = run("busybox", ["sleep", "120"], detach=True, network="bridge", name="web",
                     publish=["18080:80"])
    try:
        client = run("busybox", ["sleep", "120"], detach=True, network="bridge", name="client")
        try:
            fig = topology_figure(snapshot(), ports=firewall.published(), rule=firewall.dnat_rule())
        finally:
            client.remove()
    finally:
        web.remove()
    fig.savefig(os.path.join(outdir, "topology.png"), bbox_inches="tight")
