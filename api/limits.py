"""Rate limits per API key: a token bucket per key and limit, in the memory of the API process.

A key may make `burst` requests at once, then `per_minute` a minute (cdp.yaml's `api.rate_limit`);
searches draw on a second, stricter bucket as well (`api.search_rate_limit`), since a search can
test a guess. Each worker process keeps its own buckets, so with `--workers N` a key may make up to N
times as many requests. Only known keys have buckets: their number is bounded by the configuration.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cdp.config import RateLimit


@dataclass
class Bucket:
    """Tokens left and when they were counted; one token per request, refilled continuously."""

    tokens: float
    stamp: float


@dataclass
class Limiter:
    """One limit over every key: `wait(key)` takes a token, or says how long until one is there."""

    limit: RateLimit
    clock: Callable[[], float] = time.monotonic
    buckets: dict[str, Bucket] = field(default_factory=dict)
    # Routes run on the event loop and in the thread pool: a lock keeps a bucket's read and write together.
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self, key: str) -> float:
        """0 after taking a token of `key`'s bucket; else the seconds until one is refilled (nothing taken)."""
        rate = self.limit.per_minute / 60
        now = self.clock()
        with self.lock:
            bucket = self.buckets.get(key)
            if bucket is None:
                bucket = self.buckets[key] = Bucket(float(self.limit.burst), now)
            bucket.tokens = min(self.limit.burst, bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / rate


def retry_after(seconds: float) -> str:
    """The Retry-After header's value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
