"""One directory per OCI container under the runtime's root (``/run/boxkit-runtime/<id>/``).

No process stays behind to watch a container (runc's way): what the other verbs need is on disk.

* ``state.json`` — the container's PID and its start time (a PID alone could be reused by an
  unrelated process after the container ended: the start time from ``/proc/PID/stat`` tells them
  apart), the bundle, the annotations, the cgroup directories and the hooks still to run;
* ``exec.fifo`` — the start gate. It exists from ``create`` until ``start``, so its presence with a
  live PID 1 is the spec's ``created``; gone with a live PID 1 is ``running``; a PID 1 that is gone is
  ``stopped``.

The directory is made with ``mkdir`` (atomic: two ``create``\\ s of one id cannot both succeed) and the
state file is replaced by ``rename`` so a reader never sees half of it.
"""

from __future__ import annotations

import json
import os
import re

from .. import files
from ..errors import BoxkitError, SpecError
from ..runtime import state as rstate

OCI_VERSION = "1.0.2"
DEFAULT_ROOT = "/run/boxkit-runtime"


def default_root() -> str:
    """runc's choice: ``/run/boxkit-runtime`` for root; for anyone else ``$XDG_RUNTIME_DIR/boxkit-runtime``
    (their own tmpfs), or a directory of their uid's under ``/tmp`` where no session set one."""
    if os.geteuid() == 0:
        return DEFAULT_ROOT
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    if runtime_dir and os.path.isdir(runtime_dir):
        return os.path.join(runtime_dir, "boxkit-runtime")
    return f"/tmp/boxkit-runtime-{os.geteuid()}"
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,1023}$")


class NoSuchContainer(BoxkitError):
    def __init__(self, cid: str):
        super().__init__(f'container "{cid}" does not exist', errno=2)
        self.hint = None
        self.detail = None
        self.args = (self._render(),)


def check_id(cid: str) -> str:
    if not _ID_RE.match(cid or ""):
        raise SpecError("container id", cid, "use letters, digits, '_', '.', '+' and '-'")
    return cid


class Store:
    def __init__(self, root: str | None):
        self.root = root or default_root()

    def dir(self, cid: str) -> str:
        return os.path.join(self.root, check_id(cid))

    def fifo(self, cid: str) -> str:
        return os.path.join(self.dir(cid), "exec.fifo")

    def make(self, cid: str) -> str:
        os.makedirs(self.root, 0o700, exist_ok=True)
        st = os.lstat(self.root)
        # a root under /tmp could have been made by another user first (or be their symlink): the
        # state of our containers (PIDs the other verbs signal) must be ours alone
        if not os.path.isdir(self.root) or os.path.islink(self.root) or st.st_uid != os.geteuid():
            raise BoxkitError("cannot use the runtime's state directory", self.root, errno=1,
                              detail="it is not a directory of this user's", hint="remove it or pass --root DIR")
        d = self.dir(cid)
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            raise BoxkitError(f'container "{cid}" already exists', errno=17, hint="pick another id or delete it") from None
        return d

    def write(self, cid: str, data: dict) -> None:
        files.write_json(os.path.join(self.dir(cid), "state.json"), data)

    def read(self, cid: str) -> dict:
        try:
            with open(os.path.join(self.dir(cid), "state.json")) as f:
                return json.load(f)
        except (FileNotFoundError, NotADirectoryError):
            raise NoSuchContainer(cid) from None
        except ValueError:
            raise BoxkitError("cannot read state of container", cid, detail="state.json is damaged",
                              hint="delete it with --force") from None

    def status(self, cid: str, st: dict) -> str:
        if st.get("status") == "creating":
            return "creating"
        if not st.get("pid") or not rstate.alive(st["pid"], st.get("starttime")):
            return "stopped"
        return "created" if os.path.exists(self.fifo(cid)) else "running"

    def spec_state(self, cid: str, st: dict) -> dict:
        status = self.status(cid, st)
        out = {"ociVersion": OCI_VERSION, "id": cid, "status": status,
               "pid": st.get("pid", 0) if status in ("created", "running", "creating") else 0,
               "bundle": st.get("bundle", ""), "annotations": st.get("annotations") or {}}
        # podman reads these runc extensions
        out["rootfs"] = st.get("rootfs", "")
        out["created"] = st.get("created_iso", "")
        return out

    def ids(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.root) if _ID_RE.match(n))
        except FileNotFoundError:
            return []
