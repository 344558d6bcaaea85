"""A small HTTP load generator run from the host (threads and urllib: no fork, notebook-safe).

Bounded by a **count** of requests first and by wall time only as a safety net, and aimed only at the
URL it is given (the course uses a port it published on 127.0.0.1). A count, not a duration, is what
makes a demo's outcome the same on every machine: the capstone's shop keeps 32 KiB per order, so
"6 seconds at full speed" is 2,000 orders on one laptop and 8,000 (past its memory limit) on a faster
one, while "1,500 orders" is the same 47 MiB everywhere, only sooner or later.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from dataclasses import dataclass, field

from .i18n import _


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    timed_out: bool = False   # the safety net (max_seconds) ended the run before the count was reached

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def http_load(url: str, requests: int = 1000, concurrency: int = 4, timeout: float = 2.0,
              max_seconds: float = 120.0, max_errors: int = 100) -> LoadResult:
    """Send ``requests`` successful requests with ``concurrency`` threads (errors do not count, and
    are retried after a short pause). ``max_errors`` failed requests or ``max_seconds`` end a run whose
    server stopped answering (then ``timed_out`` is set)."""
    if requests < 1 or concurrency < 1:
        raise ValueError(_("http_load needs requests >= 1 and concurrency >= 1, got {requests}, {concurrency}")
                         .format(requests=requests, concurrency=concurrency))
    res = LoadResult()
    lock = threading.Lock()
    end = time.monotonic() + max_seconds
    claimed = 0   # requests handed to a worker: never more than `requests` in flight or done

    def worker() -> None:
        nonlocal claimed
        while time.monotonic() < end:
            with lock:
                if claimed >= requests or res.errors >= max_errors:
                    return
                claimed += 1
            t = time.perf_counter()
            try:
                with urllib.request.urlopen(url, timeout=timeout) as r:
                    r.read()
                ok = True
            except Exception:   # refused, reset, timed out, or cut short (http.client.IncompleteRead)
                ok = False
            with lock:
                if ok:
                    res.requests += 1
                    res.latencies_ms.append((time.perf_counter() - t) * 1000)
                else:
                    res.errors += 1
                    claimed -= 1   # a failed request is sent again: the count is of served ones
            if not ok:
                time.sleep(0.05)

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _worker in range(concurrency)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    res.seconds = time.monotonic() - t0
    res.timed_out = res.requests < requests
    return res
