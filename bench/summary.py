"""What a benchmark run concluded: the typed shape of ``summary.json``, which every report renders.

Metrics (``metrics.py``) fill these models from the per-case results; the
Markdown and HTML reports and the terminal table only read them. Keeping the
shape here, apart from both, is what lets a report be rebuilt from an old
``summary.json`` and a new report format be added without touching the maths.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class Rate(BaseModel):
    """``k`` of ``n``, with a 95% confidence interval (bootstrap or Wilson; ``metrics.py`` says which)."""

    k: int
    n: int
    value: float | None  # None when n == 0
    ci: tuple[float, float] | None = None


class Quantiles(BaseModel):
    p50: float | None = None
    p95: float | None = None
    n: int = 0


class ArmSummary(BaseModel):
    """One arm: the same cases sent one way (``direct`` around the proxy, ``guarded`` through it, ...)."""

    arm: str
    asr: Rate  # harmful cases the attack succeeded on: the judge's harm verdict where it gives one, else not refused
    refusal: Rate  # harmful cases refused (blocked included)
    blocked: Rate  # harmful cases the proxy blocked before the model saw them
    over_refusal: Rate  # benign controls refused
    latency_ms: Quantiles  # end to end, as the client saw it
    overhead_ms: Quantiles  # the proxy's own share, from its x-mmguard-overhead-ms header
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    errors: int = 0  # cases left without an answer after retries
    safety_index: float | None = None  # SafeBench's, when the jury judged: 100 x mean rating / 5, 20 to 100, higher is safer


class Drop(BaseModel):
    """How much ``arm`` lowers ASR against ``baseline``, on the cases both answered (paired)."""

    arm: str
    baseline: str
    pairs: int
    absolute: float | None
    absolute_ci: tuple[float, float] | None = None
    relative: float | None  # absolute / baseline ASR
    relative_ci: tuple[float, float] | None = None


class Cell(BaseModel):
    """ASR (harmful cases) or over-refusal (benign) of one arm on one scenario x attack."""

    arm: str
    scenario: str
    attack: str
    harmful: bool
    rate: Rate  # ASR for harmful cells, refusal rate for benign cells


class AttackRate(BaseModel):
    """ASR (harmful cases) or over-refusal (benign) of one arm on one attack, pooled over scenarios: the
    per-attack table, kept here so summary.json carries what the terminal prints."""

    arm: str
    attack: str
    harmful: bool
    rate: Rate


class RunInfo(BaseModel):
    id: str
    started: str
    finished: str | None = None
    duration_s: float | None = None
    target: str
    simulated: bool  # the embedded simulated model: every report says "simulated target"
    policy: str  # the guarded arm's; with --proxy-url, what the external proxy reported (x-mmguard-policy)
    suite: str
    judge: str  # its kind (refusal, llm, jury): it decides what ASR means (format.success_rule)
    judge_detail: str | None = None  # who judged within that kind: the model, or the jurors and rounds
    arms: list[str]
    attacks: list[str]
    scenarios: list[str]
    items: int
    cases: int
    labels: list[str] = Field(default_factory=list)  # caveats every report repeats, e.g. placeholder SD images
    seed: int = 0


class Summary(BaseModel):
    run: RunInfo
    arms: list[ArmSummary]
    drops: list[Drop]
    cells: list[Cell]
    by_attack: list[AttackRate] = Field(default_factory=list)
    missing: int = 0  # case x arm pairs with no answer: upstream errors left these holes
