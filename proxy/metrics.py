"""The proxy's Prometheus metrics: every metric object, and the small functions that record them.

One module, so that names, units and label sets are decided in one place and
the dashboard (``deploy/grafana``) and alert rules (``deploy/prometheus``) can
rely on them. Labels are bounded on purpose: a model label only ever holds a
configured model name (or ``unknown``), a scenario label one of MM-SafetyBench's
13 ids (or ``none``), an error kind one of ``ERROR_KINDS``; never a prompt, a
user id or any other text a client controls, which would leak content into the
monitoring system and let a client grow its series without bound.

Several uvicorn workers share their figures through prometheus_client's
multiprocess mode: when ``$PROMETHEUS_MULTIPROC_DIR`` is set (``mmguard serve
--workers N`` sets it), each process writes its values to files there and
``exposition()`` sums them, so any worker answers a scrape for all of them.
The variable must be set before this module is imported.
"""

from __future__ import annotations

import glob
import os
import re
from typing import Iterable, Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

from proxy.scenarios import SCENARIOS

Decision = Literal["allow", "annotate", "block", "error"]
FlagSource = Literal["text", "ocr", "combined", "output"]
Stage = Literal["fetch", "decode", "ocr", "classify", "total"]

STAGES: tuple[Stage, ...] = ("fetch", "decode", "ocr", "classify", "total")
SCENARIO_IDS = frozenset(s.id for s in SCENARIOS)
FLAG_SOURCES = frozenset({"text", "ocr", "combined", "output"})
ACTIONS = frozenset({"block", "annotate", "allow"})
#: Every value the ``kind`` label of ``mmguard_errors_total`` can take.
ERROR_KINDS = (
    "bad_request",
    "auth",
    "too_large",
    "unknown_model",
    "bad_image",
    "upstream_bad_request",
    "upstream_auth",
    "upstream_rate_limit",
    "upstream_timeout",
    "upstream_error",
    "guard_error",
    "client_closed",
    "internal",
)
#: ProxyError codes (proxy/errors.py, proxy/upstream/failures.py, proxy/intake.py, proxy/request.py) by error kind.
_KIND_OF_CODE = {
    "invalid_json": "bad_request",
    "invalid_request": "bad_request",
    "too_many_images": "bad_request",
    "unreadable_content": "bad_request",
    "invalid_api_key": "auth",
    "request_too_large": "too_large",
    "model_not_found": "unknown_model",
    "invalid_image": "bad_image",
    "upstream_bad_request": "upstream_bad_request",
    "upstream_auth_failed": "upstream_auth",
    "rate_limit_exceeded": "upstream_rate_limit",
    "upstream_timeout": "upstream_timeout",
    "upstream_error": "upstream_error",
    "internal_error": "internal",
}
disable_created_metrics()  # one worker exposes the same series as many: multiprocess mode has no *_created

#: From half a millisecond (a cached guard pass) to 30 s (a slow model).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter("mmguard_requests", "Chat completion requests by configured model, policy and how they ended.", ["model", "policy", "decision"])
GUARD_FLAGS = Counter(
    "mmguard_guard_flags",
    "Guard findings (one request can raise several), by scenario, action, the input that raised it and the rule that shaped it.",
    ["scenario", "action", "source", "rule"],
)
GUARD_STAGE = Histogram("mmguard_guard_stage_seconds", "Time the guard spent per request in each stage.", ["stage"], buckets=LATENCY_BUCKETS)
UPSTREAM = Histogram("mmguard_upstream_seconds", "Time of the upstream model call (for streams, until the last chunk).", ["model"], buckets=LATENCY_BUCKETS)
OVERHEAD = Histogram("mmguard_proxy_overhead_seconds", "The proxy's own time per answered request, the upstream call excluded (x-mmguard-overhead-ms).", buckets=LATENCY_BUCKETS)
OCR_CACHE_HITS = Counter("mmguard_ocr_cache_hits", "Image reads answered from the OCR cache.")
OCR_CACHE_MISSES = Counter("mmguard_ocr_cache_misses", "Image reads that ran OCR.")
OCR_SECOND_READS = Counter("mmguard_ocr_second_reads", "Images read a second time, deskewed and larger, because the first read was in doubt.")
ERRORS = Counter("mmguard_errors", "Failures by kind: the request's error response, a stream's error event, or a guard failure handled by the fail mode.", ["kind"])
IN_FLIGHT = Gauge("mmguard_requests_in_flight", "Chat completion requests being served, streams included until their last byte.", multiprocess_mode="livesum")

