# %% [markdown]
# # 04 — Networks: a namespace, a cable, a switch
#
# *"Network: network isolation."* A container gets a **network namespace** of its own: its own
# interfaces, addresses, routes, ports and firewall. A new one holds only a loopback device, `lo`, and
# that one down: it cannot reach anything, not even the host. Docker then connects it with three
# kernel objects, and so does `boxkit`. Each is made with a **netlink** message: netlink is the socket family through which a program asks the kernel to
# create, change and list interfaces, addresses and routes (`ip` speaks it, and so does `boxkit`).
#
# | kernel object | what it is | made with (netlink message) |
# |---|---|---|
# | **veth pair** | two interfaces joined like the ends of a cable | `RTM_NEWLINK kind=veth` |
# | **bridge** | a switch inside the kernel; the host holds the gateway address on it | `RTM_NEWLINK kind=bridge` |
# | **address + route** | an address from the bridge's subnet on the container's `eth0`, and a default route via the bridge's gateway | `RTM_NEWADDR`, `RTM_NEWROUTE` |
#
# We build one by hand first, with [pyroute2](https://pyroute2.org) (the netlink library `boxkit`
# uses), then let `boxkit` do it for two containers and measure what we built. Then a container
# reaches "the outside" through the host, by outbound NAT.

# %%
# NBVAL_IGNORE_OUTPUT
from boxkit import course

course.start("containers")

# %%
# NBVAL_IGNORE_OUTPUT
import os
import statistics
import subprocess
import time
import urllib.request

import boxkit
import boxkit.net as bn
from boxkit.net import firewall as fw
from boxkit.net import ipam, links, measure
from boxkit.net.topology import snapshot
from boxkit.viz.topology import rtt_figure, topology_figure

# a container's IPv4 address on eth0, as busybox prints it
ADDR = "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1"

# %% [markdown]
# ## Nothing: a new network namespace
#
# `unshare --net` runs a process in a new network namespace (the `unshare(CLONE_NEWNET)` system call).
# We wait until the process's `/proc/PID/ns/net` differs from ours (the namespace exists), then ask
# the kernel, over netlink *inside* that namespace, which interfaces exist. `links.inside(pid)` and
# `links.host()` hand out pyroute2 `IPRoute` objects talking to the process's namespace and to the
# host's; the calls on them are plain pyroute2.

# %%
# boxkit: needs root
lonely = subprocess.Popen(["unshare", "--net", "sleep", "600"])
own_net = os.readlink("/proc/self/ns/net")
for _ in range(500):   # a bounded wait: at most 500 looks, 10 ms apart
    if os.readlink(f"/proc/{lonely.pid}/ns/net") != own_net:
        break
    time.sleep(0.01)
with links.inside(lonely.pid) as ns:
    inside = [(link.get("ifname"), link.get("state")) for link in ns.link("dump")]
inside

# %%
# boxkit: needs root
names = [name for name, _ in inside]
print(f"only lo in the new namespace ({', '.join(names)}):", names == ["lo"])
print(f"lo is down ({inside[0][1]}):", inside[0][1] == "down")

# %% [markdown]
# ## A cable by hand
#
# One netlink request creates a veth pair **and** puts one end into the namespace (`net_ns_pid`); the
# host keeps the other. Each end gets an address and goes up. This is the whole trick.

# %%
# boxkit: needs network
with links.host() as ipr:
    peer = {"ifname": "eth0", "net_ns_pid": lonely.pid}
    ipr.link("add", ifname="bkdemo0", kind="veth", peer=peer)
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
# interface index, which is how the line is found. Then the host pings the namespace's end of the
# cable five times (`measure.ping(None, …)`: `None` means from the host).

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
by_hand = snapshot({"by hand": lonely.pid}, containers=False)
topology_figure(by_hand, title="One namespace, one veth pair")

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
rtts = measure.ping(None, "10.213.250.2", count=5, interval=0.2)
rtts

# %%
# boxkit: needs network
print(f"pings answered ({len(rtts)} of 5):", len(rtts) == 5)

# %% [markdown]
# A namespace lives as long as something holds it: a process in it, an open `/proc/PID/ns/net`, a bind
# mount. Here only `lonely` does, so when it exits the kernel frees the namespace (a kernel worker does
# it moments later, which is why the cell waits), and with it its end of the cable — and a veth pair
# cannot live with one end, so the host's end goes too.

# %%
# boxkit: needs network
lonely.kill()
lonely.wait()
deadline = time.monotonic() + 5
while links.link_exists("bkdemo0") and time.monotonic() < deadline:
    time.sleep(0.01)
