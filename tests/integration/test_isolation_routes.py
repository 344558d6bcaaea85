"""One assertion set over every start route (issue 26), as bubblewrap's tests/test-run.sh loops
``for ALT in ...``: a container started

* ``spare``    — by ``boxkit.run``, the default: served by the zygote's spare prebuilt on the image;
* ``long``     — by ``boxkit.run`` with ``BOXKIT_NO_SPARE=1`` (read where the zygote makes its spares, so
                 the driver runs in a process of its own with it set): stage 1 and 2 forked at the start;
* ``rootless`` — by ``boxkit.run`` as a real unprivileged user (tests/learners.py), in a user namespace
                 of its own mapped onto that user;
* ``exec``     — by ``Container.exec`` into a running container (the joiner, not a start);
* ``oci``      — by ``boxkit-runtime create``/``start`` from a bundle whose config.json is
                 ``example_config``'s (what ``boxkit-runtime spec`` writes, runc's defaults)

runs one probe script and is checked by one set of assertions: masked and read-only /proc paths, the
safe device set only, the capability sets, no_new_privs and seccomp, no inherited file descriptors
beyond 0-2, getcwd, and a cgroup of its own in every hierarchy the host has. Where a route promises
something else (the OCI bundle gets config.json's masked paths and capabilities, and no seccomp filter
it did not ask for), the expectation says so; a check that does not apply to a route is skipped with
the reason.

Each route runs once per module (a driver process prints what it saw as JSON); each check is a test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest
from learners import make_user, run_as

from boxkit import cgroups
from boxkit.oci.bundle import example_config
from boxkit.runtime.rootfs import MASKED_PATHS, READONLY_PATHS, SAFE_DEVICES
from boxkit.security.capabilities import DEFAULT_MASK, cap_mask

ROUTES = ("spare", "long", "rootless", "exec", "oci")
CWD = "/tmp"                       # exists in every root, so the exec route may use it too
SYSTEM_PYTHON = "/usr/bin/python3"  # the rootless route's: the venv's python may be private to root

# Everything the checks read, printed from inside as "key=value" lines (busybox sh). The last step
# execs sleep: the host side sees "sleep" as the command of PID 1 and knows the probe is done.
PROBE = textwrap.dedent(r"""
    grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status | tr -d ' \t' | tr : =
    for p in MASKED_LIST; do
      if [ -d "$p" ]; then echo "masked $p=dir:$(ls -A "$p" | wc -l)"
      elif [ -e "$p" ]; then echo "masked $p=file:$(wc -c < "$p")"; fi
    done
    for p in READONLY_LIST; do
      [ -e "$p" ] && echo "readonly $p=$(awk -v p="$p" '$5 == p { split($6, o, ","); print o[1] }' /proc/self/mountinfo | tail -n 1)"
    done
    echo x 2>/dev/null > /proc/sys/kernel/domainname; echo "write_proc_sys=$?"
    echo "devices=$(ls /dev | tr '\n' ' ')"
    echo "chardevs=$(find /dev -xdev -type c 2>/dev/null | sed 's|^/dev/||' | tr '\n' ' ')"
    mknod /tmp/.sda b 8 0 2>/dev/null && head -c1 /tmp/.sda >/dev/null 2>&1; echo "mknod_usable=$?"
    rm -f /tmp/.sda 2>/dev/null
    echo "fds=$(ls /proc/self/fd | tr '\n' ' ')"
    echo "getcwd=$(pwd -P)"
    echo "cwd_link=$(readlink /proc/self/cwd)"
    echo "cgroup_ns=$(tr '\n' ' ' < /proc/self/cgroup)"
    echo "root_line=$(grep ' / / ' /proc/self/mountinfo | tail -n 1)"
    echo probe-done
