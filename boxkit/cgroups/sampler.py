"""Sampling a running container's cgroup files into a time series.

The kernel keeps the numbers (``memory.current``, CPU time used, ``pids.current``); a plot needs them over
time. :class:`Sampler` reads the group's files at a fixed rate in a thread of the *caller* (reading files
needs no fork, so a notebook kernel may do it) until the container ends, and keeps one list per field.
CPU use is turned into cores: the growth of ``cpu_usage_usec`` divided by the wall time between samples.
Its own cost is measured by ``bench/sampler_overhead.py``.

Memory in use is :attr:`~boxkit.cgroups.Stats.memory_in_use`: ``memory.current`` without a charge the kernel is
in the middle of refusing.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field

FIELDS = ("memory_current", "cpu_usage_usec", "nr_throttled", "throttled_usec", "pids_current", "oom_kills")


@dataclass
class Series:
    t: list[float] = field(default_factory=list)
    memory_current: list[int] = field(default_factory=list)
    cpu_usage_usec: list[int] = field(default_factory=list)
    nr_throttled: list[int] = field(default_factory=list)
    throttled_usec: list[int] = field(default_factory=list)
    pids_current: list[int] = field(default_factory=list)
    oom_kills: list[int] = field(default_factory=list)
    memory_psi: list[float | None] = field(default_factory=list)   # some avg10 %, None without PSI
    memory_limit: int | None = None
    cpu_limit: float | None = None
    pids_max: int | None = None
    recorded: bool = False

    def cores(self) -> list[float]:
        """CPU use in cores between consecutive samples (one shorter than t)."""
        out = []
        for i in range(1, len(self.t)):
            dt = self.t[i] - self.t[i - 1]
            du = (self.cpu_usage_usec[i] - self.cpu_usage_usec[i - 1]) / 1e6
            out.append(du / dt if dt > 0 else 0.0)
        return out

    def mean_cores(self, skip: float = 0.0) -> float:
        idx = [i for i, t in enumerate(self.t) if t >= skip]
        if len(idx) < 2:
            return 0.0
        a, b = idx[0], idx[-1]
        return (self.cpu_usage_usec[b] - self.cpu_usage_usec[a]) / 1e6 / (self.t[b] - self.t[a])

    @property
    def peak_memory(self) -> int:
        return max(self.memory_current, default=0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Series:
        return cls(**d)


class Sampler:
    """``with Sampler(group, hz=20) as s: ...`` then ``s.series``."""

    def __init__(self, group, hz: float = 20.0, on_sample=None):
        self.group = group
        self.period = 1.0 / hz
        self.on_sample = on_sample
        self.series = Series()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self._seen: set[str] = set()   # fields earlier samples could read

    def sample(self) -> None:
        st = self.group.stats()
        if st.memory_current is None and st.cpu_usage_usec is None and st.pids_current is None:
            raise FileNotFoundError("the cgroup is gone")   # the container ended and was cleaned up
        if any(getattr(st, f) is None for f in self._seen):
            # read while the group was being removed: some files were gone. Kept, the missing ones
            # would be zeros, and a counter that falls to 0 makes a negative rate (-0.19 cores, in
            # the v2 VM)
            raise FileNotFoundError("the cgroup is going away")
        self._seen.update(f for f in FIELDS if getattr(st, f) is not None)
        s = self.series
        s.t.append(time.monotonic() - self._t0)
        for f in FIELDS:
            getattr(s, f).append(getattr(st, f) or 0)
        s.memory_current[-1] = st.memory_in_use or 0
        s.memory_psi.append((st.psi or {}).get("memory"))
        # limits do not change while a container runs; a read racing with the group's removal after the
        # exit (seen on v2) returns None and must not erase what was read while it ran
        s.memory_limit = st.memory_limit if st.memory_limit is not None else s.memory_limit
        s.cpu_limit = st.cpu_limit if st.cpu_limit is not None else s.cpu_limit
        s.pids_max = st.pids_max if st.pids_max is not None else s.pids_max

    def _loop(self) -> None:
        nxt = time.monotonic()
        while not self._stop.is_set():
            try:
                self.sample()
            except OSError:
                break   # the group is gone: the container ended and was cleaned up
            if self.on_sample is not None:
                self.on_sample(self.series)
            nxt += self.period
            self._stop.wait(max(0.0, nxt - time.monotonic()))

    def start(self) -> Sampler:
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="boxkit-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> Series:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.series

    def __enter__(self) -> Sampler:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
