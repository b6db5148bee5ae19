"""``report.html``: one self-contained page (inline CSS, inline SVG, no script, no network).

Charts: ASR per scenario and arm with 95% CI whiskers (``chart-asr``), a
scenario x attack ASR heatmap per arm (``chart-heatmap-<arm>``), over-refusal
on benign controls per arm (``chart-over-refusal``) and latency / guard
overhead p50 and p95 per arm (``chart-latency``). Each chart has its numbers in
a table beside it. All user-supplied text goes through ``html.escape``.
"""

from __future__ import annotations

import re

from bench.report import format as f
from bench.report.svg import Bar, arm_colours, bar_panel, e, heatmap, legend, nice_axis, svg
from bench.report.terminal import arm_rows, attack_rows, drop_rows
from bench.summary import Summary

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d1d1f;
 margin:0;background:#f4f5f7}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px;background:#fff}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 10px;border-bottom:1px solid #e2e4e8;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}.sub{color:#555;margin:0 0 12px}
.banner{background:#fff4e5;border:1px solid #f0b25a;border-left:6px solid #e08a00;padding:10px 14px;border-radius:4px;
 font-weight:600;margin:12px 0}
.badge{display:inline-block;font-size:11px;font-weight:600;background:#fde7c2;color:#7a4a00;border-radius:10px;
 padding:1px 8px;margin-left:8px;vertical-align:middle}