""")


def probe_script(masked: list[str]) -> str:
    return PROBE.replace("MASKED_LIST", " ".join(masked)).replace("READONLY_LIST", " ".join(READONLY_PATHS)).strip()


# The Python API routes' driver: a container from ``rootfs`` (after one that makes the zygote guess it,
# and a pause for the prebuilt spare), an fd the caller holds open without close-on-exec, then the
# probe as PID 1 (or by exec into PID 1 ``sleep``); what the host sees of PID 1's cgroups.
DRIVER = textwrap.dedent("""
    import json, os, sys, time, boxkit
    args = json.loads(sys.argv[1])
    script, mode = args["script"], args["mode"]
    # a root directory, or an image by name (the rootless route's)
    src = {"rootfs": args["rootfs"]} if args["rootfs"].startswith("/") else {"image": args["rootfs"]}
    boxkit.run(**src, argv=["true"], timeout=30)
    time.sleep(0.3)   # idle: the zygote builds its next spare on this root (tests/integration/test_spare.py)
    leak = os.open("/etc/hostname", os.O_RDONLY)
    os.set_inheritable(leak, True)
    argv = ["sh", "-c", script + "; exec sleep 60"] if mode == "run" else ["sleep", "60"]
    with boxkit.run(**src, argv=argv, detach=True, cwd=args["cwd"]) as c:
        host_cgroup = ""
        deadline = time.monotonic() + 20
        try:
            while time.monotonic() < deadline:
                with open(f"/proc/{c.pid}/comm") as f:
                    if f.read().strip() == "sleep":
                        break
                time.sleep(0.02)
            with open(f"/proc/{c.pid}/cgroup") as f:
                host_cgroup = f.read()
        except OSError:
            pass   # PID 1 is gone: the probe failed; its output says how
        if mode == "exec":
            r = c.exec(["sh", "-c", script], cwd=args["cwd"])
            out, err = r.stdout, r.stderr
        else:
            c.kill()
            r = c.wait(10)
            out, err = r.stdout, r.stderr
        cid = c.id
    print(json.dumps({"id": cid, "host_cgroup": host_cgroup, "out": out, "err": err,
                      "leak": leak}))
