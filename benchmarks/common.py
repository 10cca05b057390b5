"""Shared pieces of the benchmarks: timing stats, rows, the fixture site, RSS."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.site import FixtureSite, serve_site  # noqa: E402

__all__ = ["ROOT", "FixtureSite", "Row", "measure", "percentile", "serve_site", "timed"]


@dataclass
class Row:
    """One line of the results table."""

    section: str
    metric: str
    value: str
    target: str = ""
    ok: bool | None = None  # None: no target

    def cells(self) -> list[str]:
        verdict = "" if self.ok is None else ("yes" if self.ok else "NO")
        return [self.section, self.metric, self.value, self.target, verdict]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


async def timed(fn: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    """Milliseconds taken by one await, and its result."""
    t0 = time.perf_counter()
    result = await fn()
    return (time.perf_counter() - t0) * 1000, result


async def measure(fn: Callable[[], Awaitable[Any]], n: int, *, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        await fn()
    out = []
    for _ in range(n):
        ms, _ = await timed(fn)
        out.append(ms)
    return out


def p50_p95(values: list[float]) -> str:
    return f"p50 {statistics.median(values):.1f} ms, p95 {percentile(values, 95):.1f} ms"
