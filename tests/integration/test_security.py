"""Security layers, for real: the default seccomp filter, --security-opt, --cap-add/--cap-drop and
--privileged, each checked by what the kernel answers inside a real container.

Calls are made from a small Python program in the ``host`` image (ctypes, the raw syscall numbers for
the calls glibc does not wrap) that prints the errno each call got (0: it worked). Needs root.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import boxkit
from boxkit import _sys
from boxkit.runtime import caps

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: starts real containers"),
              pytest.mark.skipif(not _sys.seccomp_available(),
                                 reason="needs seccomp filters and libseccomp.so.2 (apt-get install libseccomp2)")]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PODMAN_PROFILE = "/usr/share/containers/seccomp.json"
PY = os.path.realpath(sys.executable)   # the host image holds the real interpreter at its host path

# each call: what it does when seccomp lets it through is known to succeed for the container's root
PROBE = textwrap.dedent(r'''
    import ctypes, json, os, socket, sys
    libc = ctypes.CDLL(None, use_errno=True)
    NR = {"x86_64": {"add_key": 248, "keyctl": 250},
          "aarch64": {"add_key": 217, "keyctl": 219}}[os.uname().machine]
    def call(fn):
        ctypes.set_errno(0)
        try:
            r = fn()
        except OSError as e:
            return e.errno
        return ctypes.get_errno() if r == -1 else 0
    calls = {
        "getpid": lambda: libc.getpid() * 0,
        "mkdir": lambda: libc.mkdir(b"/tmp/probe-dir", 0o755),
        "chroot": lambda: libc.chroot(b"/"),
        "personality": lambda: libc.personality(0x0040000),          # ADDR_NO_RANDOMIZE
        "keyctl": lambda: libc.syscall(NR["keyctl"], 0, -2, 1),      # KEYCTL_GET_KEYRING_ID, process, create
        "add_key": lambda: libc.syscall(NR["add_key"], b"user", b"boxkit-test", b"x", 1, -2),
        "vsock": lambda: socket.socket(40, socket.SOCK_STREAM).close(),
        "unshare_user": lambda: libc.unshare(0x10000000),            # last: it changes our creds
    }
    print(json.dumps({k: call(v) for k, v in calls.items()}))
''')

# what docker's default profile decides for the probe's calls, as root with docker's 14 capabilities
DOCKER_DEFAULT = {"getpid": 0, "mkdir": 0, "chroot": 0, "personality": errno.EPERM,
                  "keyctl": errno.EPERM, "add_key": errno.EPERM, "vsock": errno.EPERM,
                  "unshare_user": errno.EPERM}


def probe(**kw) -> dict:
    r = boxkit.run("host", [PY, "-S", "-c", PROBE], timeout=60, **kw)
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def status(text: str, key: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith(key + ":"))


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "boxkit", *args], capture_output=True, text=True,
                          timeout=120, cwd=REPO)


def test_default_filter_in_container_and_exec():
    with boxkit.run("host", ["sleep", "30"], detach=True) as c:
        assert status(open(f"/proc/{c.pid}/status").read(), "Seccomp") == "2"
        inside = c.exec(["cat", "/proc/self/status"])
        assert status(inside.stdout, "Seccomp") == "2", inside.stdout
        assert status(inside.stdout, "NoNewPrivs") == "1"
        refused = c.exec(["unshare", "-U", "-r", "true"])
        assert refused.exit_code != 0 and "Operation not permitted" in refused.stderr, refused


def test_default_profile_decides_as_dockers():
    assert probe() == DOCKER_DEFAULT


def test_nested_user_namespace_mount_refused_and_unconfined_allows():
    cmd = "unshare -U -r -m sh -c 'mount -t tmpfs x /tmp && echo mounted'"
    r = boxkit.run("host", cmd, timeout=30)
    assert r.exit_code != 0 and "mounted" not in r.stdout and "Operation not permitted" in r.stderr, r
    r = boxkit.run("host", cmd, timeout=30, security_opt=["seccomp=unconfined"])
    assert r.exit_code == 0 and "mounted" in r.stdout, r


def test_unconfined_changes_the_decisions():
    got = probe(security_opt=["seccomp=unconfined"])
    assert got["keyctl"] == 0 and got["add_key"] == 0 and got["unshare_user"] == 0, got
    assert got["personality"] == 0 and got["vsock"] != errno.EPERM, got
    with boxkit.run("host", ["sleep", "30"], detach=True, security_opt=["seccomp=unconfined"]) as c:
        assert status(c.exec(["cat", "/proc/self/status"]).stdout, "Seccomp") == "0"


def test_cap_sys_admin_opens_the_gated_calls():
    # docker's profile: with CAP_SYS_ADMIN, unshare/clone with namespace flags are allowed
    got = probe(cap_add=["SYS_ADMIN"])
    assert got["unshare_user"] == 0 and got["keyctl"] == errno.EPERM, got


def test_profile_file_changes_the_decisions(tmp_path):
    prof = tmp_path / "deny-mkdir.json"
    prof.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES}]}))
    got = probe(security_opt=[f"seccomp={prof}"])
    assert got["mkdir"] == errno.EACCES and got["keyctl"] == 0 and got["getpid"] == 0, got


def test_ordinary_programs_work():
    py = boxkit.run("host", [PY, "-c", textwrap.dedent("""
        import http.server, threading, urllib.request, subprocess, json
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        body = urllib.request.urlopen(f"http://127.0.0.1:{srv.server_address[1]}/").read()
        out = subprocess.run(["sh", "-c", "echo $((6*7))"], capture_output=True, text=True).stdout
        print(json.dumps({"http": len(body) > 0, "sh": out.strip()}))
    """)], timeout=60)
    assert py.exit_code == 0, py.stderr
    assert json.loads(py.stdout) == {"http": True, "sh": "42"}
    bb = boxkit.run("busybox", "for i in 1 2 3; do echo $i; done | wc -l; ls / >/dev/null && ps >/dev/null "
                    "&& (httpd -p 127.0.0.1:8080 -h / && wget -q -O - http://127.0.0.1:8080/etc/passwd | head -1)",
                    timeout=30)
    assert bb.exit_code == 0 and bb.stdout.split()[0] == "3" and "root:" in bb.stdout, bb


def test_cap_add_net_admin_lets_ip_link_add_work_and_nothing_else():
    cmd = "ip link add v0 type veth peer name v1 && echo added; grep CapEff /proc/self/status"
    plain = boxkit.run("host", cmd, timeout=30)
    assert "added" not in plain.stdout and "Operation not permitted" in plain.stderr, plain
    r = boxkit.run("host", cmd, timeout=30, cap_add=["NET_ADMIN"])
    assert "added" in r.stdout, r
    eff = int(status(r.stdout, "CapEff"), 16)
    assert eff == caps.DEFAULT_MASK | 1 << _sys.CAPABILITIES["CAP_NET_ADMIN"]


def test_cap_drop_all_and_names_as_docker_spells_them():
    r = boxkit.run("host", "grep CapEff /proc/self/status; chown 1 /tmp && echo chowned", timeout=30,
                   cap_drop=["ALL"], cap_add=["cap_chown"])
    assert int(status(r.stdout, "CapEff"), 16) == 1 << _sys.CAPABILITIES["CAP_CHOWN"]
    assert "chowned" in r.stdout, r
    r = boxkit.run("host", ["grep", "CapEff", "/proc/self/status"], timeout=30, cap_add=["ALL"])
    assert int(status(r.stdout, "CapEff"), 16) == _sys.SYS.capget()[1]   # all that the host gives
    r = boxkit.run("host", "chown 1 /tmp && echo chowned", timeout=30, cap_drop=["CHOWN"])
    assert "chowned" not in r.stdout and "Operation not permitted" in r.stderr, r


def test_no_new_privileges_false():
    r = boxkit.run("host", ["cat", "/proc/self/status"], timeout=30,
                   security_opt=["no-new-privileges=false"])
    assert status(r.stdout, "NoNewPrivs") == "0" and status(r.stdout, "Seccomp") == "2", r.stdout


def test_privileged_gives_what_dockers_gives():
    disks = [n for n in os.listdir("/dev") if n.startswith(("vd", "sd", "nvme", "xvd", "loop"))]
    cmd = "cat /proc/self/status /proc/self/mountinfo; ls /dev"
    normal = boxkit.run("host", cmd, timeout=30)
    r = boxkit.run("host", cmd, timeout=30, privileged=True)
    assert r.exit_code == 0, r.stderr
    held = _sys.SYS.capget()[1]
    assert int(status(r.stdout, "CapEff"), 16) == held
    assert status(r.stdout, "Seccomp") == "0" and status(normal.stdout, "Seccomp") == "2"

    def mount_opts(out: str, point: str) -> list[str] | None:
        for line in out.splitlines():
            f = line.split()
            if len(f) > 5 and f[4] == point:
                return f[5].split(",")
        return None
    assert "rw" in mount_opts(r.stdout, "/sys") and "ro" in mount_opts(normal.stdout, "/sys")
    assert mount_opts(normal.stdout, "/proc/sys") is not None and "ro" in mount_opts(normal.stdout, "/proc/sys")
    assert mount_opts(r.stdout, "/proc/sys") is None      # no read-only /proc/sys
    assert mount_opts(normal.stdout, "/proc/keys") is not None and mount_opts(r.stdout, "/proc/keys") is None
    if disks:
        listed = r.stdout.split()
        assert disks[0] in listed and disks[0] not in normal.stdout.split()


@pytest.mark.skipif(not os.path.exists(PODMAN_PROFILE), reason=f"needs podman's profile at {PODMAN_PROFILE}")
def test_podmans_profile_applied_as_written():
    with open(PODMAN_PROFILE) as f:
        prof = json.load(f)
    names = {"getpid": "getpid", "mkdir": "mkdir", "chroot": "chroot", "keyctl": "keyctl",
             "add_key": "add_key", "unshare_user": "unshare"}
    expected = {k: podman_decision(prof, n) for k, n in names.items()}
    # personality with a flag no rule lists: the profile's default action (podman: ENOSYS)
    expected["personality"] = prof.get("defaultErrnoRet", errno.EPERM)
    got = probe(security_opt=[f"seccomp={PODMAN_PROFILE}"])
    assert {k: got[k] for k in expected} == expected, (got, expected)
    assert expected["personality"] != DOCKER_DEFAULT["personality"] or expected != DOCKER_DEFAULT


def podman_decision(prof: dict, name: str) -> int:
    """What a profile says for an argument-free call as root with docker's 14 capabilities on amd64:
    0 when allowed, else the errno. Read straight from the JSON, independently of boxkit's code."""
    held = set(caps.DEFAULT_CAPS)
    for rule in prof["syscalls"]:
        if name not in rule["names"] or rule.get("args"):
            continue
        inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
        if inc.get("caps") and not set(inc["caps"]) <= held:
            continue
        if exc.get("caps") and set(exc["caps"]) & held:
            continue
        if inc.get("arches") and "amd64" not in inc["arches"]:
            continue
        if rule["action"] == "SCMP_ACT_ALLOW":
            return 0
        return rule.get("errnoRet") or errno.EPERM
    return prof.get("defaultErrnoRet", errno.EPERM)