left = [n for n in ["bkdemo0"] if links.link_exists(n)]
print(f"host end gone with the namespace (left: {left}):", not left)

# %% [markdown]
# ## Two containers on a bridge
#
# `network="bridge"` does the same with a switch in the middle: the boxkit bridge holds the first
# address of its subnet (the gateway), and each container's veth is a port of it. Which subnet depends
# on the host: when a network is first defined, boxkit gives it the lowest /24 of its pool that no
# route of the host and no other boxkit network uses, and the network keeps it (it moves only if a
# route of the host comes to clash with it). So the cells print the addresses rather than this text.
# `name=` makes the container reachable by name: `boxkit` writes `/etc/hosts` in every container of
# the network and rewrites it when peers come and go.
# `publish=["8080:80"]` adds a destination-NAT entry in the nftables table `ip boxkit`: a connection to
# port 8080 of the host goes to port 80 of the container.

# %%
# boxkit: needs network
serve = "mkdir -p /www && echo hello from web > /www/index.html && httpd -f -p 80 -h /www"
web = boxkit.run("busybox", ["sh", "-c", serve],
                 detach=True, network="bridge", name="web", publish=["8080:80"])
client = boxkit.run("busybox", ["sleep", "600"], detach=True, network="bridge", name="client")

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
print(client.exec(["ip", "-4", "-o", "addr"]).stdout)
print(client.exec(["ip", "route"]).stdout)
print(client.exec(["cat", "/etc/hosts"]).stdout)

# %%
# boxkit: needs network
gateway = {n["name"]: n["gateway"] for n in bn.list_networks()}["bridge"]
route = client.exec(["ip", "route"]).stdout
via = next((ln.split()[2] for ln in route.splitlines() if ln.startswith("default via ")), None)
print(f"client's default route goes via {via}, the bridge's gateway ({gateway}):", via == gateway)

# %% [markdown]
# The topology as the kernel reports it, with the published port: a dashed arrow from the host's port
# 8080 to the container whose address the DNAT rule rewrites it to (the rule is explained below).

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
ports = fw.published()
topology_figure(snapshot(), ports=ports, rule=fw.dnat_rule())

# %%
# boxkit: needs network
web_ip = web.exec(["sh", "-c", ADDR]).stdout.strip()
to_addr, to_port = ports.get(("tcp", 8080), ("", 0))
print(f"port 8080 is rewritten to {to_addr}:{to_port}, web's eth0 port 80 ({web_ip}:80):",
      (to_addr, to_port) == (web_ip, 80))

# %% [markdown]
# ## Round trips
#
# `ping` by name, from `client` to `web`: the packet goes `eth0` → veth → bridge → veth → `eth0`, all
# inside one kernel. For comparison, `client` pings its own loopback, where the packet never leaves
# the namespace, and the host pings `web` from its address on the bridge: through the bridge and one
# veth pair.

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
rtt = {
    "client → web (bridge)": measure.ping(client, "web", count=20, interval=0.05),
    "client → 127.0.0.1 (lo)": measure.ping(client, "127.0.0.1", count=20, interval=0.05),
    "host → web": measure.ping(None, web_ip, count=20, interval=0.05),
}
rtt_figure(rtt)

# %%
# boxkit: needs network
bridged, loop, host_rtts = (rtt[k] for k in rtt)
print(f"reachable by name ({len(bridged)} of 20 pings):", len(bridged) == 20)
print(f"reachable from the host ({len(host_rtts)} of 20 pings):", len(host_rtts) == 20)

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
# times depend on how busy the machine is: the fastest of 20 round trips is the steadiest measure
med_bridge, med_lo = statistics.median(bridged), statistics.median(loop)
med_host = statistics.median(host_rtts)
print(f"medians: bridge {med_bridge:.3f} ms, loopback {med_lo:.3f} ms, host {med_host:.3f} ms")
ratio = min(bridged) / min(loop)
print(f"the fastest bridge round trip takes {ratio:.2f} times loopback's, less than ten:", ratio < 10)
ratio = min(host_rtts) / min(loop)
print(f"the fastest host round trip takes {ratio:.2f} times loopback's, less than ten:", ratio < 10)

# %% [markdown]
# Read the two rows of `client`. Through the bridge a ping crosses two veth pairs and the bridge, there
# and back; through `lo` it never leaves the namespace. Yet the rows are of one size: the fastest round
# trips are within ten times of each other (their ratios are printed above), and so is the host's row. A veth pair and the loopback device deliver a packet the
# same way: the sending side puts it on the CPU's backlog queue (`netif_rx`) and the kernel processes
# it moments later, with no wire, no network card and no copy; the bridge is one lookup on the way. At
# this scale ping mostly measures itself (waking up, sending, being woken by the reply), the same in
# every row, so which of two medians this close is lower tells little.

