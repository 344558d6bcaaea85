# %% [markdown]
# # 04 — Networks: a namespace, a cable, a switch
#
# *"Network: network isolation."* A container gets a **network namespace** of its own: its own
# interfaces, addresses, routes, ports and firewall. A new one is empty — it cannot reach anything, not
# even the host. Docker then connects it with three kernel objects, and so does `boxkit`:
#
# | kernel object | what it is | made with (netlink message) |
# |---|---|---|
# | **veth pair** | two interfaces joined like the ends of a cable | `RTM_NEWLINK kind=veth` |
# | **bridge** | a switch inside the kernel; the host holds the gateway address on it | `RTM_NEWLINK kind=bridge` |
# | **address + route** | `10.213.0.2/24` on `eth0`, `default via 10.213.0.1` | `RTM_NEWADDR`, `RTM_NEWROUTE` |
#
# We build one by hand first, with [pyroute2](https://pyroute2.org) (the netlink library `boxkit`
# uses), then let `boxkit` do it for two containers and measure what we built.

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit import course

course.start("containers")

# %%
# NBVAL_IGNORE_OUTPUT
import subprocess
import time
import urllib.request

import boxkit
import boxkit.net as bn
from boxkit.net import ipam, links, measure
from boxkit.net.topology import snapshot
from boxkit.viz.topology import rtt_figure, throughput_figure, topology_figure

# %% [markdown]
# ## Nothing: an empty network namespace
#
# `unshare --net` runs a process in a new network namespace (the `unshare(CLONE_NEWNET)` system call).
# We ask the kernel, over netlink *inside* that namespace, which interfaces exist.

# %%
# boxkit: needs root
lonely = subprocess.Popen(["unshare", "--net", "sleep", "600"])
time.sleep(0.2)
with links.inside(lonely.pid) as ns:
    inside = [(link.get("ifname"), link.get("state")) for link in ns.link("dump")]
inside

# %%
# boxkit: needs root
print("only lo:", [name for name, _ in inside] == ["lo"])
print("lo is down:", inside[0][1] == "down")

# %% [markdown]
# ## A cable by hand
#
# One netlink request creates a veth pair **and** puts one end into the namespace (`net_ns_pid`); the
# host keeps the other. Each end gets an address and goes up. This is the whole trick.
# (`links.host()` and `links.inside(pid)` hand out pyroute2 `IPRoute` objects talking to the host's
# namespace and to the process's; the calls on them are plain pyroute2.)

# %%
# boxkit: needs network
with links.host() as ipr:
    ipr.link("add", ifname="bkdemo0", kind="veth", peer={"ifname": "eth0", "net_ns_pid": lonely.pid})
    host_end = ipr.link_lookup(ifname="bkdemo0")[0]
    ipr.addr("add", index=host_end, address="10.213.250.1", prefixlen=24)
    ipr.link("set", index=host_end, state="up")

with links.inside(lonely.pid) as ns:
    eth0 = ns.link_lookup(ifname="eth0")[0]
    ns.addr("add", index=eth0, address="10.213.250.2", prefixlen=24)
    ns.link("set", index=eth0, state="up")
    ns.link("set", index=1, state="up")   # lo is index 1 in every namespace

# %% [markdown]
# The picture is drawn from what the kernel reports now: the veth's two ends know each other's
# interface index, which is how the line is found.

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
topology_figure(snapshot({"by hand": lonely.pid}, containers=False), title="One namespace, one veth pair")

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
rtts = measure.ping(None, "10.213.250.2", count=5, interval=0.2)
rtts

# %%
# boxkit: needs network
print(f"pings answered: {len(rtts)} of 5:", len(rtts) == 5)

# %% [markdown]
# When the namespace's last process exits, the kernel frees the namespace, and with it its end of the
# cable — and a veth pair cannot live with one end, so the host's end goes too.

# %%
# boxkit: needs network
lonely.kill()
lonely.wait()
deadline = time.monotonic() + 5
while links.link_exists("bkdemo0") and time.monotonic() < deadline:
    time.sleep(0.01)
print("host end gone with the namespace:", not links.link_exists("bkdemo0"))

# %% [markdown]
# ## Two containers on a bridge
#
# `network="bridge"` does the same with a switch in the middle: the boxkit bridge holds `10.213.0.1`,
# each container's veth is a port of it. `name=` makes the container reachable by name: `boxkit`
# writes `/etc/hosts` in every container of the network and rewrites it when peers come and go.
# `publish=["8080:80"]` adds a destination-NAT entry in the nftables table `ip boxkit`: a connection to
# port 8080 of the host goes to port 80 of the container.

