"""The server's counters, written in the Prometheus text format (``GET /metrics``).

    layerlab_requests_total{path, status}      requests answered, by path and HTTP status
    layerlab_request_seconds{path}             a histogram of the time to answer
    layerlab_batch_size                        a histogram of the examples per forward pass
    layerlab_examples_total                    examples predicted
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Histogram:
    def __init__(self, buckets: tuple[float, ...]):
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)  # the last: above every bucket
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value

    def lines(self, name: str, labels: str = "") -> list[str]:
        out, running = [], 0
        sep = "," if labels else ""
        for bound, count in zip((*self.buckets, "+Inf"), self.counts):
            running += count
            out.append(f'{name}_bucket{{{labels}{sep}le="{bound}"}} {running}')
        suffix = f"{{{labels}}}" if labels else ""
        return out + [f"{name}_sum{suffix} {self.sum:.6f}", f"{name}_count{suffix} {running}"]


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # batches are counted from the worker's thread too
        self.requests: Counter[tuple[str, int]] = Counter()
        self.latency: dict[str, Histogram] = {}
        self.batches = Histogram(BATCH_BUCKETS)
        self.examples = 0

    def request(self, path: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[path, status] += 1
            self.latency.setdefault(path, Histogram(LATENCY_BUCKETS)).observe(seconds)

    def batch(self, size: int) -> None:
        with self._lock:
            self.batches.observe(size)
            self.examples += size

    def text(self) -> str:
        with self._lock:
            lines = ["# HELP layerlab_requests_total Requests answered, by path and HTTP status.",
                     "# TYPE layerlab_requests_total counter"]
            lines += [f'layerlab_requests_total{{path="{p}",status="{s}"}} {n}'
                      for (p, s), n in sorted(self.requests.items())]
            lines += ["# HELP layerlab_request_seconds Time to answer a request.",
                      "# TYPE layerlab_request_seconds histogram"]
            for path, histogram in sorted(self.latency.items()):
                lines += histogram.lines("layerlab_request_seconds", f'path="{path}"')
            lines += ["# HELP layerlab_batch_size Examples per forward pass.", "# TYPE layerlab_batch_size histogram"]
            lines += self.batches.lines("layerlab_batch_size")
            lines += ["# HELP layerlab_examples_total Examples predicted.", "# TYPE layerlab_examples_total counter",
                      f"layerlab_examples_total {self.examples}"]
        return "\n".join(lines) + "\n"
