"""Rootless containers, for real: a user without root starts containers in a user namespace of its own.

The tests run as root only to create a throw-away system user (no /etc/subuid range: boxkit's one-line
map needs none); every container is started *by that user*, with the system python (the runtime needs
only the standard library) and this checkout on PYTHONPATH. A small driver script prints what it saw
as JSON; the test checks it from the host's side too. Skipped with the reason where this host gives an
unprivileged user no user namespaces.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time

import pytest
from learners import make_user, pids_of, run_as

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = "/usr/bin/python3"


@pytest.fixture(scope="module")
def learner(learner_repo):
    if not os.access(PYTHON, os.X_OK):
        pytest.skip(f"needs {PYTHON} for the test user (the venv's python may be private to root)")
    with make_user("bkrl") as u:
        u.repo = learner_repo
        r = _run(u, "import boxkit, json; r = boxkit.probe(); "
                    "print(json.dumps({'rootless': r.rootless, 'why': r.check('rootless').why}))")
        if r.returncode != 0:
            pytest.skip(f"needs boxkit importable by a non-root user: {r.stderr.strip()[-300:]}")
        probe = json.loads(r.stdout)
        if not probe["rootless"]:
            pytest.skip(f"needs unprivileged user namespaces: {probe['why']}")
        yield u


def _run(user, code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return run_as(user, [PYTHON, "-c", code], timeout=timeout, env={"PYTHONPATH": user.repo})


# what the learner runs: one container looked at from inside and from the host, then the refusals
DRIVER = textwrap.dedent("""
    import json, os, boxkit
    from boxkit import paths
    from boxkit.errors import SpecError
    out = {"root": paths.root()}
    c = boxkit.run("busybox", ["sleep", "60"], detach=True, hostname="rootless-box")
    try:
        sh = lambda cmd: c.exec(["sh", "-c", cmd])
        out["id_inside"] = sh("id -u").stdout.strip()
        out["pid_inside"] = sh("cat /proc/1/comm; echo $PPID").stdout.split()
        out["ps"] = sh("ps -o pid,comm").stdout
        out["hostname"] = sh("hostname").stdout.strip()
        out["uid_outside"] = int(open(f"/proc/{c.pid}/status").read().split("Uid:")[1].split()[1])
        out["uid_map"] = open(f"/proc/{c.pid}/uid_map").read().split()
        out["userns_own"] = os.readlink(f"/proc/{c.pid}/ns/user") != os.readlink("/proc/self/ns/user")
        w = sh("echo written > /made-inside && cat /made-inside")
        out["write"] = w.stdout.strip()
        made = os.path.join(c.upper_dir, "made-inside")
        out["upper_has_it"] = os.path.exists(made) and open(made).read() == "written\\n"
        out["upper_owner"] = os.stat(made).st_uid
        out["layers_have_it"] = [os.path.exists(os.path.join(l, "made-inside")) for l in c.plan.layers]
        out["image_owner"] = os.stat(c.plan.layers[-1] + "/bin/busybox").st_uid
        out["keys"] = sh("wc -c < /proc/keys; wc -c < /proc/timer_list").stdout.split()
        out["umount_mask"] = sh("umount /proc/keys; echo $?").stdout.strip()
        out["proc_sys"] = sh("echo x > /proc/sys/kernel/hostname; echo $?").stdout.strip()
        out["mknod"] = sh("mknod /tmp/sda b 8 0; echo $?").stdout.strip()
        out["caps"] = sh("grep CapEff /proc/self/status").stdout.split()[1]
        out["root_is_overlay"] = sh("grep ' / / ' /proc/self/mountinfo").stdout
        out["net"] = sh("ip -o link | cut -d: -f2").stdout.split()
        out["exec_root"] = c.exec(["id", "-u"], user="0:0").stdout.strip()
        try:
            c.exec(["id"], user="1000")
            out["exec_1000"] = "ran"
        except SpecError as e:
            out["exec_1000"] = str(e)
    finally:
        c.remove()
    for kw in ({"network": "bridge"}, {"memory": "64M"}):
        try:
            boxkit.run("busybox", ["true"], **kw)
            out[str(kw)] = "started"
        except SpecError as e:
            out[str(kw)] = str(e)
    r = boxkit.run("busybox", ["sh", "-c", "echo $$"])
    out["run"] = [r.exit_code, r.stdout.strip()]
    import time
    time.sleep(0.3)   # idle: the next spare is built on busybox, in the learner's own user namespace
    r = boxkit.run("busybox", ["sh", "-c", "grep ' / / ' /proc/self/mountinfo; echo $$; id -u"])
    out["prebuilt"] = [r.exit_code, "/spare/" in r.stdout, r.stdout.split()[-2:]]
    print(json.dumps(out))
