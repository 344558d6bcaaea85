"""The command line as a learner types it: ``boxkit run -it``, ``-i``, ``-d`` and the container verbs,
signals like docker's, the keeper's socket and what a killed command or keeper leaves (nothing).

Real containers, driven through a real pseudo-terminal (Python's ``pty`` module) where a terminal
matters. Every container a test starts is removed by it; the host's side is checked from /proc,
the container directory and the cgroup tree.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import termios
import time

import pytest

# root: marked by tests/integration/conftest.py
pytestmark = [pytest.mark.skipif(not shutil.which("busybox"),
                                 reason="needs busybox-static (apt-get install busybox-static)")]

BOXKIT = [sys.executable, "-m", "boxkit"]


@pytest.fixture(scope="module")
def rootfs(busybox_root):
    return busybox_root   # tests/integration/conftest.py


def bk(*args, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("timeout", 60)
    return subprocess.run([*BOXKIT, *args], capture_output=True, text=True, **kw)


def container_dirs() -> set[str]:
    from boxkit import paths

    try:
        return set(os.listdir(paths.containers_dir()))
    except FileNotFoundError:
        return set()


def cgroup_dirs(cid: str) -> list[str]:
    out = []
    for base in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        try:
            entries = os.listdir(base)
        except OSError:
            continue
        out += [os.path.join(base, e, "boxkit", cid) for e in entries
                if os.path.isdir(os.path.join(base, e, "boxkit", cid))]
        if os.path.isdir(os.path.join(base, "boxkit", cid)):
            out.append(os.path.join(base, "boxkit", cid))
    return out


def state_of(cid: str) -> dict:
    from boxkit.runtime import state

    return state.read(cid) or {}


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] not in ("Z", "X")
    except OSError:
        return False


class Term:
    """``boxkit ARGS`` on a pty of its own, read with expect()."""

    def __init__(self, args: list[str], rows: int = 30, cols: int = 100) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execv(sys.executable, [sys.executable, "-m", "boxkit", *args])
        self.resize(rows, cols)
        self.buf = b""

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def expect(self, pat: bytes, timeout: float = 15) -> bytes:
        end = time.monotonic() + timeout
        while pat not in self.buf:
            r, _, _ = select.select([self.fd], [], [], max(0, end - time.monotonic()))
            assert r, f"timed out waiting for {pat!r}; the terminal showed {self.buf[-400:]!r}"
            try:
                self.buf += os.read(self.fd, 4096)
            except OSError:
                raise AssertionError(f"the terminal closed before {pat!r}: {self.buf[-400:]!r}") from None
        i = self.buf.index(pat) + len(pat)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def wait(self, timeout: float = 15) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            try:
                os.read(self.fd, 4096)
            except OSError:
                time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError("boxkit did not end")


def test_run_it_shell_prompt_pid1_job_control_window_and_exit_code(rootfs):
    before = container_dirs()
    t = Term(["run", "-it", "--rm", "--rootfs", rootfs, "sh"], rows=30, cols=100)
    t.expect(b"# ")
    t.send(b"echo pid=$$\r")
    assert b"pid=1\r\n" in t.expect(b"# ")
    t.send(b"tty\r")   # its terminal has a name in there (it was "not a tty": the host's /dev/pts/N)
    assert b"/dev/console\r\n" in t.expect(b"# ")
    t.send(b"stty size\r")
    assert b"30 100" in t.expect(b"# ")
    t.resize(40, 120)   # the command gets SIGWINCH and passes the size on
    time.sleep(0.3)
    t.send(b"stty size\r")
    assert b"40 120" in t.expect(b"40 120")
    t.expect(b"# ")
    t.send(b"sleep 30; echo after\r")
    time.sleep(0.5)
    t0 = time.monotonic()
    t.send(b"\x03")   # ^C: a byte on the pty; the line discipline sends SIGINT to sleep's group
    t.expect(b"# ")
    assert time.monotonic() - t0 < 5, "^C did not interrupt the sleep"
    t.send(b"echo survived\r")
    assert b"survived\r\n" in t.expect(b"# ")
    t.send(b"exit 3\r")
    assert t.wait() == 3
    assert not container_dirs() - before, "--rm left the container"   # (an earlier one may go meanwhile)


def test_run_i_passes_stdin_and_big_output_whole(rootfs):
    r = subprocess.run([*BOXKIT, "run", "--rm", "-i", "--rootfs", rootfs, "wc", "-c"], input=b"x" * 100_000,
                       capture_output=True, timeout=60)
    assert r.returncode == 0 and r.stdout.split() == [b"100000"], r
    r = subprocess.run([*BOXKIT, "run", "--rm", "--rootfs", rootfs, "head", "-c", "5000000", "/dev/zero"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0 and len(r.stdout) == 5_000_000
    # without -i the container's stdin is empty, as docker's
    r = subprocess.run([*BOXKIT, "run", "--rm", "--rootfs", rootfs, "wc", "-c"], input=b"abc",
                       capture_output=True, timeout=60)
    assert r.stdout.split() == [b"0"], r


def test_detach_logs_exec_stop_inspect_start_rm(rootfs):
    name = f"t{os.getpid()}"
    r = bk("run", "-d", "--name", name, "--memory", "64M", "--rootfs", rootfs, "sh", "-c",
           "echo hello; trap 'echo bye; exit 5' TERM; while true; do sleep 0.1; done")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        assert len(cid) == 12 and cid in container_dirs()
        time.sleep(0.3)
        ps = json.loads(bk("ps", "--json").stdout)
        mine = [c for c in ps if c["id"] == cid]
        assert mine and mine[0]["status"] == "running" and mine[0]["name"] == name
        assert bk("logs", name).stdout == "hello\n"
        ex = bk("exec", cid[:6], "sh", "-c", "echo $$ $(cat /proc/1/cmdline | tr '\\0' ' ')")
        assert ex.returncode == 0 and ex.stdout.split()[1:3] == ["sh", "-c"], ex
        assert bk("exec", "-e", "A=b", "-w", "/tmp", name, "sh", "-c", "echo $A $(pwd); exit 4").stdout == "b /tmp\n"
        assert bk("exec", name, "sh", "-c", "exit 4").returncode == 4
        assert bk("exec", name, "nope").returncode == 127
        assert bk("exec", "-i", name, "cat", input="piped\n").stdout == "piped\n"
        info = json.loads(bk("inspect", name).stdout)[0]
        assert info["Id"] == cid and info["Name"] == "/" + name
        assert info["State"]["Status"] == "running" and info["State"]["Pid"] == state_of(cid)["pid"]
        assert info["HostConfig"]["Memory"] == 64 * 1024 * 1024, info["HostConfig"]
        assert "PID" in bk("top", name).stdout
        t0 = time.monotonic()
        assert bk("stop", name).returncode == 0
        assert time.monotonic() - t0 < 5, "the trap answered SIGTERM: no grace period to wait out"
        assert bk("logs", "--tail", "1", name).stdout == "bye\n"
        info = json.loads(bk("inspect", name).stdout)[0]
        assert info["State"]["Status"] == "exited" and info["State"]["ExitCode"] == 5
        assert not cgroup_dirs(cid), "a stopped container keeps no cgroup"
        assert bk("wait", name).stdout.strip() == "5"
        assert [c["status"] for c in json.loads(bk("ps", "-a", "--json").stdout) if c["id"] == cid] == ["exited"]
        assert cid not in bk("ps").stdout
        # start again: the same upper dir, the log goes on
        assert bk("start", name).returncode == 0
        time.sleep(0.3)
        assert bk("logs", name).stdout == "hello\nbye\nhello\n"
        r = bk("rm", name)
        assert r.returncode == 1 and "running" in r.stderr
    finally:
        bk("rm", "-f", cid)
    assert cid not in container_dirs() and not cgroup_dirs(cid)
    r = bk("inspect", cid)
    assert r.returncode == 1 and json.loads(r.stdout) == []
    assert bk("stop", "nosuch").returncode == 1 and bk("exec", "nosuch", "true").returncode == 1
    assert bk("kill", "-s", "NOSIG", "x").returncode == 125 and bk("ps", "--bogus").returncode == 125


def test_stop_waits_the_grace_period_then_kills(rootfs):
    cid = bk("run", "-d", "--rootfs", rootfs, "sleep", "1000").stdout.strip()   # PID 1 ignores SIGTERM
    try:
        t0 = time.monotonic()
        assert bk("stop", "-t", "2", cid).returncode == 0
        took = time.monotonic() - t0
        assert 2.0 <= took < 4.5, f"stop took {took:.2f} s for a 2 s grace period"
        assert state_of(cid)["exit_code"] == 137
    finally:
        bk("rm", "-f", cid)


def test_foreground_signals_are_forwarded_and_a_second_interrupt_kills(rootfs):
    # SIGTERM reaches the container (its trap answers), SIGINT with --init ends sleep: 130
    p = subprocess.Popen([*BOXKIT, "run", "--rm", "--rootfs", rootfs, "sh", "-c",
                          "trap 'exit 7' TERM; echo up; while true; do sleep 0.1; done"], stdout=subprocess.PIPE)
    assert p.stdout.readline() == b"up\n"
    p.send_signal(signal.SIGTERM)
    assert p.wait(10) == 7
    for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)):
        p = subprocess.Popen([*BOXKIT, "run", "--rm", "--init", "--rootfs", rootfs, "sh", "-c", "echo up; exec sleep 100"],
                             stdout=subprocess.PIPE)
        assert p.stdout.readline() == b"up\n"
        time.sleep(0.1)
        p.send_signal(sig)
        assert p.wait(10) == code
    # PID 1 ignores SIGINT (no handler): the first ^C does nothing, the second kills it
    before = container_dirs()
    p = subprocess.Popen([*BOXKIT, "run", "--rm", "--rootfs", rootfs, "sleep", "100"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for_pid1(before, "sleep")
    p.send_signal(signal.SIGINT)
    time.sleep(0.5)
    assert p.poll() is None, "PID 1 ignores SIGINT: the first ^C must not end it"
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    assert p.wait(5) == 137 and time.monotonic() - t0 < 2
    assert b"second interrupt" in p.stderr.read()


def _wait_for_pid1(before: set[str], comm: str) -> dict:
    """The state of the one container started since ``before``, once its PID 1 runs ``comm``."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for cid in container_dirs() - before:
            st = state_of(cid)
            try:
                with open(f"/proc/{st['pid']}/comm") as f:
                    if f.read().strip() == comm:
                        return st
            except (OSError, KeyError):
                pass
        time.sleep(0.05)
    raise AssertionError(f"no container with PID 1 {comm} started")