# %% [markdown]
# ## HTTP by name, and through a published port
#
# `web` runs busybox `httpd`. `client` fetches it by name; the notebook (on the host) fetches it through
# port 8080 of `127.0.0.1`, which the kernel rewrites to `web`'s port 80.

# %%
# boxkit: needs network
by_name = client.exec(["wget", "-q", "-O", "-", "http://web/"]).stdout.strip()
with urllib.request.urlopen("http://127.0.0.1:8080/", timeout=5) as r:
    from_host = r.read().decode().strip()
print(f"client fetched web by name ({by_name!r}):", by_name == "hello from web")
print(f"the host fetched 127.0.0.1:8080 ({from_host!r}):", from_host == "hello from web")

# %% [markdown]
# How does `127.0.0.1:8080` reach a container? No process listens on 8080 (a cell below checks): an
# nftables rule rewrites the packet's destination (**DNAT**, destination NAT) from a map of published
# ports. For packets that arrive from elsewhere the rule sits in the `prerouting` chain, before they
# are routed; for the host's own connections, like this one, in the `output` chain, after the
# socket's route lookup, and the kernel then routes the rewritten packet again. That packet still
# carries the source 127.0.0.1, and the kernel's route lookup refuses a 127/8 source on any interface
# but `lo` (a *martian* address, in the words of the `route_localnet` documentation), so boxkit sets
# `route_localnet=1` on the bridge. The reply must come back too, and a
# container cannot answer 127.0.0.1 (that is its own loopback), so a `postrouting` rule
# **masquerades** such packets: masquerade is source NAT, rewriting a packet's *source* address to
# the host's own address on the interface it leaves by (here the bridge's gateway); connection
# tracking (conntrack) remembers the rewrite and undoes it on the replies. (A `guard` chain drops
# 127/8 packets arriving *from* a bridge: `route_localnet` alone would let a container reach the
# host's 127.0.0.1 services, CVE-2020-8558.) Here is the table, as `nft list table ip boxkit` prints
# it; each masquerade rule carries a `counter`:

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
nft = [fw.nft_path(), "list", "table", "ip", fw.TABLE]
print(subprocess.run(nft, capture_output=True, text=True).stdout)
bridge = ipam.bridge_name("bridge")
localnet = open(f"/proc/sys/net/ipv4/conf/{bridge}/route_localnet").read().strip()
print(f"route_localnet on {bridge}:", localnet)

# %% [markdown]
# The masquerade rule for 127/8 runs for the first packet of a connection only (conntrack handles the
# rest), so its counter counts connections: the fetch from `127.0.0.1:8080` above is one.

# %%
# boxkit: needs network
listening = [line.split()[1] for name in ("/proc/net/tcp", "/proc/net/tcp6")
             for line in open(name).read().splitlines()[1:]
             if line.split()[1].endswith(":1F90") and line.split()[3] == "0A"]   # 8080, LISTEN
print(f"no socket of the host listens on port 8080 ({len(listening)} found):", not listening)
print(f"route_localnet on the bridge of network bridge ({localnet}) is 1:", localnet == "1")
rule, counted = measure.masquerade_rules().get("127.0.0.0/8", ("", None))
print(f"a postrouting rule masquerades 127/8 into the bridges, counted {counted} connection(s):",
      "masquerade" in rule and (counted or 0) >= 1)

# %% [markdown]
# ## Isolation
#
# A second network is a second bridge with another subnet. Its containers are not plugged into the
# first switch. Could the host carry packets between the two bridges? That is not a property of
# bridges: a Linux host routes between its interfaces only when `net.ipv4.ip_forward` is 1. boxkit
# turns it on when a network asks for outbound NAT (`--nat`, below) and leaves it on, as docker does;
# other software on a host may have turned it on before. Once it is on, boxkit's nftables `forward`
# chain drops traffic from one boxkit bridge to another — what docker's `DOCKER-ISOLATION` chains do.

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
private = bn.create_network("private")
loner = boxkit.run("busybox", ["sleep", "600"], detach=True, network="private", name="loner")
print(private.subnet, loner.exec(["ip", "-4", "-o", "addr", "show", "eth0"]).stdout)

# %%
# boxkit: needs network
r = loner.exec(["ping", "-c", "1", "-W", "1", web_ip])
print(f"web is out of reach from the private network (ping exit {r.exit_code}):", r.exit_code != 0)
hosts = loner.exec(["cat", "/etc/hosts"]).stdout
print(f"the name web is unknown there ({len(hosts.splitlines())} lines in /etc/hosts):",
      "web" not in hosts)