.caveats li{margin:2px 0}.missing{color:#9a1b1b;font-weight:600}
table{border-collapse:collapse;font-size:13px;margin:6px 0}th,td{border:1px solid #e2e4e8;padding:4px 8px;text-align:left;
 white-space:nowrap}th{background:#f0f2f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
.info td:first-child{color:#555}.info td{white-space:normal;overflow-wrap:anywhere;max-width:900px}
figure{margin:12px 0 24px;display:flex;flex-wrap:wrap;gap:20px;align-items:flex-start}
figcaption{flex-basis:100%;font-weight:600}.chart{max-width:100%;height:auto;background:#fff}
footer{color:#777;font-size:12px;margin-top:32px}
"""


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-") or "arm"


def table(header: list[str], rows: list[list[str]], cls: str = "") -> str:
    head = "".join(f'<th scope="col">{e(h)}</th>' for h in header)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def figure(summary: Summary, caption: str, chart: str, *tables: str) -> str:
    badge = '<span class="badge">simulated target</span>' if summary.run.simulated else ""
    return f"<figure><figcaption>{e(caption)}{badge}</figcaption>{chart}<div>{''.join(tables)}</div></figure>"


def asr_chart(summary: Summary) -> str:
    names, scen = f.arm_names(summary), f.scenarios(summary)
    colours = arm_colours(names)
    per_arm = {a: f.by_scenario(summary, a) for a in names}
    groups = [s for s in scen if any(s in per_arm[a] for a in names)]
    bars = [[Bar(r.value, colours[a], f"{a} · {s}: {f.rate_text(r, counts=True)}", r.ci,
                 attrs={"data-arm": a, "data-scenario": s})
             for a in names for r in [per_arm[a].get(s, f.pooled([]))]] for s in groups]
    width = max(480, 46 + len(groups) * (len(names) * 38 + 30))
    body = legend([(a, colours[a], 1.0) for a in names], 52, 16)
    body += bar_panel(groups, bars, 0, 20, width, 300, 1.0, lambda t: f"{t:.0%}", f.pct)
    chart = svg("chart-asr", "Attack success rate per scenario and arm, harmful cases pooled over attacks, "
                "with 95% confidence intervals", width, 320, body)
    rows = [[s] + [f.rate_text(per_arm[a].get(s, f.pooled([])), counts=True) for a in names] for s in groups]
    return figure(summary, "Attack success rate (ASR) per scenario — lower is safer", chart,
                  table(["scenario", *names], rows))


def heatmaps(summary: Summary) -> str:
    out, scen, atk = [], f.scenarios(summary), f.attacks(summary)
    for arm in f.arm_names(summary):
        grid = f.cell_map(summary, arm)
        rows = [s for s in scen if any((s, a) in grid for a in atk)]
        cells = {k: (r.value, f"{arm} · {k[0]} × {k[1]}: {f.rate_text(r, counts=True)}") for k, r in grid.items()}
        chart = heatmap(f"chart-heatmap-{slug(arm)}", f"ASR per scenario and attack, arm {arm}", rows, atk,
                        cells, {"data-arm": arm})
        trows = [[s] + [f.rate_text(grid[(s, a)], counts=True) if (s, a) in grid else "—" for a in atk] for s in rows]
        out.append(figure(summary, f"ASR per scenario × attack — arm {arm}", chart,
                          table(["scenario / attack", *atk], trows)))
    return "".join(out)


def over_refusal_chart(summary: Summary) -> str:
    arms = f.arms(summary)
    colours = arm_colours([a.arm for a in arms])
    bars = [[Bar(a.over_refusal.value, colours[a.arm], f"{a.arm}: {f.rate_text(a.over_refusal, counts=True)}",
                 a.over_refusal.ci, attrs={"data-arm": a.arm}) for a in arms]]
    width = max(420, 46 + len(arms) * 60 + 60)
    body = legend([(a.arm, colours[a.arm], 1.0) for a in arms], 52, 16)
    body += bar_panel(["benign controls"], bars, 0, 20, width, 260, 1.0, lambda t: f"{t:.0%}", f.pct)
    chart = svg("chart-over-refusal", "Over-refusal: benign controls refused, per arm, with 95% confidence intervals",
                width, 280, body)
    names = [a.arm for a in arms]
    per_arm = {n: f.by_attack(summary, n, harmful=False) for n in names}
    rows = [[atk] + [f.rate_text(per_arm[n][atk], counts=True) if atk in per_arm[n] else "—" for n in names]
            for atk in f.attacks(summary) if any(atk in per_arm[n] for n in names)]
    rows.append(["all attacks"] + [f.rate_text(a.over_refusal, counts=True) for a in arms])
    return figure(summary, "Over-refusal on benign controls — lower is better", chart,
                  table(["attack", *names], rows))


def latency_chart(summary: Summary) -> str:
    arms = f.arms(summary)
    colours = arm_colours([a.arm for a in arms])
    names = [a.arm for a in arms]
    panel_w = max(300, 46 + len(arms) * 90)
    body = legend([("p50", "#555555", 1.0), ("p95", "#555555", 0.45)], 52, 16)
    for k, (metric, title) in enumerate((("latency", "end-to-end latency"), ("overhead", "guard overhead"))):
        qs = [a.latency_ms if metric == "latency" else a.overhead_ms for a in arms]
        y_max, steps = nice_axis(max([q.p95 or q.p50 or 0.0 for q in qs], default=0.0))
        bars = [[Bar(getattr(q, p), colours[a], f"{a} {title} {p}: {f.ms(getattr(q, p))}", opacity=op, digits=1,
                     attrs={"data-arm": a, "data-metric": f"{metric}-{p}"})
                 for p, op in (("p50", 1.0), ("p95", 0.45))] for a, q in zip(names, qs)]
        x0 = k * panel_w
        body.append(f'<text x="{x0 + panel_w / 2 + 20:.1f}" y="40" text-anchor="middle" font-weight="600" '
                    f'fill="#333">{e(title)} (ms)</text>')
        body += bar_panel(names, bars, x0, 44, panel_w, 270, y_max, lambda t: f"{t:g}", f.ms, steps)
    chart = svg("chart-latency", "Latency p50 and p95 per arm, end to end and the guard's own overhead, in ms",
                2 * panel_w, 320, body)
    rows = [[a.arm, f.ms(a.latency_ms.p50), f.ms(a.latency_ms.p95), str(a.latency_ms.n),
             f.ms(a.overhead_ms.p50), f.ms(a.overhead_ms.p95), str(a.overhead_ms.n)] for a in arms]
    return figure(summary, "Latency per arm (p50 solid, p95 light)", chart,
                  table(["arm", "latency p50", "p95", "n", "overhead p50", "p95", "n"], rows))


def _head(summary: Summary) -> str:
    run = summary.run
    out = [f"<h1>mmguard benchmark report</h1><p class=\"sub\">{e(f.target_line(run))} · suite {e(run.suite)} · "
           f"policy {e(run.policy)} · judge {e(f.judge_text(run))}</p>"]
    if run.simulated:
        out.append(f'<div class="banner" role="note">Simulated target: {e(run.target)} is a simulator, not a real '
                   "model. These results exercise the pipeline, not any real model's safety.</div>")
    info = [["target", run.target + (f" ({f.SIMULATED})" if run.simulated else "")], ["run id", run.id],
            ["policy", run.policy], ["judge", f.judge_text(run)],
            ["started", run.started], ["finished", run.finished or f.NA],
            ["duration", f.NA if run.duration_s is None else f"{run.duration_s:.1f} s"],
            ["arms", ", ".join(run.arms)], ["attacks", ", ".join(run.attacks)],
            ["scenarios", ", ".join(run.scenarios)], ["items / cases", f"{run.items} / {run.cases}"],
            ["seed", str(run.seed)]]
    out.append("<h2>Run</h2>" + table(["", "value"], info, "info"))
    notes = f.caveats(summary)
    if notes:
        missing = f.missing_line(summary)
        items = "".join(f'<li{" class=missing" if n == missing else ""}>{e(n)}</li>' for n in notes)
        out.append(f'<h2>Caveats</h2><ul class="caveats">{items}</ul>')
    return "".join(out)


def render_html(summary: Summary) -> str:
    run = summary.run
    title = f"mmguard benchmark — {run.target}" + (" (simulated target)" if run.simulated else "")
    badge = '<span class="badge">simulated target</span>' if run.simulated else ""
    parts = [_head(summary), f"<h2>Headline{badge}</h2>", f'<p class="sub">{e(f.headline_intro(summary))}</p>',
             table(*arm_rows(summary))]
    if summary.drops:
        parts += [f"<h3>ASR drop vs baseline (paired){badge}</h3>", table(*drop_rows(summary))]
    parts += [f"<h3>Per attack, pooled over scenarios{badge}</h3>", table(*attack_rows(summary))]
    parts += [f"<h2>Attack success{badge}</h2>", asr_chart(summary), heatmaps(summary),
              f"<h2>Over-refusal{badge}</h2>", over_refusal_chart(summary),
              f"<h2>Latency{badge}</h2>", latency_chart(summary),
              "<footer>Generated by mmguard. This file is self-contained: no scripts, fonts, styles or images "
              "are fetched.</footer>"]
    csp = "default-src 'none'; style-src 'unsafe-inline'"
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{e(title)}</title>'
            f"<style>{CSS}</style></head><body><main>{''.join(parts)}</main></body></html>\n")