# %%
# boxkit: needs network
web = boxkit.run("busybox", ["sh", "-c", "mkdir -p /www && echo hello from web > /www/index.html && httpd -f -p 80 -h /www"],
                 detach=True, network="bridge", name="web", publish=["8080:80"])
client = boxkit.run("busybox", ["sleep", "600"], detach=True, network="bridge", name="client")

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
print(client.exec(["ip", "-4", "-o", "addr"]).stdout)
print(client.exec(["ip", "route"]).stdout)
print(client.exec(["cat", "/etc/hosts"]).stdout)

# %% [markdown]
# The topology as the kernel reports it, with the published port: a dashed arrow from the host's port
# 8080 to the container whose address the DNAT rule rewrites it to (the rule is explained below).

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
from boxkit.net import firewall as fw

ports = fw.published()
topology_figure(snapshot(), ports=ports, rule=fw.dnat_rule())

# %%
# boxkit: needs network
web_eth0 = web.exec(["sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1"]).stdout.strip()
print(f"port 8080 is rewritten to {ports.get(('tcp', 8080), ('?', 0))[0]}, web's eth0 ({web_eth0}):",
      ports.get(("tcp", 8080), ("", 0))[0] == web_eth0)

# %% [markdown]
# ## Round trips
#
# `ping` by name, from `client` to `web`: the packet goes `eth0` → veth → bridge → veth → `eth0`, all
# inside one kernel. For comparison, `client` pings its own loopback and the host pings `web`.

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
web_ip = web.exec(["sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1"]).stdout.strip()
rtt = {
    "client → web (bridge)": measure.ping(client, "web", count=20, interval=0.05),
    "client → 127.0.0.1 (lo)": measure.ping(client, "127.0.0.1", count=20, interval=0.05),
    "host → web": measure.ping(None, web_ip, count=20, interval=0.05),
}
rtt_figure(rtt)

# %%
# boxkit: needs network
print(f"reachable by name: {len(rtt['client → web (bridge)'])} of 20 pings:", len(rtt["client → web (bridge)"]) == 20)
print(f"reachable from the host: {len(rtt['host → web'])} of 20 pings:", len(rtt["host → web"]) == 20)

# %% [markdown]
# ## HTTP by name, and through a published port
#
# `web` runs busybox `httpd`. `client` fetches it by name; the notebook (on the host) fetches it through
# port 8080 of `127.0.0.1`, which the kernel rewrites to `web`'s port 80.

# %%
# boxkit: needs network
by_name = client.exec(["wget", "-q", "-O", "-", "http://web/"]).stdout
with urllib.request.urlopen("http://127.0.0.1:8080/", timeout=5) as r:
    from_host = r.read().decode()
print("by name:", by_name.strip())
print("from the host:", from_host.strip())

# %% [markdown]
# How does `127.0.0.1:8080` reach a container? No process listens on 8080: one nftables rule rewrites the
# packet's destination (**DNAT**) before routing, from a map of published ports. A packet from
# 127.0.0.1 may not normally leave through another interface (the kernel drops it as a *martian*), so
# boxkit sets `route_localnet=1` on the bridge and masquerades such packets to the bridge's gateway
# address, so that the reply comes back. (A `guard` chain drops 127/8 packets arriving *from* a bridge:
# `route_localnet` alone would let a container reach the host's 127.0.0.1 services, CVE-2020-8558.)
# Here is the table, as `nft list table ip boxkit` prints it:

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
from boxkit.net import firewall as fw

table = subprocess.run([fw.nft_path(), "list", "table", "ip", fw.TABLE], capture_output=True, text=True).stdout
print(table)
bridge = ipam.bridge_name("bridge")
print(f"route_localnet on {bridge}:", open(f"/proc/sys/net/ipv4/conf/{bridge}/route_localnet").read().strip())

# %%
# boxkit: needs network
print("port 8080 is in the DNAT map, to web's port 80:", fw.published().get(("tcp", 8080), ("", 0))[1] == 80)
print("127/8 traffic into the bridge is masqueraded (route_localnet):",
      open(f"/proc/sys/net/ipv4/conf/{bridge}/route_localnet").read().strip() == "1")

# %% [markdown]
# ## Isolation
#
# A second network is a second bridge with another subnet. Its containers are not plugged into the
# first switch. Could the host carry packets between the two bridges? That is not a property of
# bridges: a Linux host routes between its interfaces only when `net.ipv4.ip_forward` is 1. boxkit
# leaves it at 0 unless a network asks for outbound NAT (`--nat`); and once it is on (docker turns it on
# too), boxkit's nftables `forward` chain drops traffic from one boxkit bridge to another — what
# docker's `DOCKER-ISOLATION` chains do.

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
private = bn.create_network("private")
loner = boxkit.run("busybox", ["sleep", "600"], detach=True, network="private", name="loner")
print(private.subnet, loner.exec(["ip", "-4", "-o", "addr", "show", "eth0"]).stdout)

