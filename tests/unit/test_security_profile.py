"""seccomp profiles and the security flags: parsing, checking, and the translation into a filter.

The translation is checked by what the kernel does: a forked child loads the compiled program (with
no_new_privs, which needs no root) and reports the errno of a few calls.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os

import pytest

from boxkit import _sys
from boxkit.errors import SpecError
from boxkit.runtime import caps
from boxkit.security import seccomp
from boxkit.spec import ContainerSpec, parse_caps, parse_security_opts

needs_seccomp = pytest.mark.skipif(not _sys.seccomp_available(),
                                   reason="needs seccomp filters and libseccomp.so.2")
libc = ctypes.CDLL(None, use_errno=True)


def profile(data: dict, where: str = "test.json") -> seccomp.Profile:
    return seccomp.Profile(data, where)


def in_filter(program: bytes, calls) -> dict:
    """Fork, load ``program``, run each call; {name: errno or 0}."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            _sys.SYS.prctl(_sys.PR_SET_NO_NEW_PRIVS, 1)
            _sys.load_seccomp(program)
            out = {}
            for name, fn in calls.items():
                ctypes.set_errno(0)
                out[name] = ctypes.get_errno() if fn() == -1 else 0
            os.write(w, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = os.read(r, 65536)
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data)


# --- flags -------------------------------------------------------------------------------------------

def test_cap_names_as_docker_spells_them():
    assert set(parse_caps(["net_admin"], ["CAP_CHOWN"])) == set(caps.DEFAULT_CAPS) - {"CAP_CHOWN"} | {"CAP_NET_ADMIN"}
    assert parse_caps(None, ["ALL"]) == ()
    assert parse_caps(["SYS_ADMIN"], ["ALL"]) == ("CAP_SYS_ADMIN",)
    assert set(parse_caps(["ALL"], ["MKNOD"])) == set(_sys.CAPABILITIES) - {"CAP_MKNOD"}
    with pytest.raises(SpecError, match="cap-add"):
        parse_caps(["NOT_A_CAP"])


def test_security_opts():
    assert parse_security_opts(["no-new-privileges"]) == {"no_new_privileges": True}
    assert parse_security_opts(["no-new-privileges=false"]) == {"no_new_privileges": False}
    assert parse_security_opts(["no-new-privileges:true"]) == {"no_new_privileges": True}
    assert parse_security_opts(["seccomp=/a:b.json"]) == {"seccomp": "/a:b.json"}
    for bad in ("apparmor=unconfined", "no-new-privileges=maybe", "seccomp="):
        with pytest.raises(SpecError):
            parse_security_opts([bad])


def test_spec_defaults_and_privileged(tmp_path):
    d = ContainerSpec.create("busybox", ["true"])
    assert d.caps == tuple(c for c in _sys.CAPABILITIES if c in caps.DEFAULT_CAPS)
    assert d.seccomp is seccomp.default_profile() and d.no_new_privileges and not d.privileged
    p = ContainerSpec.create("busybox", ["true"], privileged=True, cap_drop=["ALL"])
    assert p.caps == tuple(_sys.CAPABILITIES) and p.seccomp is None and not p.no_new_privileges
    u = ContainerSpec.create("busybox", ["true"], security_opt=["seccomp=unconfined"])
    assert u.seccomp is None
    with pytest.raises(SpecError, match="seccomp profile"):
        ContainerSpec.create("busybox", ["true"], security_opt=[f"seccomp={tmp_path}/missing.json"])


# --- profiles ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, field", [
    ({"defaultAction": "SCMP_ACT_WHAT"}, "defaultAction"),
    ({"defaultAction": "SCMP_ACT_NOTIFY"}, "defaultAction SCMP_ACT_NOTIFY"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1}, "defaultErrnoRet"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": {}}, "syscalls must be a list"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": [], "action": "SCMP_ACT_ALLOW"}]},
     "syscalls[0].names"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                                                       "args": [{"index": 0, "value": 1, "op": "EQ"}]}]},
     "syscalls[0].args[0].op"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                                                       "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]},
     "syscalls[0].args[0].value"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                                                       "includes": {"kernel": "5"}}]}, "syscalls[0].includes"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                                                       "extra": 1}]}, "unknown field extra"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "archMap": [{"subArchitectures": []}]}, "archMap[0]"),
])
def test_malformed_profiles_name_the_field(data, field):
    with pytest.raises(SpecError) as e:
        profile(data, "/tmp/p.json")
    text = str(e.value)
    assert "/tmp/p.json" in text and field in text and "\n" not in text


def test_file_errors(tmp_path):
    f = tmp_path / "p.json"
    f.write_text("[1, 2]")
    with pytest.raises(SpecError, match="top level"):
        seccomp.load_profile(str(f))
    f.write_text("{")
    with pytest.raises(SpecError, match="not valid JSON"):
        seccomp.load_profile(str(f))


def test_rule_filters_follow_docker():
    p = seccomp.default_profile()
    by_names = {tuple(r.names): r for r in p.rules}
    sys_admin = next(r for r in p.rules if "unshare" in r.names)
    clone_masked = next(r for r in p.rules if r.names == ["clone"] and r.args and r.args[0][0] == 0)
    assert p.applies(sys_admin, {"CAP_SYS_ADMIN"}) and not p.applies(sys_admin, set(caps.DEFAULT_CAPS))
    assert p.applies(clone_masked, set(caps.DEFAULT_CAPS)) and not p.applies(clone_masked, {"CAP_SYS_ADMIN"})
    assert ("keyctl",) not in by_names and not any("keyctl" in r.names or "add_key" in r.names for r in p.rules)


