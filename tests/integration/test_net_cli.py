"""`boxkit network ...` and `boxkit run --network/-p/--name` from the command line: one sentence and exit
125 on bad input, nothing left behind. Runs the real CLI in a subprocess under a private BOXKIT_ROOT."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: creates bridges and containers"),
    pytest.mark.skipif(not shutil.which("busybox"), reason="needs busybox-static (apt-get install busybox-static)"),
]


def boxkit(*argv: str, root: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, BOXKIT_ROOT=root)
    return subprocess.run([sys.executable, "-m", "boxkit", *argv], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.fixture
def rootfs(tmp_path):
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    for d in ("proc", "sys", "dev", "etc", "tmp"):
        (root / d).mkdir()
    shutil.copy2(shutil.which("busybox"), root / "bin" / "busybox")
    for applet in ("sh", "cat", "ip", "true"):
        os.symlink("busybox", root / "bin" / applet)
    return str(root)


def _bk_links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    names = {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}
    return {n for n in names if n.startswith("bk")}


def test_network_verbs(tmp_root):
    r = boxkit("network", "create", "front", "--subnet", "10.213.91.0/24", root=tmp_root)
    assert r.returncode == 0 and "10.213.91.0/24" in r.stdout
    r = boxkit("network", "ls", root=tmp_root)
    assert r.returncode == 0 and r.stdout.splitlines()[0].split()[:3] == ["NAME", "BRIDGE", "SUBNET"]
    assert any(line.startswith("front ") for line in r.stdout.splitlines())
    r = boxkit("network", "create", "front", root=tmp_root)
    assert r.returncode == 125 and r.stderr.count("\n") == 1 and "it exists" in r.stderr
    r = boxkit("network", "rm", "front", root=tmp_root)
    assert r.returncode == 0
    r = boxkit("network", "rm", "front", root=tmp_root)
    assert r.returncode == 125 and "no such network 'front'" in r.stderr


@pytest.mark.parametrize("argv,says", [
    (["network", "create", "Bad"], "invalid network name 'Bad'"),
    (["network", "create", "x", "--subnet", "10.1.2.3/24"], "invalid subnet"),
])
def test_network_bad_input(tmp_root, argv, says):
    r = boxkit(*argv, root=tmp_root)
    assert r.returncode == 125 and says in r.stderr and r.stderr.count("\n") == 1
    assert "Traceback" not in r.stderr


def test_subnet_clash_with_a_host_route(tmp_root):
    route = subprocess.run(["ip", "-4", "-o", "route", "show", "scope", "link"], capture_output=True,
                           text=True).stdout.split()
    if not route or "/" not in route[0]:
        pytest.skip("needs a link-scope IPv4 route on the host to clash with")
    r = boxkit("network", "create", "clash", "--subnet", route[0], root=tmp_root)
    assert r.returncode == 125 and "overlaps" in r.stderr and r.stderr.count("\n") == 1


def test_run_with_network_name_and_bad_input(tmp_root, rootfs):
    from boxkit.net.ipam import bridge_name

    ours = {bridge_name("bridge", tmp_root)}   # other runs may hold bk* links on this host meanwhile
    r = boxkit("run", "--rm", "--rootfs", "--network", "bridge", "--name", "web", rootfs, "cat", "/etc/hosts", root=tmp_root)
    assert r.returncode == 0, r.stderr
    assert "\tweb " in r.stdout
    for argv, says in (
        (["--network", "nowhere"], "no such network 'nowhere'"),
        (["--network", "bridge", "-p", "80"], "invalid port mapping '80'"),
        (["--network", "bridge", "-p", "1:2:3"], "invalid port mapping"),
    ):
        r = boxkit("run", "--rm", "--rootfs", *argv, rootfs, "true", root=tmp_root)
        assert r.returncode == 125 and says in r.stderr and r.stderr.count("\n") == 1, r.stderr
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    try:
        port = s.getsockname()[1]
        r = boxkit("run", "--rm", "--rootfs", "--network", "bridge", "-p", f"{port}:80", rootfs, "true", root=tmp_root)
        assert r.returncode == 125 and f"cannot publish port {port}/tcp: it is in use on the host" in r.stderr
    finally:
        s.close()
    boxkit("gc", root=tmp_root)
    import time

    deadline = time.monotonic() + 5
    while _bk_links() & ours and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (_bk_links() & ours)
