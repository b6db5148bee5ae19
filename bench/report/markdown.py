"""``report.md``: the run, its caveats and every table, as GitHub-flavoured Markdown."""

from __future__ import annotations

from bench.report import format as f
from bench.report.terminal import arm_rows, attack_rows, drop_rows
from bench.summary import Summary


def esc(text: str) -> str:
    """Safe inside a Markdown table cell: no pipes, no raw HTML, no line breaks."""
    return (str(text).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", " ").replace("\n", " "))


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    line = lambda r: "| " + " | ".join(map(esc, r)) + " |"  # noqa: E731
    return [line(header), "| " + " | ".join(["---"] * len(header)) + " |", *map(line, rows)]


def _sim_note(summary: Summary) -> list[str]:
    run = summary.run
    return [f"> **Simulated target** — `{esc(run.target)}` is a simulator, not a real model.", ""] if run.simulated else []


def _section(summary: Summary, title: str, intro: str | None = None) -> list[str]:
    lines = ["", f"## {title}", ""] + _sim_note(summary)
    return lines + ([intro, ""] if intro else [])


def _run_info(summary: Summary) -> list[str]:
    run = summary.run
    rows = [["target", run.target + (f" ({f.SIMULATED})" if run.simulated else "")],
            ["run id", run.id], ["started", run.started], ["finished", run.finished or f.NA],
            ["duration", f.NA if run.duration_s is None else f"{run.duration_s:.1f} s"],
            ["suite", run.suite], ["policy", run.policy], ["judge", f.judge_text(run)],
            ["arms", ", ".join(run.arms)], ["attacks", ", ".join(run.attacks)],
            ["scenarios", ", ".join(run.scenarios)], ["items / cases", f"{run.items} / {run.cases}"],
            ["seed", str(run.seed)]]
    return table(["", "value"], rows)


def _per_scenario(summary: Summary) -> list[str]:
    names = f.arm_names(summary)
    per_arm = {a: f.by_scenario(summary, a) for a in names}
    rows = [[s] + [f.rate_text(per_arm[a].get(s, f.pooled([])), counts=True) for a in names]
            for s in f.scenarios(summary) if any(s in per_arm[a] for a in names)]
    return table(["scenario", *names], rows)


def _grid(summary: Summary, arm: str) -> list[str]:
    cells = f.cell_map(summary, arm)
    atk = f.attacks(summary)
    rows = [[s] + [f.rate_text(cells[(s, a)], counts=True) if (s, a) in cells else "—" for a in atk]
            for s in f.scenarios(summary) if any((s, a) in cells for a in atk)]
    return table(["scenario / attack", *atk], rows)


def _benign(summary: Summary) -> list[str]:
    names = f.arm_names(summary)
    per_arm = {a: f.by_attack(summary, a, harmful=False) for a in names}
    rows = [[atk] + [f.rate_text(per_arm[a][atk], counts=True) if atk in per_arm[a] else "—" for a in names]
            for atk in f.attacks(summary) if any(atk in per_arm[a] for a in names)]
    overall = {a.arm: a.over_refusal for a in f.arms(summary)}
    rows.append(["**all**"] + [f.rate_text(overall[a], counts=True) for a in names])
    return table(["attack", *names], rows)


def _latency(summary: Summary) -> list[str]:
    rows = [[a.arm, f.ms(a.latency_ms.p50), f.ms(a.latency_ms.p95), str(a.latency_ms.n),
             f.ms(a.overhead_ms.p50), f.ms(a.overhead_ms.p95), str(a.overhead_ms.n),
             str(a.prompt_tokens), str(a.completion_tokens), f.cost(a.cost_usd)] for a in f.arms(summary)]
    return table(["arm", "latency p50", "latency p95", "n", "guard overhead p50", "overhead p95", "n",
                  "prompt tokens", "completion tokens", "cost"], rows)


def render_markdown(summary: Summary) -> str:
    run = summary.run
    title = f"# mmguard benchmark — {run.target}" + (" (simulated target)" if run.simulated else "")
    lines = [title, ""] + _sim_note(summary)
    lines += [f"Suite `{esc(run.suite)}`, policy `{esc(run.policy)}`, judge `{esc(f.judge_text(run))}`: "
              f"{run.items} items, {run.cases} cases, arms {', '.join(map(esc, run.arms))}.", ""]
    lines += _run_info(summary)
    notes = f.caveats(summary)
    if notes:
        lines += ["", "## Caveats", ""] + [f"- {esc(n)}" for n in notes]
    lines += _section(summary, "Headline", f.headline_intro(summary))
    lines += table(*arm_rows(summary))
    if summary.drops:
        lines += _section(summary, "ASR drop vs baseline", "Paired: only cases both arms answered.")
        lines += table(*drop_rows(summary))
    lines += _section(summary, "Per attack", "ASR on harmful cases and over-refusal on benign controls, "
                      "pooled over scenarios, as the terminal prints them.")
    lines += table(*attack_rows(summary))
    lines += _section(summary, "ASR per scenario",
                      "Harmful cases, pooled over attacks (k/n); pooled rates get a 95% Wilson interval.")
    lines += _per_scenario(summary)
    lines += _section(summary, "ASR per scenario × attack")
    for arm in f.arm_names(summary):
        lines += ["", f"### {esc(arm)}", ""] + _grid(summary, arm)
    if f.has_benign(summary):
        lines += _section(summary, "Over-refusal on benign controls, per attack",
                          "Benign controls refused, pooled over scenarios.")
        lines += _benign(summary)
    lines += _section(summary, "Latency and cost",
                      "End-to-end latency as the client saw it; guard overhead from the proxy's "
                      "`x-mmguard-overhead-ms` header.")
    lines += _latency(summary)
    return "\n".join(lines) + "\n"
