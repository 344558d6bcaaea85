"""Container networking on the real kernel: bridges, veths, names, isolation, published ports, cleanup.

The "containers" here are the smallest thing that has what boxkit.net needs: a process in its own
network *and* mount namespace with its own root (``unshare --mount --net --root=DIR busybox sleep``),
so that its ``/etc/hosts`` is its own file. Traffic goes only to addresses these tests create: the
subnets of the networks they make and 127.0.0.1 on the host. Every test runs under a private
BOXKIT_ROOT, so its bridges have names no one else uses, and the fixture checks that nothing of it is
left on the host, even when the test fails.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from boxkit.errors import BoxkitError, NotFoundError, SpecError

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: creates bridges, veths and namespaces"),
    pytest.mark.skipif(not shutil.which("busybox"), reason="needs busybox-static (apt-get install busybox-static)"),
    pytest.mark.skipif(not shutil.which("nsenter") or not shutil.which("unshare"),
                       reason="needs util-linux unshare and nsenter"),
]

SERVER = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 80)); s.listen(16)
while True:
    c, peer = s.accept()
    c.recv(4096)
    body = (sys.argv[1] + " " + peer[0]).encode()
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body); c.close()
"""


def _ns(pid: int, kind: str = "net") -> int:
    return os.stat(f"/proc/{pid}/ns/{kind}").st_ino


class Box:
    """A process alone in a network namespace, with a root directory holding busybox and /etc/hosts."""

    def __init__(self, root: str):
        self.root = root
        self.proc = subprocess.Popen(["unshare", "--mount", "--net", f"--root={root}",
                                      "/bin/busybox", "sleep", "120"])
        self.pid = self.proc.pid
        deadline = time.monotonic() + 5
        while _ns(self.pid) == _ns(os.getpid()):   # unshare(2) has not happened yet
            if time.monotonic() > deadline:
                raise RuntimeError("unshare did not create a network namespace")
            time.sleep(0.005)
        self.servers: list[subprocess.Popen] = []

    def sh(self, *argv: str, timeout: float = 10) -> subprocess.CompletedProcess:
        """Run busybox inside the box (its netns and its root)."""
        return subprocess.run(["nsenter", "-t", str(self.pid), "-n", "--root", "/bin/busybox", *argv],
                              capture_output=True, text=True, timeout=timeout)

    def py(self, code: str, timeout: float = 10) -> subprocess.CompletedProcess:
        """Run the host's Python inside the box's network namespace only."""
        return subprocess.run(["nsenter", "-t", str(self.pid), "-n", sys.executable, "-c", code],
                              capture_output=True, text=True, timeout=timeout)

    def serve(self, tag: str) -> None:
        self.servers.append(subprocess.Popen(["nsenter", "-t", str(self.pid), "-n", sys.executable,
                                              "-c", SERVER, tag]))

    def write_files(self, att) -> None:
        """What the runtime does with an Attachment."""
        with open(os.path.join(self.root, "etc", "hosts"), "w") as f:
            f.write(att.hosts)
        with open(os.path.join(self.root, "etc", "resolv.conf"), "w") as f:
            f.write(att.resolv_conf)

    def kill(self) -> None:
        for p in [*self.servers, self.proc]:
            if p.poll() is None:
                p.kill()
            p.wait()


