"""Network logic without the kernel: address leases, subnet clashes, port specs, hosts files.

Runs without root: leases live in a temporary BOXKIT_ROOT, "routes" are lists of networks, and the
hosts-file writer is pointed at a temporary directory standing in for ``/proc/PID/root``.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys

import pytest

from boxkit.errors import BoxkitError, NotFoundError, SpecError
from boxkit.net import firewall, hosts, ipam
from boxkit.net.firewall import PortSpec

N = ipaddress.IPv4Network


def _net(subnet="10.213.0.0/29", **leases) -> ipam.Network:
    n = ipam.Network(name="t", bridge="bkt", subnet=subnet)
    for cid, addr in leases.items():
        n.leases[cid] = ipam.Lease(address=addr, pid=1, starttime=None, veth="bkv" + cid[:8], hostname=cid)
    return n


# --- ipam ---------------------------------------------------------------------------------------

def test_allocate_takes_lowest_free_and_skips_gateway():
    n = _net()
    assert n.gateway == "10.213.0.1"
    assert n.allocate() == "10.213.0.2"
    n = _net(aa="10.213.0.2", bb="10.213.0.4")
    assert n.allocate() == "10.213.0.3"


def test_allocate_exhausted_says_what_to_do():
    n = _net(**{f"c{i}": f"10.213.0.{i}" for i in range(2, 7)})   # /29: .2-.6 usable
    with pytest.raises(BoxkitError) as e:
        n.allocate()
    assert "cannot allocate an address on network t" in str(e.value)
    assert "--subnet" in str(e.value)


def test_pick_subnet_skips_routes_that_overlap():
    taken = [N("0.0.0.0/0"), N("10.213.0.0/24"), N("10.213.1.128/25")]
    assert ipam.pick_subnet(taken) == N("10.213.2.0/24")


def test_pick_subnet_pool_exhausted():
    with pytest.raises(BoxkitError) as e:
        ipam.pick_subnet([N("10.0.0.0/8")])
    assert "free subnet" in str(e.value)


def test_clash_ignores_default_route():
    assert ipam.clash(N("10.213.0.0/24"), [N("0.0.0.0/0")]) is None
    assert ipam.clash(N("10.213.0.0/24"), [N("10.213.0.64/26")]) == N("10.213.0.64/26")


@pytest.mark.parametrize("bad", ["10.0.0.1/24", "8.8.8.0/24", "10.1.0.0/8", "10.1.0.0/30", "nope", "127.0.0.0/16"])
def test_bad_subnets_are_refused(bad):
    with pytest.raises(SpecError):
        ipam.parse_subnet(bad)


@pytest.mark.parametrize("bad", ["none", "host", "container:x", "Bad", "-x", "a" * 40, "a/b"])
def test_bad_network_names(bad):
    with pytest.raises(SpecError):
        ipam.check_network_name(bad)


def test_interface_names_fit_and_hold_bk(tmp_root):
    for net in ("bridge", "front", "a" * 32):
        b = ipam.bridge_name(net)
        assert b.startswith("bk") and len(b) <= ipam.IFNAMSIZ
    assert ipam.bridge_name("bridge", "/var/lib/boxkit") == "bk0"
    assert ipam.bridge_name("bridge", "/elsewhere") != "bk0"
    assert ipam.veth_name("3fa2c1d09e2b") == "bkv3fa2c1d0"
    with pytest.raises(SpecError):
        ipam.veth_name("../../etc")


def test_define_refuses_clash_and_duplicates(tmp_root):
    with pytest.raises(SpecError) as e:
        ipam.define("front", subnet="192.168.5.0/24", taken=[N("192.168.0.0/16")])
    assert "overlaps 192.168.0.0/16" in str(e.value)
    assert ipam.names() == []   # nothing half-made
    a = ipam.define("front", taken=[N("10.213.0.0/24")])
    assert a.subnet == "10.213.1.0/24" and a.auto_subnet
    b = ipam.define("back")          # avoids "front", which is defined though not up
    assert b.subnet == "10.213.0.0/24"
    with pytest.raises(BoxkitError, match="it exists"):
        ipam.define("front")
    assert ipam.load("front").to_json() == a.to_json()
    with pytest.raises(NotFoundError, match="boxkit network create nope"):
        ipam.load("nope")


def test_leases_round_trip_and_stale_detection(tmp_root):
    n = ipam.define("front")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    n.leases["aaaa"] = ipam.Lease("10.213.0.2", os.getpid(), ipam.proc_starttime(os.getpid()), "bkvaaaa", "a")
    n.leases["bbbb"] = ipam.Lease("10.213.0.3", dead.pid, 12345, "bkvbbbb", "b", name="web",
                                  ports=[["tcp", 8080, 80]])
    n.leases["cccc"] = ipam.Lease("10.213.0.4", os.getpid(), 1, "bkvcccc", "c")   # pid reused
    ipam.save(n)
    m = ipam.load("front")
    assert m.leases["bbbb"].ports == [["tcp", 8080, 80]] and m.leases["bbbb"].name == "web"
    assert sorted(ipam.stale(m)) == ["bbbb", "cccc"]
    assert sorted(ipam.stale(m, alive={"aaaa", "bbbb"})) == ["bbbb", "cccc"]
    assert sorted(ipam.stale(m, alive=set())) == ["aaaa", "bbbb", "cccc"]


def test_proc_starttime_parses_names_with_parens():
    assert ipam.proc_starttime(os.getpid()) > 0
    assert ipam.proc_starttime(2 ** 22 + 7) is None


# --- ports --------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,spec", [
    ("8080:80", PortSpec(8080, 80, "tcp")), ("5353:53/udp", PortSpec(5353, 53, "udp")),
    ("1:65535/TCP", PortSpec(1, 65535, "tcp")),
])
def test_port_specs(text, spec):
    assert PortSpec.parse(text) == spec


@pytest.mark.parametrize("bad", ["80", "0:80", "8080:70000", "a:b", "8080:80/sctp", "1.2.3.4:80:80", ""])
def test_bad_port_specs(bad):
    with pytest.raises(SpecError) as e:
        PortSpec.parse(bad)
    assert str(e.value).startswith("invalid port mapping")


def test_same_host_port_twice_is_refused():
    with pytest.raises(SpecError, match="given twice"):
        firewall.parse_publish(["8080:80", "8080:81/tcp"])
    assert len(firewall.parse_publish(["8080:80", "8080:80/udp"])) == 2


def test_nft_scripts():
    specs = [PortSpec(8080, 80), PortSpec(5353, 53, "udp")]
    assert firewall.ports_script("create", "10.213.0.2", specs) == (
        "create element ip boxkit ports { tcp . 8080 : 10.213.0.2 . 80, udp . 5353 : 10.213.0.2 . 53 }\n")
    assert firewall.ports_script("delete", "10.213.0.2", specs) == (
        "delete element ip boxkit ports { tcp . 8080, udp . 5353 }\n")
    assert '"bk0" . "bk0"' in firewall.add_bridges_script(["bk0"])
    with pytest.raises(SpecError):
        firewall.add_bridges_script(['bk0" ; flush ruleset'])


def test_port_in_use_on_the_host_is_detected():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    try:
        with pytest.raises(BoxkitError) as e:
            firewall.check_free(PortSpec(s.getsockname()[1], 80))
        assert "in use on the host" in str(e.value)
    finally:
        s.close()


# --- hosts files ----------------------------------------------------------------------------------

def test_hosts_lists_self_then_peers():
    n = _net(subnet="10.213.0.0/24", aaaa1111="10.213.0.3", bbbb2222="10.213.0.2")
    n.leases["aaaa1111"].name = "web"
    text = hosts.render_hosts(n, "bbbb2222", "bbbb2222", None)
    lines = text.splitlines()
    assert lines[0] == hosts.HEADER.strip()
    assert "10.213.0.2\tbbbb2222" in lines[3]
    assert "10.213.0.3\tweb aaaa1111" in lines[4]


def test_resolv_conf_copies_only_reachable_servers(tmp_path):
    f = tmp_path / "resolv.conf"
    f.write_text("nameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch example.org\n# x\n")
    assert "nameserver" not in hosts.render_resolv(False, str(f))
    out = hosts.render_resolv(True, str(f))
    assert "192.0.2.53" in out and "127.0.0.53" not in out and "search example.org" in out


def test_write_in_root_never_follows_links(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.write_text(hosts.HEADER + "keep\n")
    (root / "etc" / "hosts").symlink_to(victim)
    assert not hosts.write_in_root(str(root), "etc/hosts", "pwned\n")
    assert victim.read_text() == hosts.HEADER + "keep\n"
    # a symlinked directory on the way is refused too
    (root / "etc" / "hosts").unlink()
    os.rename(root / "etc", root / "etc2")
    (root / "etc").symlink_to(tmp_path)
    assert not hosts.write_in_root(str(root), "etc/victim", "pwned\n")
    assert victim.read_text() == hosts.HEADER + "keep\n"
    assert not hosts.write_in_root(str(root), "../victim", "pwned\n")


def test_write_in_root_rewrites_only_boxkit_files(tmp_path):
    (tmp_path / "etc").mkdir()
    f = tmp_path / "etc" / "hosts"
    f.write_text("127.0.0.1 localhost something-long-enough-to-be-truncated\n")
    assert not hosts.write_in_root(str(tmp_path), "etc/hosts", "x\n", only_if_prefix=hosts.HEADER)
    assert f.read_text().startswith("127.0.0.1 localhost")
    f.write_text(hosts.HEADER + "old old old old old old old old\n")
    assert hosts.write_in_root(str(tmp_path), "etc/hosts", hosts.HEADER + "new\n", only_if_prefix=hosts.HEADER)
    assert f.read_text() == hosts.HEADER + "new\n"


def test_processes_sharing_the_hosts_files_are_never_written():
    # this test process shares the host's mount namespace and root: its /etc/hosts is the host's
    assert not hosts._own_files(os.getpid())


def test_import_does_not_load_pyroute2():
    code = "import boxkit.net, boxkit.net.endpoint, sys; print('pyroute2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_parse_ping_reads_busybox_and_iputils():
    from boxkit.net.measure import parse_ping

    busybox = "64 bytes from 10.213.0.2: seq=0 ttl=64 time=0.268 ms\n64 bytes from 10.213.0.2: seq=1 ttl=64 time=0.216 ms\n"
    iputils = "64 bytes from 10.0.0.1: icmp_seq=1 ttl=64 time=1.05 ms\nrtt min/avg/max/mdev = 1.0/1.0/1.0/0.0 ms\n"
    assert parse_ping(busybox) == [0.268, 0.216]
    assert parse_ping(iputils) == [1.05]
    assert parse_ping("ping: bad address 'web'\n") == []


def test_parse_masquerade_reads_each_rule_and_its_counter():
    from boxkit.net.measure import parse_masquerade

    chain = """table ip boxkit {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 127.0.0.0/8 oifname @bridges counter packets 1 bytes 60 masquerade
		ip saddr @nat_nets oifname != @bridges counter packets 7 bytes 420 masquerade
		ip saddr 10.0.0.0/8 masquerade
	}
}"""
    rules = parse_masquerade(chain)
    assert rules["127.0.0.0/8"] == ("ip saddr 127.0.0.0/8 oifname @bridges counter packets 1 bytes 60 masquerade", 1)
    assert rules["@nat_nets"][1] == 7 and rules["10.0.0.0/8"][1] is None
    assert parse_masquerade("") == {}


def test_the_table_counts_what_each_masquerade_rule_rewrote():
    from boxkit.net import firewall

    masq = [line for line in firewall._TABLE_DEF.splitlines() if "masquerade" in line]
    assert len(masq) == 2 and all("counter masquerade" in line for line in masq)


def test_the_outside_refuses_a_subnet_the_host_already_routes(monkeypatch):
    """measure.Outside never shadows a network of the host: it checks before it starts anything."""
    from boxkit.errors import BoxkitError
    from boxkit.net import links, measure

    try:
        taken = links.host_networks()
    except Exception as e:   # no netlink here (a sandbox without NETLINK_ROUTE)
        pytest.skip(f"cannot read the host's routes: {e}")
    if not taken:
        pytest.skip("the host routes no IPv4 network")
    out = measure.Outside(subnet=str(taken[0]))
    monkeypatch.setattr(measure.subprocess, "Popen", lambda *a, **k: pytest.fail("started a process"))
    with pytest.raises(BoxkitError, match="in use"):
        out.start()
    assert out.proc is None
    assert (measure.Outside().host_address, measure.Outside().address) == ("198.51.100.1", "198.51.100.2")