for _stage in STAGES:
    GUARD_STAGE.labels(_stage)
for _kind in ERROR_KINDS:
    ERRORS.labels(_kind)  # every kind is exported from the start, so rates and alerts see zeros, not gaps


def error_kind(code: str | None, status: int) -> str:
    """The bounded kind of a ProxyError code; unknown codes fall back on the status class."""
    return _KIND_OF_CODE.get(code or "", "internal" if status >= 500 else "bad_request")


def record_request(model: str | None, policy: str | None, decision: Decision) -> None:
    """One finished chat request; ``model`` is a configured name, or None when the request named none."""
    REQUESTS.labels(model or "unknown", policy or "none", decision).inc()


def record_flag(scenario: str | None, action: str, source: FlagSource, rule: str | None = None) -> None:
    """One guard finding; an unknown scenario id is counted as ``none`` rather than become a new series.

    ``rule`` is the finding's rule (``Finding.rule``): a policy rule's name,
    which only the operator's policy files can add, or one of the guard's
    own (``nearest-example``, ``unframed`` ...); ``none`` for a plain score.
    It tells a dashboard which mechanism blocks what, e.g. how much the
    second reading (``unframed``) or the nearest example adds.
    """
    if source not in FLAG_SOURCES or action not in ACTIONS:
        raise ValueError(f"unknown flag source {source!r} or action {action!r}")
    GUARD_FLAGS.labels(scenario if scenario in SCENARIO_IDS else "none", action, source, rule or "none").inc()


def record_stages(timings_ms: dict[str, float]) -> None:
    """The guard's stage timings (GuardOutcome.timings_ms); keys that are not stages are ignored."""
    for stage in STAGES:
        if stage in timings_ms:
            GUARD_STAGE.labels(stage).observe(timings_ms[stage] / 1000)


def record_upstream(model: str, seconds: float) -> None:
    UPSTREAM.labels(model).observe(seconds)


def record_overhead(seconds: float) -> None:
    OVERHEAD.observe(seconds)


def record_error(kind: str) -> None:
    ERRORS.labels(kind if kind in ERROR_KINDS else "internal").inc()


def ocr_cache_hit() -> None:
    OCR_CACHE_HITS.inc()


def ocr_cache_miss() -> None:
    OCR_CACHE_MISSES.inc()


def ocr_second_read() -> None:
    OCR_SECOND_READS.inc()


def _multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition() -> tuple[bytes, str]:
    """The text a scrape gets, and its content type: this process's metrics, or every worker's in multiprocess mode."""
    if _multiprocess_dir() is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        pass
    return True


def _live_gauge_pids(path: str) -> Iterable[int]:
    for name in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        found = re.search(r"_(\d+)\.db$", name)
        if found:
            yield int(found.group(1))


def forget_dead_workers() -> None:
    """Drop the in-flight gauge of workers that died without shutting down (killed, OOM), so it stops counting.

    uvicorn restarts such a worker; the new one calls this at start-up. Counters
    of dead workers stay, as multiprocess mode intends: their requests happened.
    """
    path = _multiprocess_dir()
    if path is not None:
        for pid in set(_live_gauge_pids(path)):
            if not _alive(pid):
                multiprocess.mark_process_dead(pid, path)


def worker_exit() -> None:
    """A worker shutting down cleanly takes its in-flight gauge with it."""
    path = _multiprocess_dir()
    if path is not None:
        multiprocess.mark_process_dead(os.getpid(), path)
