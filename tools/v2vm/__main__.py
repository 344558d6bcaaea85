"""``python -m tools.v2vm [options] [pytest args]``: run the cgroup tests on a cgroup-v2 kernel in a VM."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

from . import runner
from .runner import VMConfig, run_vm


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tools.v2vm",
        description="Boot Debian's 6.1 kernel with cgroup v2 only under qemu (TCG) on this machine's own "
                    "read-only root, run pytest inside as root, exit with its status.",
        epilog="Arguments it does not know go to the inner pytest and replace the default selection "
               "(tools/v2vm/runner.py: DEFAULT_TESTS; --full: FULL_TESTS).")
    ap.add_argument("--strict", action="store_true", help="exit 1 instead of 0 when qemu or the kernel is missing")
    ap.add_argument("--kernel", help="kernel image (default: newest /boot/vmlinuz-6.1.0-*-amd64 with modules)")
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--memory", default="3G")
    ap.add_argument("--timeout", type=float, default=1500.0, help="seconds for the whole run (default 1500)")
    ap.add_argument("--initramfs", choices=("own", "virtme"), default="own",
                    help="who builds the initramfs: boxkit's builder (default; mounts the root with cache=loose) "
                         "or virtme-ng (no 9p cache: python starts ~3x slower)")
    ap.add_argument("--full", action="store_true",
                    help="run the whole of the three test files (~13 min under TCG) instead of the lean default")
    ap.add_argument("--record", action="store_true",
                    help="execute notebook 02 in the VM and put its cgroup v2 cells (memory.high, PSI) into "
                         "boxkit/recordings/course.json, which v1 hosts replay")
    ap.add_argument("--verbose", action="store_true", help="kernel messages on the console")
    ap.add_argument("--quiet", action="store_true", help="do not stream the console; print the inner output at the end")
    args, rest = ap.parse_known_args(argv)
    if rest and rest[0] == "--":
        rest = rest[1:]
    collect = tempfile.mkdtemp(prefix="v2vm-out-") if args.record else None
    if args.record:
        rest = ["tools/v2vm/execute_notebooks.py"]
    cfg = VMConfig(kernel=args.kernel, cpus=args.cpus, memory=args.memory, timeout=args.timeout,
                   verbose=args.verbose, echo=not args.quiet, initramfs=args.initramfs, collect=collect,
                   pytest_args=rest or list(runner.FULL_TESTS if args.full else runner.DEFAULT_TESTS))
    res = run_vm(cfg)
    if collect:
        try:
            if res.exit_code == 0:
                from boxkit import course

                for name in sorted(os.listdir(collect)):
                    keys = course.record_from(os.path.join(collect, name), "cgroup2")
                    print(f"v2vm: recorded {len(keys)} cgroup v2 cell(s) of {name}: {', '.join(keys)}")
        finally:
            shutil.rmtree(collect, ignore_errors=True)
    if res.skipped:
        print(f"v2vm: skipped: {res.skipped}")
        return 1 if args.strict else 0
    if args.quiet and res.output:
        print(res.output, end="" if res.output.endswith("\n") else "\n")
    boot = f"{res.boot_s:.1f} s" if res.boot_s is not None else "n/a"
    guest = f"{res.guest_boot_s:.1f} s" if res.guest_boot_s is not None else "n/a"
    print(f"v2vm: boot {boot} (host clock, qemu start -> init running; guest uptime then {guest}), "
          f"total {res.total_s:.1f} s")
    if res.retried:
        print(f"v2vm: the first boot was killed ({res.retried}); this is the second boot's result")
    if res.error:
        print(f"v2vm: error: {res.error}")
    print(f"v2vm: inner result: {res.summary or 'no pytest summary'}; exit status {res.exit_code}")
    return res.exit_code


if __name__ == "__main__":
    sys.exit(main())