def test_a_killed_run_leaves_nothing_after_2_seconds(rootfs):
    before = container_dirs()
    p = subprocess.Popen([*BOXKIT, "run", "--memory", "64M", "--rootfs", rootfs, "sh", "-c", "echo up; exec sleep 100"],
                         stdout=subprocess.PIPE)
    assert p.stdout.readline() == b"up\n"
    (cid,) = container_dirs() - before
    st = state_of(cid)
    assert cgroup_dirs(cid)
    p.send_signal(signal.SIGTERM)   # forwarded, and ignored by PID 1 ...
    time.sleep(0.2)
    p.kill()                        # ... then the command is killed outright
    p.wait()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 2 and (cid in container_dirs() or cgroup_dirs(cid) or alive(st["pid"])):
        time.sleep(0.05)
    assert cid not in container_dirs() and not cgroup_dirs(cid) and not alive(st["pid"]), \
        f"after 2 s: dir {cid in container_dirs()}, cgroups {cgroup_dirs(cid)}, PID 1 alive {alive(st['pid'])}"
    assert not alive(st["zygote"][0]), "the keeper outlived its container"


def test_a_killed_keeper_is_collected_by_gc(rootfs):
    cid = bk("run", "-d", "--memory", "64M", "--rootfs", rootfs, "sleep", "1000").stdout.strip()
    st = state_of(cid)
    os.kill(st["zygote"][0], signal.SIGKILL)
    time.sleep(0.2)
    # ps tells the truth: its keeper is gone (BOXKIT_NO_GC: else the import's gc collects it first)
    no_gc = {**os.environ, "BOXKIT_NO_GC": "1"}
    ps = [c for c in json.loads(bk("ps", "-a", "--json", env=no_gc).stdout) if c["id"] == cid]
    assert ps and ps[0]["status"] == "dead", ps
    assert cid not in bk("ps", env=no_gc).stdout
    out = bk("gc", env=no_gc).stdout
    assert cid in out
    assert cid not in container_dirs() and not cgroup_dirs(cid) and not alive(st["pid"])


