"""The release_agent escape (CVE-2022-0492's shape), as a container would attempt it, for the tests.

On cgroup v1 the root group of each hierarchy has ``release_agent``: the program the kernel runs as
root on the host when a group with ``notify_on_release=1`` empties. A container with CAP_SYS_ADMIN
and a cgroup namespace can mount a hierarchy that already exists; the mount's root is the group the
container sits in. :data:`SCRIPT` mounts every hierarchy named on its command line and reports, for
each, whether the mount worked, whether it shows a real cgroup directory, and whether
``release_agent`` is there and takes a write. The only write it attempts is the value the file already
holds, so a run that finds the escape open changes nothing on the host.
"""

from __future__ import annotations

SCRIPT = r'''
d=/tmp   # exists in every image, and a read-only root still takes a mount over it
for opts in "$@"; do
  if mount -t cgroup -o "$opts" escape $d 2>/dev/null; then
    cg=no; [ -e $d/cgroup.procs ] && cg=yes
    ra=absent
    if [ -e $d/release_agent ]; then
      v=$(cat $d/release_agent)
      if (printf '%s' "$v" > $d/release_agent) 2>/dev/null; then ra=WRITABLE; else ra=refused; fi
    fi
    echo "$opts mounted cgroup=$cg release_agent=$ra"
    umount $d
  else
    echo "$opts refused"
  fi
done
echo "cgroup lines: $(grep -c . /proc/self/cgroup), at the namespace root: $(grep -c ':/$' /proc/self/cgroup)"
'''


def v1_hierarchies(mountinfo: str = "/proc/self/mountinfo") -> list[str]:
    """Each mounted v1 hierarchy as the ``-o`` options that mount it again: its controllers
    (``cpu,cpuacct``), or ``none,name=systemd`` for a named one."""
    out = []
    with open(mountinfo) as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype, _src, opts = (right.split() + ["", "", ""])[:3]
            if fstype != "cgroup":
                continue
            keep = [o for o in opts.split(",") if o not in ("rw", "ro") and "=" not in o or o.startswith("name=")]
            if any(o.startswith("name=") for o in keep) and not any(
                    not o.startswith("name=") for o in keep):
                keep = ["none", *keep]
            if keep and ",".join(keep) not in out:
                out.append(",".join(keep))
    return out


def parse(stdout: str) -> dict[str, str]:
    """``{"cpuset": "mounted cgroup=yes release_agent=absent", "freezer": "refused", ...}``."""
    out = {}
    for line in stdout.splitlines():
        opts, _, rest = line.partition(" ")
        if rest.startswith(("mounted", "refused")):
            out[opts] = rest
    return out