@pytest.mark.parametrize("content, field", [
    ("{not json", "is not valid JSON"),
    ('{"defaultAction": "SCMP_ACT_NOPE"}', "defaultAction"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", '
     '"args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}', "syscalls[0].args[0].index"),
])
def test_malformed_profile_is_one_sentence_and_125(tmp_path, content, field):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    r = cli("run", "--rm", "--security-opt", f"seccomp={bad}", "host", "true")
    assert r.returncode == 125, r
    assert str(bad) in r.stderr and field in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_cli_flags():
    r = cli("run", "--rm", "--cap-add", "NET_ADMIN", "--security-opt", "seccomp=unconfined", "host",
            "sh", "-c", "grep -E 'Seccomp:|CapEff' /proc/self/status")
    assert r.returncode == 0, r.stderr
    assert status(r.stdout, "Seccomp") == "0"
    assert int(status(r.stdout, "CapEff"), 16) & 1 << _sys.CAPABILITIES["CAP_NET_ADMIN"]
    r = cli("run", "--rm", "--privileged", "host", "grep", "Seccomp:", "/proc/self/status")
    assert r.returncode == 0 and status(r.stdout, "Seccomp") == "0", r
    for bad in (["--cap-add", "NOT_A_CAP"], ["--security-opt", "apparmor=x"],
                ["--security-opt", "no-new-privileges=maybe"]):
        r = cli("run", "--rm", *bad, "host", "true")
        assert r.returncode == 125 and len(r.stderr.strip().splitlines()) == 1, (bad, r)