""")


def _leftovers(home: str) -> dict:
    root = os.path.join(home, ".local", "share", "boxkit")
    left = {}
    for sub in ("containers", "spare"):
        d = os.path.join(root, sub)
        if os.path.isdir(d) and os.listdir(d):
            left[sub] = os.listdir(d)
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f if root in line or home in line]
    if mounts:
        left["mounts"] = mounts
    return left


def test_a_rootless_container_from_the_inside_and_the_outside(learner):
    uid, home = learner.uid, learner.home
    r = _run(learner, DRIVER)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["root"] == f"{home}/.local/share/boxkit", "a learner's BOXKIT_ROOT is in their home"
    # root inside, the learner outside: a one-line map of the learner's own uid
    assert out["id_inside"] == "0"
    assert out["uid_outside"] == uid and out["uid_map"] == ["0", str(uid), "1"] and out["userns_own"]
    # PID 1 is the command; the exec'd shell's parent is outside the namespace (PPID 0)
    assert out["pid_inside"] == ["sleep", "0"]
    assert out["ps"].split("\n")[1].split() == ["1", "sleep"]
    assert out["hostname"] == "rootless-box" and open("/proc/sys/kernel/hostname").read().strip() != "rootless-box"
    # the root is an overlay: the write went to the container's upper dir, owned by the learner
    assert "overlay" in out["root_is_overlay"]
    assert out["write"] == "written" and out["upper_has_it"] and out["upper_owner"] == uid
    assert not any(out["layers_have_it"]), "a write inside changed an image layer"
    assert out["image_owner"] == uid, "the busybox image was built by the learner, without root"
    # the same security steps as with root: masked /proc paths, read-only /proc/sys, no mknod,
    # Docker's capability set (no CAP_SYS_ADMIN: the mask cannot be unmounted)
    assert out["keys"] == ["0", "0"]
    assert out["umount_mask"] != "0"
    assert out["proc_sys"] != "0" and out["mknod"] != "0"
    caps = int(out["caps"], 16)
    assert caps & (1 << 21) == 0 and caps & (1 << 0), "CAP_SYS_ADMIN dropped, CAP_CHOWN kept"
    assert out["net"] == ["lo"]
    # only uid 0 exists inside (a one-line map)
    assert out["exec_root"] == "0" and "only uid 0" in out["exec_1000"]
    # one clear sentence for what needs root
    assert "--network none" in out["{'network': 'bridge'}"] and "rootless" in out["{'network': 'bridge'}"]
    assert "cgroups" in out["{'memory': '64M'}"] and "boxkit probe" in out["{'memory': '64M'}"]
    assert out["run"] == [0, "1"]
    # a spare prebuilt on the image (overlay mounted, pivoted) and made by vfork works rootless too
    assert out["prebuilt"] == [0, True, ["1", "0"]]
    # nothing left: no container dirs (overlay's mode-000 work/work included), no spare, no mounts, no processes
    deadline = time.monotonic() + 5
    while (_leftovers(home) or pids_of(uid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _leftovers(home) == {} and pids_of(uid) == []


def test_the_cli_runs_rootless_and_refuses_a_bridge_in_one_line(learner):
    r = _run(learner, "import sys; from boxkit.cli import main; sys.argv = ['boxkit', 'run', '--rm', 'busybox', '--', "
                      "'sh', '-c', 'id -u; hostname']; sys.exit(main())")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == "0"
    r = _run(learner, "import sys; from boxkit.cli import main; sys.argv = ['boxkit', 'run', '--network', "
                      "'bridge', 'busybox', 'true']; sys.exit(main())")
    assert r.returncode == 125
    assert r.stderr.strip().count("\n") == 0 and "--network none" in r.stderr, r.stderr


def test_probe_says_what_rootless_gets(learner):
    r = _run(learner, "import boxkit; print(boxkit.probe().text())")
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if "rootless containers" in x)
    assert line.split()[0] == "ok"
    assert "cgroups skipped" in r.stdout and "network none only" in r.stdout


def test_a_lower_directory_replaced_inside_becomes_an_opaque_layer_entry(learner):
    """Without ``userxattr`` overlayfs in a user namespace cannot mark the new /etc opaque and
    ``rm -rf /etc`` fails with EIO; with it, the upper dir carries ``user.overlay.opaque`` and a
    commit of it says ``etc/.wh..wh..opq``."""
    code = textwrap.dedent("""
        import io, json, tarfile, boxkit
        from boxkit.images.layer import write_tar
        c = boxkit.run("busybox", ["sh", "-c", "rm -rf /etc && mkdir /etc && echo new > /etc/x && ls /etc; "
                                   "grep ' / / ' /proc/self/mountinfo; sleep 30"], detach=True)
        try:
            import time
            for _ in range(100):
                if b"x" in b"".join(c._out):
                    break
                time.sleep(0.05)
            buf = io.BytesIO()
            write_tar(c.upper_dir, buf)
            names = tarfile.open(fileobj=io.BytesIO(buf.getvalue())).getnames()
        finally:
            c.kill()
            r = c.wait()
            c.remove()
        print(json.dumps({"out": r.stdout, "err": r.stderr, "names": names}))
    """)
    r = _run(learner, code)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["out"].split("\n")[0] == "x", out["err"]
    assert "userxattr" in out["out"]
    assert "etc/.wh..wh..opq" in out["names"] and "etc/x" in out["names"]


def test_rootless_cli_run_d_ps_exec_stop_rm(learner):
    """The container verbs as the learner: a keeper of the learner's own, its socket in their home."""
    def bk(*args):
        return run_as(learner, [PYTHON, "-m", "boxkit", *args], env={"PYTHONPATH": learner.repo})

    r = bk("run", "-d", "--name", "web", "busybox", "sleep", "1000")
    assert r.returncode == 0, r.stderr[-2000:]
    cid = r.stdout.strip()
    try:
        ps = json.loads(bk("ps", "--json").stdout)
        assert [(c["id"], c["status"], c["owner"]) for c in ps] == [(cid, "running", "keeper")]
        sock = os.path.join(learner.home, ".local/share/boxkit/containers", cid, "keeper.sock")
        assert os.stat(sock).st_uid == learner.uid and os.stat(sock).st_mode & 0o777 == 0o600
        r = bk("exec", "web", "sh", "-c", "id -u; echo $$")
        assert r.returncode == 0 and r.stdout.split() == ["0", r.stdout.split()[1]], r.stderr
        t0 = time.monotonic()
        assert bk("stop", "-t", "1", "web").returncode == 0
        assert time.monotonic() - t0 >= 1.0   # sleep as PID 1 ignores SIGTERM: the grace period, then SIGKILL
        ps = json.loads(bk("ps", "-a", "--json").stdout)
        assert [(c["status"], c["exit_code"]) for c in ps] == [("exited", 137)]
        assert bk("rm", "web").returncode == 0
        assert json.loads(bk("ps", "-a", "--json").stdout) == []
    finally:
        bk("rm", "-f", cid)
    assert _leftovers(learner.home) == {}
    deadline = time.monotonic() + 2   # a keeper that answered "exited" may still be on its way out
    while pids_of(learner.uid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pids_of(learner.uid), "a keeper or container outlived rm"


def test_rootless_exec_into_an_init_container_and_stop_it(learner):
    # boxkit-init never execs, so it stays non-dumpable and its /proc/PID/ns files are the host root's:
    # an exec joins the command's namespaces instead (it was refused: permission denied at ns/user)
    code = textwrap.dedent("""
        import boxkit
        c = boxkit.run("busybox", ["sleep", "300"], detach=True, init=True)
        try:
            print(c.exec(["cat", "/proc/1/comm", "/proc/2/comm"]).stdout.split())
            r = c.stop(timeout=20)
            print(r.exit_code, r.sigkill_after_grace)
        finally:
            c.remove()
    """)
    r = _run(learner, code)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.splitlines() == ["['boxkit-init', 'sleep']", "143 False"], r.stdout
