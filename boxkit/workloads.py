"""Workloads that run *inside* containers, for the cgroups demos and tests.

As crun's tests use one static payload (``memhog``, ``forkbomb``, ``pause``), boxkit builds argv lists
for the base images: Python programs for the ``host`` image (which carries python3), shell loops for
``busybox``. Each bounds itself in time so a demo can never run away.
"""

from __future__ import annotations

MEMHOG = r"""
import sys, time
step, target, pause = int(sys.argv[1]) << 20, int(sys.argv[2]) << 20, float(sys.argv[3])
held = []
while sum(map(len, held)) < target:
    held.append(b"x" * step)          # b"x" * n writes every page: resident, charged to the cgroup
    time.sleep(pause)
print("reached", sum(map(len, held)) >> 20, "MiB", flush=True)
time.sleep(1)
"""


def memhog(target_mb: int, step_mb: int = 10, pause: float = 0.02) -> list[str]:
    """``host`` image: grow by ``step_mb`` every ``pause`` seconds up to ``target_mb``."""
    return ["python3", "-c", MEMHOG, str(step_mb), str(target_mb), str(pause)]


def cpuburn(seconds: float, workers: int = 1) -> list[str]:
    """``busybox`` image: ``workers`` busy loops for ``seconds``."""
    loop = f"end=$(( $(date +%s) + {int(seconds)} )); while [ $(date +%s) -lt $end ]; do :; done"
    return ["sh", "-c", " & ".join([f"({loop})"] * workers) + "; wait"]


FORKBOMB = r"""
import os, sys, time
end = time.monotonic() + float(sys.argv[1])
made = refused = 0
while time.monotonic() < end:
    try:
        if os.fork() == 0:
            time.sleep(max(0.0, end - time.monotonic()) + 1)
            os._exit(0)
        made += 1
    except BlockingIOError:          # EAGAIN: pids.max reached, the kernel refused the fork
        refused += 1
        time.sleep(0.001)
print("forked", made, "refused", refused, flush=True)
"""


def forkbomb(seconds: float) -> list[str]:
    """``host`` image: fork as fast as possible for ``seconds`` (children sleep), then stop by itself
    and report how many forks the kernel refused."""
    return ["python3", "-c", FORKBOMB, str(seconds)]


def pause(seconds: float = 300) -> list[str]:
    return ["sleep", str(seconds)]


# notebook 09: a well-behaved parent that leaves three orphans to PID 1. It waits for its own child;
# that child forks three children and exits without waiting. The three read a pipe until its end,
# which comes when the last writer (the middle process) has gone: each exits right after being
# orphaned, with no timing. Their PIDs are written to /tmp/orphans.
ORPHANS = r"""
import os, time
r, w = os.pipe()
middle = os.fork()
if middle == 0:
    kids = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:                     # an orphan to be: ends once the middle process has gone
            os.close(w)
            os.read(r, 1)
            os._exit(0)
        kids.append(pid)
    with open('/tmp/orphans.new', 'w') as f:
        f.write(' '.join(map(str, kids)))
    os.rename('/tmp/orphans.new', '/tmp/orphans')
    os._exit(0)                          # leaves its three children to PID 1
os.close(r)
os.close(w)
os.waitpid(middle, 0)                    # the command waits for its own child, never for orphans
time.sleep(300)
"""

# run next to ORPHANS (an exec): wait (at most 20 s) until the orphans have exited, give PID 1 two
# seconds to reap them, then print each orphan's state (Z, or gone) and every zombie of the namespace
ORPHAN_STATES = r"""
import os, time
def state(pid):
    try:
        return open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[0]
    except FileNotFoundError:
        return 'gone'
t = time.monotonic()
while not os.path.exists('/tmp/orphans') and time.monotonic() - t < 20:
    time.sleep(0.01)
kids = open('/tmp/orphans').read().split()
t = time.monotonic()
while any(state(k) not in ('Z', 'gone') for k in kids) and time.monotonic() - t < 20:
    time.sleep(0.01)
t = time.monotonic()
while any(state(k) != 'gone' for k in kids) and time.monotonic() - t < 2:
    time.sleep(0.01)
print(' '.join(state(k) for k in kids))
print(' '.join(p for p in os.listdir('/proc') if p.isdigit() and state(p) == 'Z'))
"""


def orphans(python: str = "python3") -> list[str]:
    """``host`` image: a command that leaves three orphans to PID 1 (each exits at once), then sleeps."""
    return [python, "-c", ORPHANS]


def orphan_states(python: str = "python3") -> list[str]:
    """``host`` image, exec'd next to :func:`orphans`: prints the orphans' states, then the zombies."""
    return [python, "-c", ORPHAN_STATES]