@pytest.mark.skipif(not shutil.which("busybox"), reason="needs busybox-static")
def test_rootless_gets_the_filter(learner_repo):
    from learners import make_user, run_as

    python = "/usr/bin/python3"
    if not os.access(python, os.X_OK):
        pytest.skip(f"needs {python} for the test user")
    code = textwrap.dedent("""
        import json, boxkit
        r = boxkit.probe()
        if not r.rootless:
            print(json.dumps({"skip": r.check("rootless").why})); raise SystemExit
        with boxkit.run("busybox", ["sleep", "30"], detach=True) as c:
            st = c.exec(["cat", "/proc/self/status"]).stdout
            nested = c.exec(["unshare", "-U", "true"])
            pid1 = open(f"/proc/{c.pid}/status").read()
        print(json.dumps({"exec": st, "pid1": pid1, "nested": [nested.exit_code, nested.stderr]}))
    """)
    with make_user("bksc") as u:
        r = run_as(u, [python, "-c", code], timeout=120, env={"PYTHONPATH": learner_repo})
        assert r.returncode == 0, r.stderr[-2000:]
        out = json.loads(r.stdout)
        if "skip" in out:
            pytest.skip(f"needs unprivileged user namespaces: {out['skip']}")
        assert status(out["pid1"], "Seccomp") == "2" and status(out["exec"], "Seccomp") == "2"
        assert out["nested"][0] != 0 and "Operation not permitted" in out["nested"][1], out["nested"]


def test_root_can_exercise_right_and_wrong(capsys):
    from boxkit import exercises as ex

    right = ex.SOLUTIONS["security"][0]["predicted"]
    assert ex.root_can(right).ok
    out = capsys.readouterr().out
    n = len(ex.ROOT_ACTIONS)
    assert out.startswith(f"✓ right: all {n} right") and "recorded" not in out   # measured here, live
    assert not ex.root_can({**right, "change the hostname": True}).ok
    assert f"{n - 1} of {n} predictions match" in capsys.readouterr().out