def _links(kind: str | None = None) -> set[str]:
    argv = ["ip", "-o", "link", "show"] + (["type", kind] if kind else [])
    out = subprocess.run(argv, capture_output=True, text=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def _table() -> bool:
    return subprocess.run(["nft", "list", "table", "ip", "boxkit"], capture_output=True).returncode == 0


def _get(url: str, timeout: float = 3) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def _wait_http(url: str, timeout: float = 5) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _get(url, timeout=1)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def busybox_bin(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("bb")
    shutil.copy2(shutil.which("busybox"), d / "busybox")
    return str(d / "busybox")


@pytest.fixture
def lab(tmp_root, tmp_path, busybox_bin):
    """Make boxes and attachments; tear all of it down and prove the host holds none of it."""
    import boxkit.net as bn
    from boxkit.net import ipam

    boxes: list[Box] = []
    atts: list = []
    networks = {"bridge"}

    class Lab:
        def box(self) -> Box:
            root = tmp_path / f"box{len(boxes)}"
            for d in ("bin", "etc", "proc", "dev", "tmp"):
                (root / d).mkdir(parents=True)
            os.link(busybox_bin, root / "bin" / "busybox")
            (root / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
            b = Box(str(root))
            boxes.append(b)
            return b

        def attach(self, box: Box, network: str = "bridge", name: str | None = None, publish=None):
            cid = os.urandom(6).hex()
            networks.add(network)
            att = bn.attach(cid, box.pid, network, name, name or cid, publish or [])
            atts.append(att)
            box.write_files(att)
            return att

        def bridge(self, network: str = "bridge") -> str:
            return ipam.bridge_name(network)

    try:
        yield Lab()
    finally:
        for a in atts:
            a.release()
        for b in boxes:
            b.kill()
        bn.gc(set())
        networks.update(ipam.names())
        for n in ipam.names():
            bn.remove_network(n)
        # only what this test made: other engineers' runs may hold bk* links on the same host meanwhile
        ours = {ipam.bridge_name(n) for n in networks} | {a.veth for a in atts if a.veth}
        # a dead container's veth goes with its network namespace, which the kernel frees in a worker
        # (cleanup_net, after an RCU grace period) a moment later: release leaves it to it on purpose
        deadline = time.monotonic() + 5
        while (left := ours & _links()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not left, f"left on the host 5 s after the test: {left}"


# --- the basics -----------------------------------------------------------------------------------

def test_attach_gives_eth0_address_and_default_route(lab):
    box = lab.box()
    assert box.sh("ip", "-o", "link").stdout.strip().count("\n") == 0     # only lo before
    att = lab.attach(box, name="web")
    addr = box.sh("ip", "-o", "-4", "addr", "show", "dev", "eth0").stdout
    assert f"inet {att.address}/24" in addr
    assert f"default via {att.gateway} dev eth0" in box.sh("ip", "route").stdout
    assert "LOWER_UP" in box.sh("ip", "link", "show", "lo").stdout
    # the host end is a port of the bridge, and the host holds the gateway
    veth = subprocess.run(["ip", "-o", "link", "show", att.veth], capture_output=True, text=True).stdout
    assert f"master {lab.bridge()}" in veth and "state UP" in veth
    assert att.gateway in subprocess.run(["ip", "-o", "addr", "show", lab.bridge()],
                                         capture_output=True, text=True).stdout
    assert f"{att.address}\tweb" in att.hosts


def test_two_containers_reach_each_other_by_ip_and_by_name(lab):
    a, b = lab.box(), lab.box()
    att_a = lab.attach(a, name="web")
    att_b = lab.attach(b, name="client")
    assert att_a.address != att_b.address
    a.serve("from-web")
    # b resolves "web" through the /etc/hosts boxkit wrote, and ICMP gets through the bridge
    r = b.sh("ping", "-c", "1", "-W", "2", "web")
    assert f"({att_a.address})" in r.stdout and " 0% packet loss" in r.stdout, r.stdout + r.stderr
    # a joined first: its /etc/hosts was rewritten when b joined, so it knows "client" too
    with open(os.path.join(a.root, "etc", "hosts")) as f:
        assert f"{att_b.address}\tclient" in f.read()
    r = a.sh("ping", "-c", "1", "-W", "2", "client")
    assert " 0% packet loss" in r.stdout, r.stdout + r.stderr
    # TCP by IP: the server sees b's own address (no NAT inside a network)
    _wait_http(f"http://{att_a.address}/")                   # from the host, over the bridge
    r = b.py(f"import urllib.request; print(urllib.request.urlopen('http://{att_a.address}/', timeout=3).read().decode())")
    assert r.stdout.strip() == f"from-web {att_b.address}", r.stderr


def test_release_removes_peer_from_hosts_and_frees_the_address(lab):
    a, b = lab.box(), lab.box()
    att_a = lab.attach(a, name="one")
    att_b = lab.attach(b, name="two")
    att_b.release()
    with open(os.path.join(a.root, "etc", "hosts")) as f:
        text = f.read()
    assert f"{att_a.address}\tone" in text and att_b.address not in text and "\ttwo" not in text
    assert att_b.veth not in _links()
    c = lab.box()
    att_c = lab.attach(c, name="three")
    assert att_c.address == att_b.address           # the lowest free address, reused
    assert att_a.address != att_c.address


def test_networks_are_isolated(lab):
    import boxkit.net as bn

    other = bn.create_network("isolated")
    a, b = lab.box(), lab.box()
    att_a = lab.attach(a)
    att_b = lab.attach(b, network="isolated")
    assert other.subnet != att_a.address and not att_b.address.startswith(att_a.address.rsplit(".", 1)[0] + ".")
    assert lab.bridge("isolated") != lab.bridge()
    r = b.sh("ping", "-c", "1", "-W", "1", att_a.address)
    assert " 0% packet loss" not in r.stdout
    r = a.sh("ping", "-c", "1", "-W", "1", att_b.address)
    assert " 0% packet loss" not in r.stdout
    assert "isolated" not in att_a.hosts and att_a.address not in att_b.hosts
    print("isolated container reachable: False")


# --- published ports ------------------------------------------------------------------------------

def test_published_port_reaches_the_container_from_the_host(lab):
    port = _free_port()
    box = lab.box()
    att = lab.attach(box, name="web", publish=[f"{port}:80"])
    box.serve("published")
    _wait_http(f"http://{att.address}/")
    body = _get(f"http://127.0.0.1:{port}/")
    # 127.0.0.1 is masqueraded to the gateway on its way into the bridge (see boxkit.net.firewall)
    assert body == f"published {att.gateway}"
    out = subprocess.run(["nft", "list", "map", "ip", "boxkit", "ports"], capture_output=True, text=True).stdout
    assert f"tcp . {port} : {att.address} . 80" in out
    # the box cannot use route_localnet to reach the host's loopback services
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen()
    try:
        r = box.py(f"import socket; s=socket.socket(); s.settimeout(1); "
                   f"print(s.connect_ex(('127.0.0.1', {s.getsockname()[1]})))")
        assert r.stdout.strip() != "0"
    finally:
        s.close()
    att.release()
    assert f"tcp . {port}" not in subprocess.run(["nft", "list", "map", "ip", "boxkit", "ports"],
                                                 capture_output=True, text=True).stdout


def test_port_in_use_on_host_fails_and_leaves_nothing(lab):
    from boxkit.net import ipam

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    box = lab.box()
    try:
        with pytest.raises(BoxkitError) as e:
            lab.attach(box, publish=[f"{port}:80"])
        assert f"cannot publish port {port}/tcp: it is in use on the host" in str(e.value)
    finally:
        s.close()
    assert box.sh("ip", "-o", "link").stdout.strip().count("\n") == 0     # no eth0 was left in the box
    assert lab.bridge() not in _links()                          # the bridge it made is gone again
    assert not ipam.load("bridge").leases


def test_port_published_by_another_container_is_refused(lab):
    port = _free_port()
    a, b = lab.box(), lab.box()
    lab.attach(a, publish=[f"{port}:80"])
    with pytest.raises(BoxkitError, match="another container publishes it"):
        lab.attach(b, publish=[f"{port}:80"])
    assert b.sh("ip", "-o", "link").stdout.strip().count("\n") == 0


def test_bad_input_is_refused_before_anything_is_made(lab):
    import boxkit.net as bn

    box = lab.box()
    before = _links()
    with pytest.raises(SpecError, match="HOSTPORT:CONTAINERPORT"):
        bn.attach("abcdef01", box.pid, "bridge", None, "x", ["80"])
    with pytest.raises(NotFoundError, match="no such network 'nowhere'"):
        bn.attach("abcdef01", box.pid, "nowhere", None, "x", [])
    with pytest.raises(SpecError):
        bn.attach("../etc", box.pid, "bridge", None, "x", [])
    with pytest.raises(BoxkitError, match="exited before"):
        bn.attach("abcdef01", 2 ** 22 + 5, "bridge", None, "x", [])
    assert _links() == before


def test_subnet_clash_with_host_route(lab):
    import boxkit.net as bn

    route = subprocess.run(["ip", "-4", "-o", "route", "show", "scope", "link"], capture_output=True,
                           text=True).stdout.split()
    if not route or "/" not in route[0]:
        pytest.skip("needs a link-scope IPv4 route on the host to clash with")
    with pytest.raises(SpecError, match="overlaps"):
        bn.create_network("clash", subnet=route[0])
    with pytest.raises(NotFoundError):
        bn.remove_network("clash")


# --- concurrency and cleanup ----------------------------------------------------------------------

ATTACH_CHILD = r"""
import json, os, sys, time
import boxkit.net as bn
go = float(sys.argv[3])
while time.time() < go:
    time.sleep(0.001)
att = bn.attach(sys.argv[1], int(sys.argv[2]), "bridge", None, sys.argv[1], [])
print(json.dumps({"cid": att.cid, "address": att.address}))
"""


def test_concurrent_attaches_get_unique_addresses(lab):
    from boxkit.net import endpoint, ipam

    boxes = [lab.box() for _ in range(6)]
    go = time.time() + 1.0     # all children start their attach at the same moment
    children = [subprocess.Popen([sys.executable, "-c", ATTACH_CHILD, os.urandom(6).hex(), str(b.pid), str(go)],
                                 stdout=subprocess.PIPE, text=True) for b in boxes]
    results = []
    try:
        for c in children:
            out, _ = c.communicate(timeout=60)
            assert c.returncode == 0
            results.append(json.loads(out))
        addrs = [r["address"] for r in results]
        assert len(set(addrs)) == 6, addrs
        assert sorted(ipam.load("bridge").leases) == sorted(r["cid"] for r in results)
        # every box can reach every other: the addresses are not only unique but live
        r = boxes[0].sh("ping", "-c", "1", "-W", "2", addrs[-1])
        assert " 0% packet loss" in r.stdout
    finally:
        for r in results:
            endpoint.release(r["cid"], "bridge")


def test_killed_container_is_cleaned_by_the_kernel_and_gc(lab):
    import boxkit.net as bn
    from boxkit.net import ipam

    box = lab.box()
    att = lab.attach(box)
    assert att.veth in _links()
    box.kill()
    deadline = time.monotonic() + 5
    while att.veth in _links() and time.monotonic() < deadline:   # the netns dies, its veth with it
        time.sleep(0.02)
    assert att.veth not in _links()
    assert bn.gc({att.cid}) == [att.cid]           # listed alive, but its process is gone
    assert not ipam.load("bridge").leases
    deadline = time.monotonic() + 5
    while lab.bridge() in _links() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert lab.bridge() not in _links()


KILLED_PARENT = r"""
import os, signal, sys
import boxkit.net as bn
bn.attach(sys.argv[1], int(sys.argv[2]), "bridge", "orphan", "orphan", [sys.argv[3] + ":80"])
os.kill(os.getpid(), signal.SIGKILL)     # a notebook kernel killed outright: release() never runs
"""


def test_gc_after_killed_parent_reclaims_lease_veth_port_and_bridge(lab):
    import boxkit.net as bn
    from boxkit.net import firewall, ipam

    box = lab.box()
    cid, port = os.urandom(6).hex(), _free_port()
    p = subprocess.run([sys.executable, "-c", KILLED_PARENT, cid, str(box.pid), str(port)], timeout=60)
    assert p.returncode == -signal.SIGKILL
    lease = ipam.load("bridge").leases[cid]
    assert lease.veth in _links() and ("tcp", port) in firewall.published()
    assert bn.gc({cid}) == []                      # still alive and listed: kept
    assert bn.gc(set()) == [cid]                   # the runtime says it is gone: reclaimed
    assert lease.veth not in _links()
    assert ("tcp", port) not in firewall.published()
    assert lab.bridge() not in _links()
    assert box.sh("ip", "-o", "link").stdout.strip().count("\n") == 0


def test_network_create_ls_rm(lab):
    import boxkit.net as bn

    n = bn.create_network("front", subnet="10.213.77.0/24")
    rows = {r["name"]: r for r in bn.list_networks()}
    assert rows["front"]["subnet"] == "10.213.77.0/24" and not rows["front"]["up"]
    assert "bridge" in rows
    box = lab.box()
    att = lab.attach(box, network="front")
    assert att.address == "10.213.77.2" and att.gateway == "10.213.77.1"
    rows = {r["name"]: r for r in bn.list_networks()}
    assert rows["front"]["up"] and rows["front"]["containers"] == 1
    with pytest.raises(BoxkitError, match="1 running container"):
        bn.remove_network("front")
    att.release()
    bn.remove_network("front")
    assert n.bridge not in _links()
    with pytest.raises(BoxkitError, match="it exists"):
        bn.create_network("front2", subnet="10.213.78.0/24") and bn.create_network("front2")


def test_topology_is_read_from_the_kernel(lab):
    from boxkit.net.topology import snapshot
    from boxkit.viz.topology import topology_figure

    a, b, lonely = lab.box(), lab.box(), lab.box()
    att_a = lab.attach(a, name="web")
    lab.attach(b, name="client")
    snap = snapshot({"lonely": lonely.pid})
    spaces = {s["label"]: s for s in snap["namespaces"]}
    assert set(spaces) >= {"host", "web", "client", "lonely"}
    web_eth = next(i for i in spaces["web"]["ifaces"] if i["name"] == "eth0")
    assert web_eth["addresses"] == [f"{att_a.address}/24"] and web_eth["up"]
    assert [i["name"] for i in spaces["lonely"]["ifaces"]] == ["lo"]
    cabled = {c[2] for c in snap["cables"]}
    assert cabled == {"web", "client"}                        # lonely has no cable
    host = {i["index"]: i for i in spaces["host"]["ifaces"]}
    bridge = next(i for i in host.values() if i["name"] == lab.bridge())
    assert bridge["addresses"] == [f"{att_a.gateway}/24"]
    for _h, hi, _label, _ci in snap["cables"]:
        assert host[hi]["master"] == bridge["index"]          # every cable ends on a bridge port
    fig = topology_figure(snap)
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert lab.bridge() in texts and att_a.address in texts and "no cable: isolated" in texts


NAT_LAB = r"""
import json, os, subprocess, sys, time
os.environ["BOXKIT_ROOT"] = sys.argv[1]
SERVER = sys.argv[2]
import boxkit.net as bn
from boxkit.net import firewall

def sh(*a, check=True):
    return subprocess.run(list(a), check=check, capture_output=True, text=True)

def box():
    p = subprocess.Popen(["unshare", "--net", "sleep", "60"])
    while os.stat(f"/proc/{p.pid}/ns/net").st_ino == os.stat("/proc/self/ns/net").st_ino:
        time.sleep(0.002)
    procs.append(p)
    return p

def connect(pid, addr, port=80):
    code = (f"import socket; s=socket.create_connection(('{addr}', {port}), timeout=1.5); "
            "s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n'); print(s.recv(200).split(b'\\r\\n\\r\\n')[-1].decode())")
    r = subprocess.run(["nsenter", "-t", str(pid), "-n", sys.executable, "-c", code], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None

procs, atts, out = [], [], {}
try:
    sh("ip", "link", "set", "lo", "up")
    # "the internet": a namespace behind a veth, which knows no route back to boxkit's subnets
    world = box()
    sh("ip", "link", "add", "bkvworld", "type", "veth", "peer", "name", "eth0", "netns", str(world.pid))
    sh("ip", "addr", "add", "10.250.0.1/24", "dev", "bkvworld")
    sh("ip", "link", "set", "bkvworld", "up")
    for cmd in (["addr", "add", "10.250.0.2/24", "dev", "eth0"], ["link", "set", "eth0", "up"],
                ["link", "set", "lo", "up"]):
        sh("nsenter", "-t", str(world.pid), "-n", "ip", *cmd)
    procs.append(subprocess.Popen(["nsenter", "-t", str(world.pid), "-n", sys.executable, "-c", SERVER, "world"]))
    time.sleep(0.3)
    bn.create_network("out", nat=True)
    a, b = box(), box()
    atts.append(bn.attach("aaaa00000001", a.pid, "out", "a", "a", []))
    atts.append(bn.attach("bbbb00000002", b.pid, "bridge", "b", "b", []))
    out["ip_forward"] = firewall.ip_forward()
    out["nat_reply"] = connect(a.pid, "10.250.0.2")
    from boxkit.net import measure
    out["masquerade"] = {k: n for k, (_rule, n) in measure.masquerade_rules().items()}
    out["plain_reply"] = connect(b.pid, "10.250.0.2")
    procs.append(subprocess.Popen(["nsenter", "-t", str(b.pid), "-n", sys.executable, "-c", SERVER, "b"]))
    time.sleep(0.3)
    out["b_from_host"] = connect(os.getpid(), atts[1].address)
    out["b_from_a"] = connect(a.pid, atts[1].address)
    out["resolv_a"] = atts[0].resolv_conf
finally:
    for att in atts:
        att.release()
    bn.gc(set())
    out["table_after"] = sh("nft", "list", "tables", check=False).stdout
    out["bridges_after"] = sh("ip", "-o", "link", "show", "type", "bridge").stdout
    for p in procs:
        p.kill()
        p.wait()
print(json.dumps(out))
"""


def test_outbound_nat_and_isolation_with_forwarding_on(tmp_root):
    """In a network namespace of its own (its own ip_forward and nftables), a NAT network reaches a
    "world" namespace masqueraded; a network without NAT does not; networks stay apart."""
    if not shutil.which("nft"):
        pytest.skip("needs nft (apt-get install nftables)")
    r = subprocess.run(["unshare", "--net", sys.executable, "-c", NAT_LAB, tmp_root, SERVER],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["ip_forward"] is True
    assert out["nat_reply"] == "world 10.250.0.1"      # the world sees the host's address: masqueraded
    assert out["masquerade"]["@nat_nets"] == 1         # one connection, counted once (its first packet)
    assert out["plain_reply"] is None                  # nat off: no way back
    assert out["b_from_host"].startswith("b ")         # the host reaches the container
    assert out["b_from_a"] is None                     # forwarding is on, yet networks stay apart
    assert "boxkit" not in out["table_after"] and "bk" not in out["bridges_after"]


def test_deferred_release_keeps_the_bridge_until_reap(lab):
    import boxkit.net as bn

    a = lab.box()
    att = lab.attach(a)
    a.kill()
    att.release(defer=True)
    assert lab.bridge() in _links()                 # idle, but kept for the next container
    b = lab.box()
    att_b = lab.attach(b)
    assert att_b.address == att.address             # the lease was freed all the same
    assert bn.reap() == []                          # in use: reap leaves it
    b.kill()
    att_b.release(defer=True)
    assert bn.reap()                                # the retired bridge, under its throw-away name
    assert lab.bridge() not in _links()
