"""seccomp profiles: which system calls a container may make, in the OCI/docker JSON form.

Capabilities decide what root may do *through* a system call; seccomp decides which system calls
reach the kernel at all. A filter is a BPF program the kernel runs at every system call entry, on
the call's number and its six arguments (never on memory they point to); it answers allow, an errno,
kill, trap or log. Filters are inherited by children and across ``execve`` and can only be added to,
so a filter loaded as the container's last step before ``execve`` binds every process in it, and the
same program loaded into an exec'd process binds that one too.

A profile (runtime-spec ``linux.seccomp``, docker's ``default.json``, podman's
``/usr/share/containers/seccomp.json``) is JSON::

    {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
     "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
     "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                  {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}],
                   "excludes": {"caps": ["CAP_SYS_ADMIN"]}}]}

Docker's rules for turning it into a filter, followed here: a rule applies only when the container
holds every capability in ``includes.caps`` and none in ``excludes.caps``, when the host's
architecture (Go's names: amd64, arm64 ...) is in ``includes.arches`` and not in
``excludes.arches``, and the kernel is at least ``includes.minKernel``; names this libseccomp does
not know are skipped; a rule whose action is the default action is skipped; an ``ERRNO`` action
without ``errnoRet`` returns EPERM; arguments compared on the same index are separate rules (either
may match), different indexes one rule (all must). Compiling is libseccomp's work
(:class:`boxkit._sys.SeccompFilter`); the program is cached per profile and capability set, so a
warm start only copies bytes and makes one ``prctl``.

boxkit's default profile (``seccomp-default.json`` beside this module) decides what docker's does:
no nested namespaces, ``mount``, ``bpf``, ``keyctl``/``add_key``, ``ptrace`` ... without the
capability each needs; EPERM for what is refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from functools import lru_cache

from .. import _sys
from ..errors import HostError, SpecError

DEFAULT_PROFILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seccomp-default.json")
EPERM = 1
MAX_PROFILE_BYTES = 1 << 20

# os.uname().machine -> (libseccomp's SCMP_ARCH_ name, Go's GOARCH as docker's "arches" spell it)
_MACHINES = {
    "x86_64": ("SCMP_ARCH_X86_64", "amd64"), "aarch64": ("SCMP_ARCH_AARCH64", "arm64"),
    "armv7l": ("SCMP_ARCH_ARM", "arm"), "i686": ("SCMP_ARCH_X86", "386"),
    "s390x": ("SCMP_ARCH_S390X", "s390x"), "ppc64le": ("SCMP_ARCH_PPC64LE", "ppc64le"),
    "riscv64": ("SCMP_ARCH_RISCV64", "riscv64"), "mips64": ("SCMP_ARCH_MIPS64", "mips64"),
}
_ACTIONS = {
    "SCMP_ACT_KILL": _sys.SCMP_ACT_KILL_THREAD, "SCMP_ACT_KILL_THREAD": _sys.SCMP_ACT_KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": _sys.SCMP_ACT_KILL_PROCESS, "SCMP_ACT_TRAP": _sys.SCMP_ACT_TRAP,
    "SCMP_ACT_ERRNO": _sys.SCMP_ACT_ERRNO, "SCMP_ACT_TRACE": _sys.SCMP_ACT_TRACE,
    "SCMP_ACT_LOG": _sys.SCMP_ACT_LOG, "SCMP_ACT_ALLOW": _sys.SCMP_ACT_ALLOW,
}
_RULE_KEYS = {"names", "name", "action", "errnoRet", "errno", "args", "includes", "excludes",
              "comment"}
_FILTER_KEYS = {"caps", "arches", "minKernel"}


class Rule:
    """One syscall rule of a profile, already checked: names, an action word, errno, args."""

    __slots__ = ("names", "action", "errno_ret", "args", "includes", "excludes")

    def __init__(self, names, action, errno_ret, args, includes, excludes):
        self.names: list[str] = names
        self.action: str = action
        self.errno_ret: int | None = errno_ret
        self.args: list[tuple[int, int, int, int]] = args   # (index, op, value, valueTwo)
        self.includes: dict = includes
        self.excludes: dict = excludes


class Profile:
    """A parsed profile. ``where`` names it in errors (the file's path, or "default")."""

    def __init__(self, data: dict, where: str) -> None:
        self.where = where
        self.digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
        if not isinstance(data, dict):
            self._bad("the top level", "must be a JSON object")
        self.default_action = self._action(data.get("defaultAction"), "defaultAction")
        self.default_errno = self._errno(data.get("defaultErrnoRet"), "defaultErrnoRet")
        self.arch_map = self._arch_map(data)
        rules = data.get("syscalls")
        rules = [] if rules is None else rules
        if not isinstance(rules, list):
            self._bad("syscalls", "must be a list")
        self.rules = [self._rule(r, f"syscalls[{i}]") for i, r in enumerate(rules)]

    def _bad(self, field: str, why: str):
        raise SpecError("seccomp profile", self.where, f"{field} {why}")

    def _action(self, value, field: str) -> str:
        if value not in _ACTIONS:
            if value == "SCMP_ACT_NOTIFY":
                self._bad(field, "SCMP_ACT_NOTIFY needs a listener, which boxkit does not run")
            self._bad(field, f"is {value!r}, expected one of " + ", ".join(sorted(_ACTIONS)))
        return value

    def _errno(self, value, field: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 4096:
            self._bad(field, f"is {value!r}, expected an errno number between 0 and 4095")
        return value

    def _arch_map(self, data: dict) -> list[str]:
        """The SCMP_ARCH_ names to add for this host: its own and, from ``archMap``, the sub-arches
        its kernel also runs (x86 and x32 binaries on x86_64). The OCI form lists them flat in
        ``architectures``."""
        out: list[str] = []
        if data.get("architectures") is not None:
            arches = data["architectures"]
            if not isinstance(arches, list) or not all(isinstance(a, str) for a in arches):
                self._bad("architectures", "must be a list of SCMP_ARCH_ names")
            out += arches
        if data.get("archMap") is not None:
            amap = data["archMap"]
            if not isinstance(amap, list):
                self._bad("archMap", "must be a list")
            native = _native()[0]
            for i, entry in enumerate(amap):
                if not isinstance(entry, dict) or not isinstance(entry.get("architecture"), str):
                    self._bad(f"archMap[{i}]", "needs an architecture name")
                subs = entry.get("subArchitectures") or []
                if not isinstance(subs, list) or not all(isinstance(a, str) for a in subs):
                    self._bad(f"archMap[{i}].subArchitectures", "must be a list of SCMP_ARCH_ names")
                if entry["architecture"] == native:
                    out += [entry["architecture"], *subs]
        for a in out:
            if not a.startswith("SCMP_ARCH_"):
                self._bad("architectures", f"has {a!r}, expected a name like SCMP_ARCH_X86_64")
        return out

    def _rule(self, r, field: str) -> Rule:
        if not isinstance(r, dict):
            self._bad(field, "must be a JSON object")
        unknown = set(r) - _RULE_KEYS
        if unknown:
            self._bad(field, "has unknown field " + ", ".join(sorted(unknown)))
        names = r.get("names")
        if names is None and r.get("name") is not None:
            names = [r["name"]]
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            self._bad(f"{field}.names", "must be a non-empty list of system call names")
        action = self._action(r.get("action"), f"{field}.action")
        errno_ret = self._errno(r.get("errnoRet"), f"{field}.errnoRet")
        args = []
        for j, a in enumerate(r.get("args") or []):
            where = f"{field}.args[{j}]"
            if not isinstance(a, dict):
                self._bad(where, "must be a JSON object")
            idx, op = a.get("index"), a.get("op")
            if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx <= 5:
                self._bad(f"{where}.index", f"is {idx!r}, expected 0 to 5")
            if op not in _sys.SCMP_CMP:
                self._bad(f"{where}.op", f"is {op!r}, expected one of " + ", ".join(_sys.SCMP_CMP))
            vals = []
            for key in ("value", "valueTwo"):
                v = a.get(key, 0)
                if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 1 << 64:
                    self._bad(f"{where}.{key}", f"is {v!r}, expected a number from 0 to 2^64-1")
                vals.append(v)
            args.append((idx, _sys.SCMP_CMP[op], vals[0], vals[1]))
        filters = []
        for key in ("includes", "excludes"):
            f = r.get(key) or {}
            if not isinstance(f, dict) or set(f) - _FILTER_KEYS:
                self._bad(f"{field}.{key}", "may only hold caps, arches and minKernel")
            for k in ("caps", "arches"):
                if not isinstance(f.get(k) or [], list) or not all(isinstance(x, str) for x in f.get(k) or []):
                    self._bad(f"{field}.{key}.{k}", "must be a list of names")
            if f.get("minKernel") is not None and _kernel_tuple(f["minKernel"]) is None:
                self._bad(f"{field}.{key}.minKernel", f"is {f['minKernel']!r}, expected a version like 4.8")
            filters.append(f)
        return Rule(names, action, errno_ret, args, filters[0], filters[1])

    def applies(self, rule: Rule, caps: set[str]) -> bool:
        inc, exc = rule.includes, rule.excludes
        goarch = _native()[1]
        if inc.get("caps") and not all(c in caps for c in inc["caps"]):
            return False
        if inc.get("arches") and goarch not in inc["arches"]:
            return False
        if inc.get("minKernel") and _kernel_tuple(os.uname().release) < _kernel_tuple(inc["minKernel"]):
            return False
        if exc.get("caps") and any(c in caps for c in exc["caps"]):
            return False
        if exc.get("arches") and goarch in exc["arches"]:
            return False
        return True

    def compile(self, caps: set[str]) -> bytes:
        """The BPF program for a container holding ``caps``."""
        default = _action_value(self.default_action, self.default_errno)
        try:
            filt = _sys.SeccompFilter(default, self.arch_map)
        except OSError as e:
            raise SpecError("seccomp profile", self.where, f"{e.strerror}: list only architectures "
                            "the host's libseccomp knows (SCMP_ARCH_X86_64, SCMP_ARCH_X86 ...)") from None
        try:
            for rule in self.rules:
                if not self.applies(rule, caps):
                    continue
                action = _action_value(rule.action, rule.errno_ret)
                if action == default:
                    continue   # libseccomp refuses a rule that changes nothing
                by_index = [a[0] for a in rule.args]
                if len(set(by_index)) != len(by_index):
                    groups = [[a] for a in rule.args]   # two comparisons on one argument: either
                else:
                    groups = [rule.args]
                for name in rule.names:
                    nr = filt.syscall_nr(name)
                    if nr is None:
                        continue   # a call this libseccomp (or this arch) does not know
                    for g in groups:
                        try:
                            filt.add(action, nr, g)
                        except OSError as e:
                            raise SpecError("seccomp profile", self.where,
                                            f"libseccomp refused the rule for {name}: {e.strerror}") from None
            return filt.export()
        finally:
            filt.close()


def _action_value(action: str, errno_ret: int | None) -> int:
    base = _ACTIONS[action]
    if action == "SCMP_ACT_ERRNO":
        return base | (EPERM if errno_ret is None else errno_ret)
    if action == "SCMP_ACT_TRACE":
        return base | (errno_ret or 0)
    return base


def _kernel_tuple(text) -> tuple[int, ...] | None:
    if not isinstance(text, str):
        return None
    parts = []
    for p in text.split("-")[0].split(".")[:3]:
        digits = "".join(ch for ch in p if ch.isdigit())
        if not digits:
            return None if not parts else tuple(parts)
        parts.append(int(digits))
    return tuple(parts) or None


def _native() -> tuple[str, str]:
    m = os.uname().machine
    return _MACHINES.get(m, ("SCMP_ARCH_NATIVE", m))


def load_profile(path: str) -> Profile:
    """Read and check a profile file; every mistake is one sentence naming the file and the field."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_PROFILE_BYTES + 1)
    except OSError as e:
        raise SpecError("seccomp profile", path, f"cannot be read ({e.strerror})") from None
    if len(raw) > MAX_PROFILE_BYTES:
        raise SpecError("seccomp profile", path, "is larger than 1 MiB")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise SpecError("seccomp profile", path, f"is not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise SpecError("seccomp profile", path, "the top level must be a JSON object")
    return Profile(data, path)


@lru_cache(maxsize=1)
def default_profile() -> Profile:
    return load_profile(DEFAULT_PROFILE)


_programs: dict[tuple[str, int], str] = {}


def program(profile: Profile, cap_mask: int) -> str:
    """The compiled filter for ``profile`` and a capability set, base64 (plans are JSON); compiled
    once per process for each pair."""
    key = (profile.digest, cap_mask)
    prog = _programs.get(key)
    if prog is None:
        try:
            raw = profile.compile(set(_sys.cap_names(cap_mask)))
        except OSError as e:   # no libseccomp.so.2, or it refused the whole filter
            raise HostError("cannot compile seccomp profile", profile.where, errno=e.errno or None,
                            detail=e.strerror or str(e),
                            hint="install libseccomp2, or run with --security-opt seccomp=unconfined") from None
        prog = base64.b64encode(raw).decode()
        _programs[key] = prog
    return prog


def load(encoded: str, sys: _sys.Sys | None = None) -> None:
    """In the container, last before ``execve``: load a program made by :func:`program`."""
    (sys or _sys.SYS).load_seccomp(base64.b64decode(encoded))