""")


def _parse(out: str) -> dict[str, str]:
    facts = {}
    for line in out.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            facts[k] = v.strip()
    return facts


def _api_route(route: str, rootfs: str, learner_repo: str) -> dict:
    mode = "exec" if route == "exec" else "run"
    arg = json.dumps({"rootfs": rootfs, "script": probe_script(list(MASKED_PATHS)), "mode": mode, "cwd": CWD})
    if route == "rootless":
        if not os.access(SYSTEM_PYTHON, os.X_OK):
            pytest.skip(f"rootless: needs {SYSTEM_PYTHON} for the test user")
        with make_user("bkiso") as u:
            # the busybox image, built by the learner without root (tests/integration/test_rootless.py):
            # a root directory of root's would hold ids the learner's one-line map cannot name
            arg = json.dumps({**json.loads(arg), "rootfs": "busybox"})
            probe = run_as(u, [SYSTEM_PYTHON, "-c", "import boxkit, json; r = boxkit.probe(); "
                               "print(json.dumps([r.rootless, r.check('rootless').why]))"],
                           env={"PYTHONPATH": learner_repo})
            if probe.returncode != 0:
                pytest.skip(f"rootless: boxkit is not importable by a non-root user: {probe.stderr[-300:]}")
            ok, why = json.loads(probe.stdout)
            if not ok:
                pytest.skip(f"rootless: needs unprivileged user namespaces: {why}")
            p = run_as(u, [SYSTEM_PYTHON, "-c", DRIVER, arg], env={"PYTHONPATH": learner_repo})
    else:
        env = {**os.environ, "BOXKIT_NO_GC": "1"}
        if route == "long":
            env["BOXKIT_NO_SPARE"] = "1"
        p = subprocess.run([sys.executable, "-c", DRIVER, arg], capture_output=True, text=True, timeout=120,
                           env=env)
    assert p.returncode == 0, f"{route}: the driver failed:\n{p.stderr[-3000:]}"
    return json.loads(p.stdout.strip().splitlines()[-1])


def _rt(root: str, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "boxkit.oci.cli", "--root", root, *args], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL, **kw)


def _oci_route(rootfs: str, workdir: str) -> tuple[dict, dict]:
    """create, the host's look at PID 1's cgroups, start, the probe, kill, delete."""
    cfg = example_config(["sh", "-c", ""])
    cfg["root"] = {"path": rootfs, "readonly": True}
    cfg["process"]["cwd"] = CWD
    cfg["process"]["args"][2] = probe_script(cfg["linux"]["maskedPaths"]) + "; exec sleep 60"
    bundle = os.path.join(workdir, "bundle")
    os.makedirs(bundle)
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(cfg, f)
    state = os.path.join(workdir, "state")
    cid = "iso-routes"
    leak = os.open("/etc/hostname", os.O_RDONLY)   # handed to the runtime: the container must not hold it
    out_path = os.path.join(workdir, "out")
    try:
        # the container inherits the runtime's stdio (as with runc): a file, not a pipe
        with open(out_path, "w") as out, tempfile.TemporaryFile("w+") as err:
            p = subprocess.run([sys.executable, "-m", "boxkit.oci.cli", "--root", state, "create", "--bundle",
                                bundle, cid], stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=60,
                               pass_fds=(leak,))
            err.seek(0)
            assert p.returncode == 0, err.read()
        pid = json.loads(_rt(state, "state", cid).stdout)["pid"]
        with open(f"/proc/{pid}/cgroup") as f:
            host_cgroup = f.read()
        assert _rt(state, "start", cid).returncode == 0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with open(out_path) as f:
                if "probe-done" in f.read():
                    break
            time.sleep(0.02)
        _rt(state, "kill", cid, "KILL")
        deadline = time.monotonic() + 10
        while json.loads(_rt(state, "state", cid).stdout)["status"] != "stopped" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.close(leak)
        _rt(state, "delete", "--force", cid)
    with open(out_path) as f:
        out = f.read()
    return {"id": cid, "host_cgroup": host_cgroup, "out": out, "err": "", "leak": leak}, cfg


@pytest.fixture(scope="module")
def seen(busybox_root, learner_repo):
    """Each route's report, made the first time a test asks for it."""
    cache: dict[str, dict] = {}

    def get(route: str) -> dict:
        if route not in cache:
            try:
                if route == "oci":
                    with tempfile.TemporaryDirectory(prefix="boxkit-iso-oci-") as d:
                        report, cfg = _oci_route(busybox_root, d)
                    report["masked"] = cfg["linux"]["maskedPaths"]
                    report["caps"] = cap_mask(cfg["process"]["capabilities"]["bounding"])
                    report["seccomp"] = "0"   # config.json asks for none: the runtime adds none
                else:
                    report = _api_route(route, busybox_root, learner_repo)
                    report["masked"] = list(MASKED_PATHS)
                    report["caps"] = DEFAULT_MASK
                    report["seccomp"] = "2"   # boxkit run's default profile (docker's), a filter
                report["facts"] = _parse(report["out"])
                assert "probe-done" in report["out"], f"{route}: the probe did not finish:\n{report}"
            except pytest.skip.Exception as e:
                report = {"skip": str(e)}
            except Exception as e:   # once per module: every check of the route fails with it
                report = {"error": f"{type(e).__name__}: {e}"}
            cache[route] = report
        if "skip" in cache[route]:
            pytest.skip(cache[route]["skip"])
        if "error" in cache[route]:
            pytest.fail(f"{route}: {cache[route]['error']}")
        return cache[route]
    return get


@pytest.fixture(params=ROUTES)
def route(request, seen):
    return request.param, seen(request.param)


def test_the_route_is_the_one_named(route):
    name, r = route
    upper = r["facts"]["root_line"]
    if name == "spare":
        assert "/spare/" in upper, f"the spare route did not start in the prebuilt spare: {upper}"
    elif name == "long":
        assert "/spare/" not in upper, f"BOXKIT_NO_SPARE=1 still took a spare: {upper}"
    elif name == "oci":
        assert " - overlay " not in upper, "an OCI bundle's root is its own directory, not an overlay"
    else:
        assert " - overlay " in upper, upper