# %%
# boxkit: needs network
r = loner.exec(["ping", "-c", "1", "-W", "1", web_ip])
print(f"isolated container reachable: ping exit {r.exit_code}:", r.exit_code == 0)
print("isolated container knows the name web:", "web" in loner.exec(["cat", "/etc/hosts"]).stdout)

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
forward = subprocess.run([fw.nft_path(), "list", "chain", "ip", fw.TABLE, "forward"], capture_output=True, text=True)
print("net.ipv4.ip_forward =", int(fw.ip_forward()))
print(forward.stdout or forward.stderr)

# %%
# boxkit: needs network
drops = "drop" in forward.stdout
print("the host forwards nothing (ip_forward 0), or its forward chain drops bridge to bridge:",
      not fw.ip_forward() or drops)

# %% [markdown]
# ## Throughput
#
# `client` streams zeros over TCP to a `sink` container that throws them away, first with the busybox
# tools inside the containers (`dd | nc`), then with Python sockets in two processes placed into the
# same two network namespaces (`setns`). Same veth pairs, same bridge, same TCP stacks; the difference
# is the tool: busybox `nc` copies in small chunks. A veth pair moves packets by a function call — no
# wire, no NIC — so the path runs at the speed of the CPU and the network stack.

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
sink = boxkit.run("busybox", measure.sink_command(5001), detach=True, network="bridge", name="sink")
time.sleep(0.3)
sink_ip = sink.exec(["sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1"]).stdout.strip()
mbps = {
    "busybox dd | nc (in the containers)": measure.throughput(client, "sink", 5001, mbytes=64, repeat=3),
    "python sockets (in their namespaces)": measure.netns_throughput(client.pid, sink.pid, sink_ip, mbytes=512, repeat=3),
}
throughput_figure(mbps)

# %%
# boxkit: needs network
import statistics

nc_mbps, py_mbps = mbps.values()
print(f"streams measured: {len(nc_mbps)} + {len(py_mbps)}, every one:", len(nc_mbps) == 3 and len(py_mbps) == 3)
print(f"the path is faster than the busybox tool: median {statistics.median(py_mbps):.0f} against "
      f"{statistics.median(nc_mbps):.0f} MB/s:", min(py_mbps) > max(nc_mbps))

# %% [markdown]
# ## Cleanup
#
# Stopping a container frees its address and its port; the kernel deletes its veth with its namespace.
# When the last container leaves a network, its bridge goes too: nothing stays on the host.

# %%
# boxkit: needs network
for c in (sink, loner, client, web):
    c.kill()
    c.wait()
    c.remove()
bn.remove_network("private")
ours = {ipam.bridge_name("bridge"), private.bridge}
deadline = time.monotonic() + 5
while ours & set(links.bridges()) and time.monotonic() < deadline:
    time.sleep(0.05)
print("bridges of this notebook left on the host:", sorted(ours & set(links.bridges())))

# %% [markdown]
# ## What was proved
#
# * A new network namespace holds only `lo`, and `lo` is down; one netlink request put a veth pair across
#   it, and the namespace's end — and so the whole pair — went with the namespace.
# * Two containers on a bridge reached each other by name, by ping and by HTTP; a published port took the
#   host's connections to a container's port.
# * A container on a second network reached neither of them.
# * A veth path is as fast as the tools that use it: no wire in between.
#
# ## Exercise
#
# Containers `a` and `b` join the network `bridge`, and `c` a second network, `exercise`. Which pings get
# an answer? Set each pair in `my_prediction` to `True` or `False`. `"host"` is the host: as a target, its
# address on the source's bridge. The check starts the three containers and pings each pair once.

# %%
# boxkit: exercise
my_prediction = {   # True (it answers) or False
    ("a", "b"): ...,
    ("a", "c"): ...,
    ("c", "host"): ...,
    ("host", "c"): ...,
}

# %%
# boxkit: exercise
from boxkit import exercises

exercises.reachability(my_prediction)

# %% [markdown]
# Stuck after a few tries? `exercises.solution("network")` shows one answer and the reasoning behind it.
#
# **Try next:** predict `("c", "a")`, and then ask `c` to ping the host's address on the *other* bridge
# (`10.213.0.1`): the host does not forward between the bridges, but does it answer itself?
#
# Next: [05 — capstone](05-capstone.ipynb), where everything so far becomes one small docker.
