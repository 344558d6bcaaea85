"""v2vm: run boxkit's cgroup and container tests on a cgroup-v2-only kernel, in a VM, on a v1 host.

Why a VM: which cgroup version a machine uses is decided when the kernel boots. The course's CI host
boots in *hybrid* mode (v1 controllers, an empty v2 tree at ``/sys/fs/cgroup/unified``), so the v2
driver cannot be exercised there — a controller attached to a v1 hierarchy can never be attached to
the v2 one. A second kernel can be booted with different choices, though, and a virtual machine is
the cheapest second kernel.

How it boots (each piece is a plain Linux mechanism, no image to build):

* **kernel**: Debian's ``/boot/vmlinuz-6.1.0-*-amd64``, the same one ``linux-image-amd64`` installs;
  its modules sit in ``/lib/modules/6.1.0-*`` on this host, which the guest sees (below).
* **kernel command line**: ``cgroup_no_v1=all`` stops every controller from binding to a v1
  hierarchy, so they all land on the v2 tree; ``systemd.unified_cgroup_hierarchy=1`` says the same for
  anyone who asks systemd. ``panic=-1`` + qemu's ``-no-reboot`` turn a dying guest into an exiting qemu.
* **root file system**: the host's own ``/``, exported READ-ONLY over *virtio-9p* (``-fsdev
  local,readonly=on``): the guest runs the very same Python, venv and checkout as the host, and cannot
  change a byte of it. ``multidevs=remap`` keeps inode numbers unique across the host's mounts.
* **initramfs**: the 9p and virtio drivers are modules in Debian's kernel, so something must load
  them before ``/`` can be mounted. virtme-ng (PyPI) builds that tiny initramfs (busybox + the modules
  + a script that mounts the 9p root and ``switch_root``\\s to ``init=``); we ask it for just that
  (``virtme-run --dry-run --save-initramfs``).
* **init**: our own ``guest_init.sh`` instead of virtme-ng's, because virtme-ng's init starts udev,
  whose coldplug costs over a minute under emulation. Ours mounts proc/sys/dev, tmpfs on ``/tmp``,
  ``/run``, ``/var/lib`` (the writable places; ``BOXKIT_ROOT`` lives there), ``cgroup2`` alone at
  ``/sys/fs/cgroup``, runs the host-written ``run.sh`` and writes its exit status into a second,
  writable 9p share (tag ``v2vmio``, a fresh temp dir on the host), then powers off via sysrq.
* **CPU**: plain TCG emulation (``-accel tcg``): KVM hangs on this machine kind. Slow (a few times
  slower than native), so the inner test selection is kept lean.

The runner prints the serial console as it comes, measures the boot (qemu start → our init running),
and exits with the inner pytest's status. Missing qemu or kernel → it prints why and exits 0 (1 with
``--strict``), so a host without them skips rather than fails.
"""

from __future__ import annotations

from .runner import DEFAULT_TESTS, FULL_TESTS, Result, VMConfig, find_kernel, run_vm

__all__ = ["DEFAULT_TESTS", "FULL_TESTS", "Result", "VMConfig", "find_kernel", "run_vm"]