def test_masked_paths(route):
    name, r = route
    facts = r["facts"]
    masked = {k.split(" ", 1)[1]: v for k, v in facts.items() if k.startswith("masked ")}
    # every one the host has (this kernel's /proc) was seen, and masked: a probe that saw none would prove nothing
    want = {p for p in r["masked"] if os.path.exists(p)}
    assert want and set(masked) == want, f"{name}: saw {sorted(masked)}, the host has {sorted(want)}"
    for path, what in masked.items():
        assert path in r["masked"]
        assert what in ("dir:0", "file:0"), f"{name}: {path} is not masked ({what})"


def test_readonly_proc_paths(route):
    name, r = route
    ro = {k.split(" ", 1)[1]: v for k, v in r["facts"].items() if k.startswith("readonly ")}
    want = {p for p in READONLY_PATHS if os.path.exists(p)}
    assert "/proc/sys" in want and set(ro) == want, f"{name}: saw {sorted(ro)}, the host has {sorted(want)}"
    assert all(v == "ro" for v in ro.values()), f"{name}: {ro}"
    assert r["facts"]["write_proc_sys"] != "0", "a write to /proc/sys went through"


def test_only_the_safe_devices(route):
    name, r = route
    devs = set(r["facts"]["devices"].split())
    chardevs = set(r["facts"]["chardevs"].split())
    assert set(SAFE_DEVICES) <= devs, devs
    # the character devices are the safe set, the ptmx of /dev/pts and pts/N of a terminal, nothing else
    extra = {d for d in chardevs if d not in SAFE_DEVICES and d not in ("ptmx", "pts/ptmx", "console")}
    assert extra == set(), f"{name}: unexpected devices {extra}"
    assert not any(d.startswith(("sd", "nvme", "vd", "mem", "kmsg")) for d in devs), devs
    assert r["facts"]["mknod_usable"] != "0", "a node made with mknod was usable"


def test_capability_sets(route):
    name, r = route
    f = r["facts"]
    for s in ("CapPrm", "CapEff", "CapBnd"):
        assert int(f[s], 16) == r["caps"], f"{name}: {s} {f[s]} != {r['caps']:016x}"
    assert int(f["CapInh"], 16) == 0 and int(f["CapAmb"], 16) == 0, f


def test_no_new_privs_and_seccomp(route):
    name, r = route
    assert r["facts"]["NoNewPrivs"] == "1"
    # boxkit run loads docker's default filter; the OCI bundle asked for none (linux.seccomp absent)
    assert r["facts"]["Seccomp"] == r["seccomp"], f"{name}: Seccomp {r['facts']['Seccomp']}"


def test_no_inherited_fds(route):
    name, r = route
    fds = sorted(int(x) for x in r["facts"]["fds"].split())
    # 3 is ls's own directory fd; the caller's fd (r["leak"], open without close-on-exec) is not there
    assert fds == [0, 1, 2, 3], f"{name}: fds {fds} (the caller held {r['leak']})"


def test_getcwd(route):
    name, r = route
    assert r["facts"]["getcwd"] == CWD and r["facts"]["cwd_link"] == CWD, r["facts"]


def test_a_cgroup_of_its_own_in_every_hierarchy(route):
    name, r = route
    if name == "rootless":
        pytest.skip("rootless: no cgroups without root (boxkit probe: 'cgroups skipped')")
    host = cgroups.detect()
    if host.mode == "none":
        pytest.skip("the host has no cgroup hierarchy mounted")
    mine = dict(line.split(":", 2)[1:] for line in open("/proc/self/cgroup").read().splitlines())
    its = dict(line.split(":", 2)[1:] for line in r["host_cgroup"].splitlines())
    assert set(its) == set(mine)
    for ctrls, path in its.items():
        if ctrls == "" and host.mode != "v2":
            # hybrid: the unified hierarchy holds no controller boxkit uses; it stays where it was
            continue
        assert path != mine[ctrls] and path.rstrip("/").endswith(r["id"]), \
            f"{name}: in hierarchy {ctrls or 'unified'} at {path}, not a group of its own"
    # from inside, through its cgroup namespace: every hierarchy at the namespace's root — the process
    # (the exec'd one too) is in the container's group, not outside it ("/.." there)
    inside = r["facts"]["cgroup_ns"].split()
    assert inside and all(line.endswith(":/") for line in inside), f"{name}: {inside}"
