"""``mmguard perf`` and ``mmguard soak`` end to end, as an operator runs them: real processes, tiny numbers.

No figure is asserted: on a shared 2-core machine a timing says nothing about
the code. What is asserted is that every part runs, the JSON has its shape,
and not one request failed. Both commands run at once, because each spends
most of its time starting a proxy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PERF = ["perf", "--requests", "20", "--image-requests", "3", "--concurrency", "1,4", "--seconds", "0.5", "--images", "8", "--image-concurrency", "4"]
SOAK = ["soak", "--clients", "4", "--seconds", "3", "--sample-every", "1"]
PERCENTILES = {"p50", "p95", "p99"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("perf")
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    procs = {
        name: subprocess.Popen([sys.executable, "-m", "proxy.cli", *args, "--json", str(folder / f"{name}.json")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, args in (("perf", PERF), ("soak", SOAK))
    }
    found = {}
    for name, proc in procs.items():
        try:
            out, err = proc.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        assert proc.returncode == 0, f"mmguard {name} exited {proc.returncode}\n{out}\n{err[-3000:]}"
        found[name] = {"stdout": out, "json": json.loads((folder / f"{name}.json").read_text())}
    return found


def test_perf_reports_every_part(runs: dict[str, dict[str, Any]]) -> None:
    data = runs["perf"]["json"]
    assert data["errors"] == 0
    names = [row["name"] for row in data["latency"]]
    assert names[0] == "text-only" and len(names) == 5
    assert [n.split()[0] + " " + n.split()[-1] for n in names[1:]] == ["TYPO cold", "TYPO cached", "SD+TYPO cold", "SD+TYPO cached"]
    for row in data["latency"]:
        assert all(set(row[k]) == PERCENTILES for k in ("direct_ms", "proxied_ms", "added_ms"))
        assert row["errors"] == 0 and sum(row["decisions"].values()) == row["requests"]
    text = data["throughput"]["text"]
    assert sorted((p["path"], p["concurrency"]) for p in text) == [("direct", 1), ("direct", 4), ("proxied", 1), ("proxied", 4)]
    assert all(p["requests"] > 0 and p["per_s"] > 0 for p in text)
    assert data["throughput"]["images"]["requests"] == 8
    memory = data["memory"]
    assert [p["role"] for p in memory["processes"]][0] == "server" and memory["rss_mb_max"] > 0
    assert {t["name"].split(",")[0] for t in data["targets"]} >= {"text-only added latency p50", "cold TYPO images", "VmRSS per serving process (default classifier)"}
    assert all(isinstance(t["met"], bool) for t in data["targets"])
    assert "target" in runs["perf"]["stdout"]


def test_soak_has_no_errors_and_a_memory_series(runs: dict[str, dict[str, Any]]) -> None:
    data = runs["soak"]["json"]
    assert data["errors"] == 0 and data["error_examples"] == []
    assert data["requests"] > 0
    kinds = {k["kind"]: k for k in data["by_kind"]}
    assert set(kinds) == {"text", "text_harmful", "image_repeat", "image_new", "harmful_repeat", "harmful_new"}
    assert sum(k["requests"] for k in kinds.values()) == data["requests"]
    assert len(data["rss"]) >= 2 and all(s["rss_mb"] > 0 for s in data["rss"])
    assert {"harmful_blocked", "rss_first_mb", "rss_last_mb", "rss_slope_mb_per_min", "rss_slope_second_half_mb_per_min"} <= set(data)
    assert "RSS of the serving processes" in runs["soak"]["stdout"]
