"""The headline printed at the end of a run: one row per arm, one per attack, then the ASR drops."""

from __future__ import annotations

from bench.report import format as f
from bench.summary import Summary


def table(header: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    """Left-aligned plain-text columns, two spaces apart, with a rule under the header."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = lambda r: indent + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return [fmt(header), indent + "  ".join("-" * w for w in widths), *map(fmt, rows)]


def arm_rows(summary: Summary) -> tuple[list[str], list[list[str]]]:
    header = ["arm", "ASR [95% CI]", "k/n", "refusal", "blocked", "over-refusal (benign)",
              "latency p50/p95", "guard overhead p50/p95", "errors"]
    safety = f.has_safety_index(summary)
    if safety:
        header.append("safety index")
    rows = []
    for a in f.arms(summary):
        row = [a.arm, f.rate_text(a.asr), f"{a.asr.k}/{a.asr.n}", f.pct(a.refusal.value), f.pct(a.blocked.value),
               f.rate_text(a.over_refusal, counts=True), f.ms_pair(a.latency_ms.p50, a.latency_ms.p95),
               f.ms_pair(a.overhead_ms.p50, a.overhead_ms.p95), str(a.errors)]
        if safety:
            row.append(f.NA if a.safety_index is None else f"{a.safety_index:.3f}")
        rows.append(row)
    return header, rows


def attack_rows(summary: Summary) -> tuple[list[str], list[list[str]]]:
    """ASR per attack and arm, then over-refusal per attack and arm: where each defense works."""
    names = f.arm_names(summary)
    asr = {a: f.by_attack(summary, a, harmful=True) for a in names}
    benign = {a: f.by_attack(summary, a, harmful=False) for a in names}
    header = ["attack", *(f"ASR {a}" for a in names), *(f"over-refusal {a}" for a in names)]
    rows = [[attack, *(f.pct(asr[a][attack].value) if attack in asr[a] else f.NA for a in names),
             *(f.pct(benign[a][attack].value) if attack in benign[a] else f.NA for a in names)]
            for attack in f.attacks(summary)]
    return header, rows


def drop_rows(summary: Summary) -> tuple[list[str], list[list[str]]]:
    header = ["arm", "vs baseline", "pairs", "ASR drop [95% CI]", "relative drop [95% CI]"]
    rows = [[d.arm, d.baseline, str(d.pairs), f.drop_abs(d.absolute, d.absolute_ci), f.drop_rel(d.relative, d.relative_ci)]
            for d in summary.drops]
    return header, rows


def headline(summary: Summary) -> str:
    run = summary.run
    lines = [f"mmguard benchmark — {f.target_line(run)}",
             f"run {run.id} · suite {run.suite} · policy {run.policy} · judge {f.judge_text(run)} · "
             f"{run.items} items, {run.cases} cases"]
    if run.simulated:
        lines.append(f"!! SIMULATED TARGET: {run.target} is a simulator, not a real model.")
    for label in run.labels:
        lines.append(f"caveat: {label}")
    missing = f.missing_line(summary)
    if missing:
        lines.append(f"!! {missing}")
    lines += ["", "per arm (ASR and refusal on harmful cases, over-refusal on benign controls):"]
    lines += table(*arm_rows(summary))
    if f.has_safety_index(summary):
        lines.append(f"  {f.SAFETY_INDEX}")
    lines += ["", "per attack:"]
    lines += table(*attack_rows(summary))
    if summary.drops:
        lines += ["", "ASR drop vs baseline (paired cases both arms answered):"]
        lines += table(*drop_rows(summary))
    return "\n".join(lines) + "\n"
