"""A small HTTP load generator run from the host (threads and urllib: no fork, notebook-safe).

Bounded in time and in concurrency, aimed only at the URL it is given (the course uses a port it
published on 127.0.0.1).
"""

from __future__ import annotations

import threading
import time
import urllib.request
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def http_load(url: str, seconds: float = 5.0, concurrency: int = 4, timeout: float = 2.0) -> LoadResult:
    res = LoadResult()
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def worker() -> None:
        while time.monotonic() < end:
            t = time.perf_counter()
            try:
                with urllib.request.urlopen(url, timeout=timeout) as r:
                    r.read()
                ok = True
            except Exception:   # refused, reset, timed out, or cut short (http.client.IncompleteRead)
                ok = False
                time.sleep(0.05)
            with lock:
                if ok:
                    res.requests += 1
                    res.latencies_ms.append((time.perf_counter() - t) * 1000)
                else:
                    res.errors += 1

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    res.seconds = time.monotonic() - t0
    return res