# %% [markdown]
# Which of the two keeps the bridges apart on this host, `ip_forward` off or the `forward` chain? The
# cell prints `ip_forward` as measured, what it means here, and boxkit's `forward` chain.

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
forwarding = int(fw.ip_forward())
nat_nets = [n["name"] for n in bn.list_networks() if n["nat"]]
print("net.ipv4.ip_forward =", forwarding)
if not forwarding:
    print("Off: this host routes nothing between its interfaces, so no packet crosses bridges.")
elif nat_nets:
    print(f"On: the NAT network(s) {', '.join(nat_nets)} turned it on.")
else:
    print("On, and no boxkit network here asks for NAT: something else on this host turned it on"
          " (or an earlier --nat network, which boxkit leaves on). The forward chain decides.")
chain = [fw.nft_path(), "list", "chain", "ip", fw.TABLE, "forward"]
forward = subprocess.run(chain, capture_output=True, text=True)
print(forward.stdout or forward.stderr)

# %%
# boxkit: needs network
drops = "drop" in forward.stdout
print(f"no path between the bridges (ip_forward {forwarding}, a drop rule in forward: {drops}):",
      not forwarding or drops)

# %% [markdown]
# ## Outbound NAT: a container reaches the outside
#
# So far a container reached its peers and the host. Reaching *beyond* the host takes two things. The
# host must **route** the container's packets on (`ip_forward`). And the outside must be able to
# answer: a container's subnet is private to this host, and no machine outside knows a route back to
# it. So the host **masquerades** (see above) every packet that leaves a NAT network toward anything
# but a boxkit bridge: its source becomes the host's address on the outgoing interface.
# `boxkit network create --nat` (`bn.create_network(name, nat=True)`) only writes the network down.
# When its first container starts and its bridge comes up, boxkit turns `ip_forward` on and adds the
# network's subnet to the set `nat_nets` of the table (it takes the subnet out when the bridge goes);
# one `postrouting` rule masquerades what comes from that set, and its counter counts the connections
# it rewrote.
#
# The outside here is local, made by this notebook: a network namespace joined to the host by a veth
# pair, like the cable by hand above, with addresses from a range reserved for documentation
# (RFC 5737) and no route beyond its own link. Its one process is a small web server that answers
# every request with the source address it saw (`measure.Outside`).

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
forwarding_before = fw.ip_forward()
outside = measure.Outside().start()
outbound = bn.create_network("outbound", nat=True)
roamer = boxkit.run("busybox", ["sleep", "600"], detach=True, network="outbound", name="roamer")
roamer_ip = roamer.exec(["sh", "-c", ADDR]).stdout.strip()
print(f"the outside: {outside.address}; the host's end, {outside.ifname}: {outside.host_address}")
print(f"network outbound: subnet {outbound.subnet}, nat {outbound.nat}; roamer: {roamer_ip}")
print(f"net.ipv4.ip_forward: {int(forwarding_before)} before, {int(fw.ip_forward())} now")
nft_set = [fw.nft_path(), "list", "set", "ip", fw.TABLE, "nat_nets"]
nat_set = subprocess.run(nft_set, capture_output=True, text=True).stdout
elements = [line.strip() for line in nat_set.splitlines() if "elements" in line]
print("set nat_nets:", elements[0] if elements else "no elements")
print(measure.masquerade_rules()["@nat_nets"][0])

# %% [markdown]
# `roamer` fetches the outside's page five times, each a new TCP connection, then pings it three times
# (one ICMP flow: ping keeps one identifier, and conntrack tracks the echo requests by it). The
# counter is read before and after each.

# %%
# boxkit: needs network
# NBVAL_IGNORE_OUTPUT
FETCHES = 5
url = f"http://{outside.address}:{outside.port}/"
before = measure.masquerade_rules()["@nat_nets"][1]
seen = [roamer.exec(["wget", "-q", "-O", "-", url]).stdout.strip() for _ in range(FETCHES)]
after_fetches = measure.masquerade_rules()["@nat_nets"][1]
pinged = roamer.exec(["ping", "-c", "3", "-i", "0.2", outside.address])
after_ping = measure.masquerade_rules()["@nat_nets"][1]
print("source addresses the outside saw:", seen)
print(f"the nat_nets rule's counter: {before} -> {after_fetches} -> {after_ping} packets")