def test_the_keeper_socket_refuses_another_uid(rootfs):
    from boxkit.runtime import keeper

    cid = bk("run", "-d", "--rootfs", rootfs, "sleep", "1000").stdout.strip()
    try:
        path = keeper.sock_path(cid)
        assert os.stat(path).st_mode & 0o777 == 0o600
        os.chmod(path, 0o666)   # past the file mode: the peer-credential check must still refuse
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.setresgid(65534, 65534, 65534)
                os.setresuid(65534, 65534, 65534)
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                s.connect(path)
                s.settimeout(5)
                s.send(b'{"op": "kill", "signal": 9}')
                got = s.recv(4096)
                os.write(w, b"answered" if got else b"refused")
            except (ConnectionResetError, BrokenPipeError):
                os.write(w, b"refused")   # closed on it unread
            except OSError as e:
                os.write(w, f"error {e}".encode())
            os._exit(0)
        os.waitpid(pid, 0)
        assert os.read(r, 100) == b"refused"
        assert alive(state_of(cid)["pid"]), "another uid's request was obeyed"
        conn = keeper.connect(cid)
        assert conn is not None and keeper.request(conn, {"op": "ping"}, 5)["ok"]   # root: allowed
        conn.close()
    finally:
        bk("rm", "-f", cid)