def test_default_profile_is_what_docker_allows():
    p = seccomp.default_profile()
    allowed = set(p.rules[0].names)
    for call in ("read", "execve", "clock_gettime", "socketpair", "ptrace"):
        assert call in allowed or any(call in r.names for r in p.rules)
    for refused in ("keyctl", "add_key", "request_key", "userfaultfd", "kexec_load", "pivot_root",
                    "open_by_handle_at", "unshare", "mount", "bpf"):
        assert refused not in allowed
    assert p.default_action == "SCMP_ACT_ERRNO" and p.default_errno == errno.EPERM


@needs_seccomp
def test_program_is_bpf_and_cached():
    p = seccomp.default_profile()
    a = seccomp.program(p, caps.DEFAULT_MASK)
    assert seccomp.program(p, caps.DEFAULT_MASK) is a
    raw = __import__("base64").b64decode(a)
    assert len(raw) % 8 == 0 and len(raw) > 8 * 50
    with_admin = seccomp.program(p, caps.DEFAULT_MASK | 1 << _sys.CAPABILITIES["CAP_SYS_ADMIN"])
    assert with_admin != a


@needs_seccomp
def test_default_filter_decisions_in_a_child():
    p = seccomp.default_profile()
    prog = p.compile(set(caps.DEFAULT_CAPS))
    nr = {"x86_64": 250, "aarch64": 219}.get(os.uname().machine)
    calls = {"getpid": lambda: libc.getpid() * 0, "unshare_user": lambda: libc.unshare(_sys.CLONE_NEWUSER),
             "personality": lambda: libc.personality(0x0040000)}
    if nr:
        calls["keyctl"] = lambda: libc.syscall(nr, 0, -2, 1)
    got = in_filter(prog, calls)
    assert got.pop("getpid") == 0
    assert set(got.values()) == {errno.EPERM}, got
    # with CAP_SYS_ADMIN the namespace calls are let through to the kernel (which then decides)
    got = in_filter(p.compile(set(caps.DEFAULT_CAPS) | {"CAP_SYS_ADMIN"}),
                    {"unshare_user": lambda: libc.unshare(_sys.CLONE_NEWUSER)})
    assert got["unshare_user"] != errno.EPERM or os.geteuid() != 0


@needs_seccomp
def test_two_comparisons_on_one_argument_are_either():
    # as runc: the same index twice means two rules (either matches), not one rule that needs both
    p = profile({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES,
         "args": [{"index": 0, "value": 0x0040000, "op": "SCMP_CMP_EQ"},
                  {"index": 0, "value": 0x0200000, "op": "SCMP_CMP_EQ"}]}]})
    got = in_filter(p.compile(set()), {"a": lambda: libc.personality(0x0040000),
                                      "b": lambda: libc.personality(0x0200000),
                                      "query": lambda: libc.personality(0xFFFFFFFF)})
    assert got == {"a": errno.EACCES, "b": errno.EACCES, "query": 0}


@needs_seccomp
def test_unknown_names_are_skipped_and_default_action_rules_dropped():
    p = profile({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["no_such_call_anywhere"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["chdir"], "action": "SCMP_ACT_ERRNO"}]})
    got = in_filter(p.compile(set()), {"getpid": lambda: libc.getpid() * 0, "chdir": lambda: libc.chdir(b"/")})
    assert got == {"getpid": 0, "chdir": errno.EPERM}   # ERRNO without errnoRet: EPERM, as runc


@needs_seccomp
@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the x86 and x32 sub-architectures are x86_64's")
def test_the_filter_holds_every_architecture_the_profile_names():
    """docker's archMap names x86 and x32 beside x86_64 (SCMP_ARCH_X86 ...): a 32-bit call must meet the
    profile's rules, not the kill for an architecture the filter lacks. The BPF checks each one's
    AUDIT_ARCH value (x86_64 0xC000003E, i386 0x40000003; x32 shares x86_64's, told apart by bit 30)."""
    p = seccomp.default_profile()
    filt = _sys.SeccompFilter(0x7FFF0000, p.arch_map)
    try:
        assert filt.arches() == ["x86_64", "x86", "x32"]
    finally:
        filt.close()
    raw = __import__("base64").b64decode(seccomp.program(p, caps.DEFAULT_MASK))
    ks = {int.from_bytes(raw[i + 4:i + 8], "little") for i in range(0, len(raw), 8)}
    assert {0xC000003E, 0x40000003} <= ks


@needs_seccomp
def test_an_architecture_libseccomp_does_not_know_is_named(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_NOPE"],
                                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}))
    p = seccomp.load_profile(str(path))
    with pytest.raises(SpecError, match="SCMP_ARCH_NOPE is not an architecture"):
        p.compile(set())


def test_the_default_profile_leaves_io_uring_out_as_docker_25_does():
    p = seccomp.default_profile()
    assert not any(n.startswith("io_uring") for r in p.rules for n in r.names)