# %%
# boxkit: needs network
print(f"outbound's subnet is in the set nat_nets ({outbound.subnet}):", outbound.subnet in nat_set)
print(f"net.ipv4.ip_forward is on ({int(fw.ip_forward())}):", fw.ip_forward())
print(f"fetches the outside answered ({sum(map(bool, seen))} of {FETCHES}):", all(seen))
print(f"the outside saw the host's address {sorted(set(seen))}, not roamer's {roamer_ip}:",
      set(seen) == {outside.host_address})
rose = after_fetches - before
print(f"the masquerade counter rose by {rose} packets for {FETCHES} connections:", rose == FETCHES)
rose = after_ping - after_fetches
print(f"3 pings (exit {pinged.exit_code}), one flow: the counter rose by {rose}:",
      pinged.exit_code == 0 and rose == 1)

# %% [markdown]
# The outside answered a host it can see on its own link; it never learned `roamer`'s address. Every
# reply came back to the host, and conntrack rewrote its destination back to `roamer`. The counter
# rose once per connection, not once per packet: the rule decides at a connection's first packet,
# and conntrack applies the decision to the rest.

# %% [markdown]
# ## Cleanup
#
# Stopping a container frees its address and its port; the kernel deletes its veth with its namespace.
# A network stays defined until `remove_network` (`boxkit network rm`, like `docker network rm`), which
# also takes its bridge down at once; the default network's bridge goes by itself once its last
# container has left (boxkit removes an idle bridge when it has nothing else to do). The outside's veth
# goes with its namespace. boxkit leaves `ip_forward` on after a NAT network (docker does the same:
# another network may still need it); this notebook puts back the value it found before the NAT
# section.

# %%
# boxkit: needs network
ours = {ipam.bridge_name("bridge"), private.bridge, outbound.bridge, outside.ifname}
ours |= {ipam.veth_name(c.id) for c in (roamer, loner, client, web)}
for c in (roamer, loner, client, web):
    c.kill()
    c.wait()
    c.remove()
bn.remove_network("private")
bn.remove_network("outbound")
outside.close()
if not forwarding_before and fw.ip_forward():
    with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
        f.write("0")
deadline = time.monotonic() + 5
while any(map(links.link_exists, ours)) and time.monotonic() < deadline:
    time.sleep(0.05)
left = sorted(name for name in ours if links.link_exists(name))
print(f"bridges and veths of this notebook left on the host ({left}):", not left)
kept = fw.published().get(("tcp", 8080))
print(f"port 8080 gone from the DNAT map (its entry now: {kept}):", kept is None)
now = fw.ip_forward()
print(f"net.ipv4.ip_forward as this notebook found it ({int(now)}):", now == forwarding_before)

# %% [markdown]
# ## What was proved
#
# * A new network namespace holds only `lo`, and `lo` is down; one netlink request put a veth pair across
#   it, and the namespace's end — and so the whole pair — went with the namespace.
# * Two containers on a bridge reached each other by name, by ping and by HTTP; a published port took the
#   host's connections to a container's port, and a counted masquerade rule brought the replies back.
# * A round trip over a bridge cost the same order of time as one over loopback: no wire in between.
# * A container on a second network did not reach `web`, by address or by name.
# * A container on a `--nat` network reached a namespace beyond the host's network namespace, and that
#   namespace saw only the host's address; the masquerade counter rose once per connection.
#
# ## Exercise
#
# Containers `a` and `b` join the network `bridge`, and `c` a second network, `exercise`; neither
# network is made with `--nat`. `outside` is a namespace like the one above. `"host@bridge"` is the
# host's address on the network `bridge` (the gateway of `a` and `b`), `"host@exercise"` its address on `exercise`
# (the gateway of `c`). Which pings get an answer? Set each pair in `my_prediction` to `True` or
# `False`. The check starts the three containers and the outside, and pings each pair once.

# %%
# boxkit: exercise
my_prediction = {   # True (it answers) or False
    ("c", "host@bridge"): ...,
    ("a", "host@exercise"): ...,
    ("a", "outside"): ...,
    ("outside", "c"): ...,
}

# %%
# boxkit: exercise
from boxkit import exercises

exercises.reachability(my_prediction)

# %% [markdown]
# Stuck after a few tries? `exercises.solution("network")` shows one answer and the reasoning behind it.
#
# **Try next:** add `("c", "outside")` and `("outside", "host")` to `my_prediction` (`"host"` alone is
# the host's address on the pinger's own link), predict, and run the check again. Which of your
# answers would change if `exercise` were made with `--nat`?
#
# Next: [05 — capstone](05-capstone.ipynb), where everything so far becomes one small docker.
