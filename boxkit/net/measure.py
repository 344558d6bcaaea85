"""Measuring a container network: round-trip times with ping, throughput with dd and nc.

Both measurements run *inside* containers, with the busybox tools of the course image, so they cross
exactly the path a container's own traffic takes: ``eth0`` → veth → bridge → veth → ``eth0``.

* **ping** sends ICMP echo requests; the time printed per reply is the round trip through both
  network stacks and the bridge, typically tens of microseconds on one host — the cost of the veth
  pair is a function call, not a wire.
* **throughput**: ``dd if=/dev/zero | nc PEER PORT`` streams zeros over TCP to a peer that throws them
  away (``nc -l > /dev/null``). busybox ``date`` has no sub-second clock, so the time is the wall time
  of the ``exec`` minus that of an ``exec`` of ``true`` (the cost of entering the container, a few ms).
  Send enough (hundreds of MB) that this correction is small.

busybox ``nc`` copies in small chunks with a ``poll`` per chunk and tops out near 50 MB/s on a
small VM: it measures itself, not the network. :func:`netns_throughput` therefore also streams with
Python sockets from a process placed (``setns``) into the sender container's network namespace to one
in the receiver's: the same veth, bridge and TCP stacks, with large buffers. Comparing the two shows
that the path is much faster than the busybox tool.

The parsing is separate (:func:`parse_ping`) so that it is tested without containers.
"""

from __future__ import annotations

import re
import shutil
import subprocess

_RTT = re.compile(r"time[=<]([\d.]+) ?ms")


def parse_ping(text: str) -> list[float]:
    """Round-trip times in ms from ping's output (busybox and iputils print ``time=0.123 ms``)."""
    return [float(m.group(1)) for m in _RTT.finditer(text)]


def ping(container, target: str, count: int = 10, interval: float = 0.2) -> list[float]:
    """RTTs in ms of ``count`` pings from ``container`` to ``target`` (from the host if container is None)."""
    argv = ["ping", "-c", str(count), "-i", str(interval), "-W", "2", target]
    if container is None:
        bb = shutil.which("busybox")
        if not bb:
            raise FileNotFoundError("busybox is needed to ping from the host (apt-get install busybox-static)")
        out = subprocess.run([bb, *argv], capture_output=True, text=True, timeout=count * interval + 10).stdout
    else:
        out = container.exec(argv, timeout=count * interval + 10).stdout
    return parse_ping(out)


def sink_command(port: int = 5001) -> list[str]:
    """The command of a container that accepts TCP streams on ``port`` and discards them, one after another.

    busybox nc has no ``-k``, so a shell loop listens again after each connection. A listening nc also
    copies its stdin to the peer and hangs up when its stdin ends; a FIFO opened read-write (``3<>``)
    is an stdin that never ends and never sends.
    """
    return ["sh", "-c", f"mkfifo /tmp/.sink && exec 3<>/tmp/.sink && "
            f"while true; do nc -l -p {port} <&3 > /dev/null; done"]


def throughput(client, target: str, port: int = 5001, mbytes: int = 256, repeat: int = 3) -> list[float]:
    """MB/s of ``repeat`` TCP streams of ``mbytes`` MB from ``client`` to ``target:port`` (a sink)."""
    import time

    blocks = mbytes * 16   # 64 KiB blocks
    base = min(client.exec(["true"]).wall_time for _ in range(3))
    out = []
    for _ in range(repeat):
        r = client.exec(["sh", "-c", f"dd if=/dev/zero bs=64k count={blocks} 2>/dev/null | nc {target} {port}"],
                        timeout=120)
        if r.exit_code != 0:
            raise RuntimeError(f"stream to {target}:{port} failed: {r.stderr.strip()}")
        out.append(mbytes / max(r.wall_time - base, 1e-6))
        time.sleep(0.1)   # the sink listens again
    return out


_RECV = r"""
import os, socket, sys, time
from boxkit._sys import SYS, CLONE_NEWNET
fd = os.open(f"/proc/{sys.argv[1]}/ns/net", os.O_RDONLY); SYS.setns(fd, CLONE_NEWNET)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[2]))); s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
buf = bytearray(1 << 20); n = 0; t0 = None
while True:
    k = c.recv_into(buf)
    if t0 is None: t0 = time.perf_counter()
    if not k: break
    n += k
print(n, time.perf_counter() - t0, flush=True)
"""

_SEND = r"""
import os, socket, sys
from boxkit._sys import SYS, CLONE_NEWNET
fd = os.open(f"/proc/{sys.argv[1]}/ns/net", os.O_RDONLY); SYS.setns(fd, CLONE_NEWNET)
c = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=30)
chunk = bytes(1 << 20)
for _ in range(int(sys.argv[4])):
    c.sendall(chunk)
c.close()
"""


def netns_throughput(src_pid: int, dst_pid: int, dst_address: str, port: int = 5002, mbytes: int = 512,
                     repeat: int = 3) -> list[float]:
    """MB/s of TCP streams between processes put into the network namespaces of two containers."""
    import sys

    out = []
    for _ in range(repeat):
        recv = subprocess.Popen([sys.executable, "-c", _RECV, str(dst_pid), str(port)], stdout=subprocess.PIPE,
                                text=True)
        try:
            assert recv.stdout is not None
            if recv.stdout.readline().strip() != "ready":
                raise RuntimeError("the receiver did not start")
            subprocess.run([sys.executable, "-c", _SEND, str(src_pid), dst_address, str(port), str(mbytes)],
                           check=True, timeout=120)
            n, secs = recv.stdout.readline().split()
            out.append(int(n) / (1 << 20) / max(float(secs), 1e-6))
        finally:
            if recv.poll() is None:
                recv.kill()
            recv.wait()
    return out