def test_exec_into_a_container_a_notebook_owns(rootfs):
    import boxkit

    name = f"shop{os.getpid()}"
    c = boxkit.run(rootfs=rootfs, argv=["sleep", "1000"], detach=True, name=name)
    try:
        r = bk("exec", name, "sh", "-c", "echo $$ $(hostname)")
        assert r.returncode == 0 and r.stdout.split()[1] == c.id, r
        assert [x["owner"] for x in json.loads(bk("ps", "--json").stdout) if x["id"] == c.id] == ["notebook"]
        t = Term(["exec", "-it", name, "sh"])
        t.expect(b"# ")
        t.send(b"cat /proc/1/cmdline; echo\r")
        assert b"sleep1000" in t.expect(b"# ").replace(b"\x00", b"")
        t.send(b"tty\r")   # a pty of the container's own devpts, as docker exec -t gives
        assert b"/dev/pts/0\r\n" in t.expect(b"# ")
        t.send(b"exit 2\r")
        assert t.wait() == 2
        assert c.running and alive(c.pid), "the notebook still owns a running container"
    finally:
        c.kill()
        c.wait(10)
        c.remove()


def test_detached_tty_output_goes_to_the_log(rootfs):
    """-dt: the keeper holds the terminal's master side and copies it into the log (a tty's \\r\\n)."""
    cid = bk("run", "-dt", "--rootfs", rootfs, "sh", "-c", "echo hi; test -t 0 && echo tty").stdout.strip()
    try:
        assert bk("wait", cid).stdout.strip() == "0"
        assert bk("logs", cid).stdout.replace("\r", "") == "hi\ntty\n"
    finally:
        bk("rm", "-f", cid)
    assert cid not in container_dirs()


FAST = [sys.executable, "-I", "-S", os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "boxkit", "fastrun.py")]


def test_the_fast_client_and_its_warm_helper(rootfs):
    """python -I -S boxkit/fastrun.py: the same exit codes and stdio through the warm helper; a killed
    client takes its container along; what the helper does not take falls back to the full command."""
    from boxkit.cli import warm

    before = container_dirs()
    try:
        r = subprocess.run([*FAST, "run", "--rm", "--rootfs", rootfs, "sh", "-c", "echo hi; exit 3"],
                           capture_output=True, timeout=60)
        assert (r.returncode, r.stdout) == (3, b"hi\n"), r
        assert os.path.exists(warm.sock_path()), "no warm helper: the run took the slow way"
        r = subprocess.run([*FAST, "run", "--rm", "-i", "--rootfs", rootfs, "wc", "-c"], input=b"x" * 100_000,
                           capture_output=True, timeout=60)
        assert r.stdout.split() == [b"100000"], r
        r = subprocess.run([*FAST, "run", "--rm", "--rootfs", rootfs, "nope"], capture_output=True, text=True)
        assert r.returncode == 127 and r.stderr.startswith("boxkit: cannot execute nope"), r.stderr
        assert subprocess.run([*FAST, "run", "--rm", "--bogus"], capture_output=True).returncode == 125
        r = subprocess.run([*FAST, "run", "-d", "--rootfs", rootfs, "sleep", "100"], capture_output=True, text=True)
        cid = r.stdout.strip()   # -d: not the helper's; the full command's keeper holds it
        assert r.returncode == 0 and state_of(cid).get("keeper"), r.stderr
        bk("rm", "-f", cid)
        p = subprocess.Popen([*FAST, "run", "--rm", "--rootfs", rootfs, "sleep", "100"])
        st = _wait_for_pid1(before, "sleep")
        p.kill()
        p.wait()
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and (st["id"] in container_dirs() or alive(st["pid"])):
            time.sleep(0.05)
        assert st["id"] not in container_dirs() and not alive(st["pid"])
    finally:
        pid = warm.stop()
    assert pid is not None and not alive(pid) and not os.path.exists(warm.sock_path())
    assert not container_dirs() - before


