"""The namespace explorer: tick the namespaces a container gets, run it, see what each one hides.

Each namespace type answers one question differently inside than outside, and one command per type
shows it: ``ps`` (pid: the host's processes, or only the container's, PID 1 first), ``hostname`` (uts),
``ip link`` (net: the host's links, or only ``lo``), the mount table (mount: always the container's own,
since boxkit refuses a container without one: its root would be the host's). The panel runs a real
container with exactly the ticked set and puts the four answers beside the host's own, so a learner can
untick ``pid`` and watch the host's processes appear. Under the table, the host's links are named by
kind (:func:`link_kinds`), so a learner knows what ``ifb0`` or another runtime's bridge is.

:func:`summarize` reads the container's output (pure, unit-tested); :func:`namespace_explorer` is the
ipywidgets panel around it.
"""

from __future__ import annotations

import html
import os
import socket

from ..i18n import N_, _

# mount is not offered: a container without its own mount namespace would mount over the host's tree
OPTIONAL = ("pid", "uts", "net", "ipc", "cgroup")
PROBE = ("echo '== ps'; ps -o pid,comm; echo '== hostname'; hostname; echo '== ip link'; ip -o link; "
         "echo '== mounts'; cat /proc/self/mountinfo")


def summarize(stdout: str) -> dict:
    """The probe's output as ``{"processes": n, "pid1": comm, "hostname": s, "links": [names],
    "mounts": n}``; a section the output lacks is None."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in stdout.splitlines():
        if line.startswith("== "):
            current = line[3:].strip()
            sections[current] = []
        elif current is not None and line.strip():
            sections[current].append(line)
    ps = sections.get("ps")
    rows = [r.split(None, 1) for r in ps[1:]] if ps else None   # after the PID COMMAND header
    pid1 = next((r[1] for r in rows or [] if r[0] == "1" and len(r) > 1), None)
    links = None
    if "ip link" in sections:
        links = [r.split(":")[1].strip().split("@")[0] for r in sections["ip link"] if r.count(":") >= 2]
    return {"processes": len(rows) if rows is not None else None, "pid1": pid1,
            "hostname": (sections.get("hostname") or [None])[0],
            "links": links, "mounts": len(sections["mounts"]) if "mounts" in sections else None}


# what a link of each kind is (``ip -d link``'s kind; a link with none is a network card, or lo)
KIND_MEANS = {
    "bridge": N_("a virtual switch (boxkit's bk* or another runtime's, such as podman's cni-podman0)"),
    "veth": N_("one end of a virtual cable, the other end in a container"),
    "ifb": N_("a virtual device for shaping incoming traffic (the kernel's ifb module makes two)"),
    "tun": N_("a virtual device a program reads and writes (a VPN, a VM)"),
    "dummy": N_("a virtual device that drops what it is sent"),
    "vxlan": N_("a tunnel to other hosts (an overlay network)"),
    "wireguard": N_("a VPN tunnel"),
}


def link_kinds() -> dict[str, str]:
    """The host's links with their kind, from ``ip -d -j link`` (``linkinfo.info_kind``); ``lo`` is
    ``loopback``, a link without a kind is a network card (``card``). Empty if ``ip`` cannot say."""
    import json
    import subprocess

    try:
        out = subprocess.run(["ip", "-d", "-j", "link", "show"], capture_output=True, text=True,
                             timeout=10, check=True).stdout
        links = json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError):
        return {}
    return {x["ifname"]: "loopback" if x.get("link_type") == "loopback"
            else (x.get("linkinfo") or {}).get("info_kind") or "card" for x in links}


def kinds_html(kinds: dict[str, str]) -> str:
    """One line per kind of host link: which links, and what that kind is."""
    means = {"loopback": N_("the host's own loopback"), "card": N_("a network card (real or a VM's)"), **KIND_MEANS}
    by: dict[str, list[str]] = {}
    for name, kind in sorted(kinds.items()):
        by.setdefault(kind, []).append(name)
    other = _("a virtual device of this kind")
    items = "".join(f"<li><code>{html.escape(', '.join(names))}</code>: {html.escape(kind)}, "
                    f"{html.escape(_(means[kind]) if kind in means else other)}</li>"
                    for kind, names in by.items())
    head = _("the host's links, by kind ({command}):").format(command="<code>ip -d link</code>")
    return f"<p>{head}</p><ul>{items}</ul>"


def host_view() -> dict:
    """The same four answers for the host (this process)."""
    procs = sum(1 for d in os.listdir("/proc") if d.isdigit())
    with open("/proc/self/mountinfo") as f:
        mounts = sum(1 for line in f if line.strip())
    links = sorted(name for _index, name in socket.if_nameindex())
    with open("/proc/1/comm") as f:
        pid1 = f.read().strip()
    return {"processes": procs, "pid1": pid1, "hostname": socket.gethostname(), "links": links,
            "mounts": mounts}


def table_html(inside: dict, host: dict, ns: tuple[str, ...]) -> str:
    def links(v):
        return "?" if v is None else f"{len(v)}: {', '.join(v[:6])}{' …' if len(v) > 6 else ''}"

    rows = [("pid", _("processes it sees (PID 1)"), f"{inside['processes']} ({inside['pid1']})",
             f"{host['processes']} ({host['pid1']})"),
            ("uts", _("hostname"), inside["hostname"], host["hostname"]),
            ("net", _("network links"), links(inside["links"]), links(host["links"])),
            ("mount", _("mounts in its table"), inside["mounts"], host["mounts"])]
    # i18n: a namespace of the container's own, or the host's (shared with it)
    own, shared = _("✔ own"), _("✘ shared")
    body = "".join(
        f"<tr><td><code>{n}</code> {own if n in ns else shared}</td><td>{html.escape(what)}</td>"
        f"<td>{html.escape(str(a))}</td><td>{html.escape(str(b))}</td></tr>" for n, what, a, b in rows)
    heads = "".join(f"<th>{html.escape(h)}</th>" for h in (_("namespace"), _("question"), _("inside"),
                                                           _("the host")))
    return f"<table><thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table>"


def namespace_explorer(image: str = "busybox", run=None):
    """Check-boxes for the namespace types, a Run button, and the answers inside and on the host.
    ``run`` defaults to :func:`boxkit.run` (tests pass their own)."""
    import ipywidgets as w

    if run is None:
        # lazy: runtime.run loads runtime.container (~30 ms); only the explorer's button runs it
        from ..runtime import run
    boxes = {n: w.Checkbox(value=True, description=n, indent=False, layout=w.Layout(width="80px"))
             for n in OPTIONAL}
    button = w.Button(description=_("Run"), button_style="primary", icon="play")
    result = w.HTML(_("tick or untick, then Run: a real container starts with exactly those namespaces"))

    def go(_click=None) -> None:
        ns = ("mount", *(n for n, b in boxes.items() if b.value))
        button.disabled = True
        try:
            # boxkit.run gives a container its own net namespace unless network="host" (docker's
            # --network): unticking net must ask for the host's network, or the box would be a lie
            r = run(image, ["sh", "-c", PROBE], namespaces=ns, hostname="explorer" if "uts" in ns else None,
                    network="none" if "net" in ns else "host", timeout=30)
            said = _("namespaces: {namespaces} — exit {code}").format(namespaces=f"<code>{', '.join(ns)}</code>",
                                                                     code=r.exit_code)
            result.value = (f"<p>{said}</p>"
                            + table_html(summarize(r.stdout), host_view(), ns) + kinds_html(link_kinds()))
        except Exception as e:   # shown in the panel, not lost in a callback's log
            result.value = f"<b style='color:#cf222e'>{html.escape(type(e).__name__)}: {html.escape(str(e))}</b>"
        finally:
            button.disabled = False

    button.on_click(go)
    always = _("{mount} ✔ (always)").format(mount="<b>mount</b>")
    panel = w.VBox([w.HBox([w.HTML(f"{always}&nbsp;"), *boxes.values(), button]), result])
    panel.run, panel.boxes, panel.result = go, boxes, result   # tests and notebooks may click it in code
    return panel
