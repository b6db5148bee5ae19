"""Percentiles and a trend line: the two summaries every performance figure here is made of."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Percentiles:
    p50: float
    p95: float
    p99: float

    @classmethod
    def of(cls, samples: list[float]) -> "Percentiles":
        """Inclusive percentiles; one sample is its own percentiles, none gives NaN (a part that did not run)."""
        if not samples:
            return cls(float("nan"), float("nan"), float("nan"))
        if len(samples) == 1:
            return cls(samples[0], samples[0], samples[0])
        q = statistics.quantiles(samples, n=100, method="inclusive")
        return cls(p50=statistics.median(samples), p95=q[94], p99=q[98])

    def minus(self, other: "Percentiles") -> "Percentiles":
        """Percentile by percentile: what the proxy adds over the direct path."""
        return Percentiles(self.p50 - other.p50, self.p95 - other.p95, self.p99 - other.p99)


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ``ys`` over ``xs``; 0 with fewer than two distinct ``xs``."""
    if len(xs) < 2 or len(set(xs)) < 2:
        return 0.0
    return statistics.linear_regression(xs, ys).slope