def test_the_boxkit_command_is_the_fast_client(rootfs):
    """./course writes the venv's boxkit as the fast client (python -IS boxkit/fastrun.py): the command
    a learner types takes the warm path for run --rm (the target: 0.8x runc, bench/startup.py's CLI
    row) and the full command line for everything else, with the same exit codes."""
    from boxkit.cli import warm

    typed = os.path.join(os.path.dirname(sys.executable), "boxkit")
    if "fastrun" not in open(typed, errors="replace").read(400):
        pytest.skip(f"{typed} is pip's entry point: this venv was not made by ./course")
    before = container_dirs()
    try:
        r = subprocess.run([typed, "run", "--rm", "--rootfs", rootfs, "sh", "-c", "echo hi; exit 3"],
                           capture_output=True, timeout=60)
        assert (r.returncode, r.stdout) == (3, b"hi\n"), r
        assert os.path.exists(warm.sock_path()), "no warm helper: the run took the slow way"
        r = subprocess.run([typed, "ps", "-a", "--json"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and isinstance(json.loads(r.stdout), list), r.stderr   # the full CLI
        assert subprocess.run([typed, "no-such-verb"], capture_output=True).returncode == 125
    finally:
        pid = warm.stop()
    assert pid is not None and not alive(pid)
    assert not container_dirs() - before


def test_a_run_without_rm_is_kept_stopped_for_ps_logs_and_rm(rootfs):
    name = f"kept{os.getpid()}"
    r = bk("run", "--name", name, "--rootfs", rootfs, "sh", "-c", "echo out; exit 3")
    assert (r.returncode, r.stdout) == (3, "out\n"), r.stderr
    try:
        ps = [c for c in json.loads(bk("ps", "-a", "--json").stdout) if c["name"] == name]
        assert [(c["status"], c["exit_code"]) for c in ps] == [("exited", 3)]
        cid = ps[0]["id"]
        assert not cgroup_dirs(cid) and cid in container_dirs()
        r = bk("run", "--rm", "--name", name, "--rootfs", rootfs, "true")
        assert r.returncode == 125 and "already in use" in r.stderr   # docker's: a name stays taken
    finally:
        assert bk("rm", name).returncode == 0
    assert cid not in container_dirs()


@pytest.mark.parametrize("client", ["full", "fast"])
def test_a_sigterm_the_container_ignores_ends_in_sigkill_after_the_stop_timeout(rootfs, client):
    """docker's rule for a foreground run: SIGTERM is passed on; a PID 1 that ignores it (sleep has no
    handler, and the kernel drops unhandled signals to a namespace's init) gets SIGKILL after
    --stop-timeout, and the command exits 143. Through the full command and the fast client alike."""
    from boxkit.cli import warm

    cmd = BOXKIT if client == "full" else FAST
    before = container_dirs()
    try:
        p = subprocess.Popen([*cmd, "run", "--rm", "--stop-timeout", "2", "--rootfs", rootfs, "sleep", "100"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        st = _wait_for_pid1(before, "sleep")
        p.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert p.poll() is None and alive(st["pid"]), "killed before its grace period was over"
        assert p.wait(10) == 143
        assert b"ignored SIGTERM for 2 s: killed" in p.stderr.read()
        assert not alive(st["pid"])
    finally:
        if client == "fast":
            warm.stop()
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and container_dirs() - before:
        time.sleep(0.05)
    assert not container_dirs() - before
    try:
        r = subprocess.run([*cmd, "run", "--rm", "--stop-timeout", "-1", "--rootfs", rootfs, "true"],
                           capture_output=True, text=True)
    finally:
        if client == "fast":
            warm.stop()   # the bad value is refused by a helper the fast client started again
    assert r.returncode == 125 and "'-1' is not a whole number of seconds" in r.stderr, r.stderr
