"""``mmguard bench``: Suite -> Target (arms) -> Judge -> Report, in one run folder that a rerun resumes.

The run folder's name is derived from the settings, so running the same
command again finds the same folder and only asks what is missing; ``fresh``
starts it over, asking every answer again (it reads no cached answer, so the
latencies are this run's). With no settings this is the Quick start's main
job: the built-in suite on the embedded simulated model, direct and through
the proxy with the default policy, offline.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import sys
import time
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from bench.cache import ResponseCache
from bench.metrics import summarize
from bench.report import headline, write_reports
from bench.report.format import success_rule
from bench.results import ResultRow, ResultsFile
from bench.runner import Runner, RunStats
from bench.suite import attacks as attack_registry
from bench.suite.item import Item
from bench.suite.scenes import SceneGenerator, scene_generator
from bench.suite.select import assemble, cases, sample
from bench.summary import RunInfo, Summary
from bench.targets import ARMS, PROXY_ARMS, DirectArm, ProxyArm, Target, guard_build, guard_fingerprint, local_proxy_config, source_digest
from proxy.policy import load_policy

DEFAULT_ARMS = ("direct", "guarded")
#: Judge options that only say how to reach the judge, not what it answers: no part of its identity.
JUDGE_TRANSPORT = frozenset({"api_key_env", "concurrency", "attempts", "backoff_s", "max_backoff_s", "timeout_s"})
#: Settings that change the messages a case sends but not its id or any arm's build (``_check_reuse``).
RENDERING = ("seed", "sd")
#: Settings that change which items a run holds: a reused ``--name`` with another kept the other's rows beside its own.
ITEMS = ("suite", "controls")


@dataclass
class BenchSettings:
    target: Target = field(default_factory=Target)
    policy: str = "default"
    arms: tuple[str, ...] = DEFAULT_ARMS
    proxy_url: str | None = None  # an external proxy for the guarded arm, instead of starting one
    proxy_model: str | None = None
    proxy_key_env: str | None = None
    suite: str = "builtin"
    controls: str = "builtin"
    attacks: tuple[str, ...] = attack_registry.CORE
    scenarios: list[str] | None = None
    limit: int | None = None
    seed: int = 0
    judge: str = "refusal"
    judge_options: dict[str, Any] = field(default_factory=dict)
    sd: str = "placeholder"
    concurrency: int = 16
    retries: int = 3
    out: Path = Path("runs")
    name: str | None = None
    fresh: bool = False
    cache: bool = True
    progress: bool = True

    def validate(self) -> None:
        unknown = [a for a in self.arms if a not in ARMS]
        if unknown:
            raise ValueError(f"unknown arm {', '.join(unknown)}; valid: {', '.join(ARMS)}")
        if "direct" not in self.arms:
            raise ValueError("the direct arm is the baseline every drop is measured against; keep it in --arms")
        if self.proxy_url and "safety_prompt_only" in self.arms:
            raise ValueError("with --proxy-url the bench cannot choose the proxy's policy; drop safety_prompt_only from --arms")
        if self.proxy_url and self.policy != "default":
            raise ValueError(f"--policy {self.policy}: with --proxy-url the external proxy runs its own policy (the report names the one it reports); drop --policy")
        if self.name is not None and (Path(self.name).name != self.name or self.name in ("", ".", "..")):
            raise ValueError(f"--name {self.name!r}: a run's folder name inside --out, without / or ..")  # --fresh deletes that folder
        if self.scenarios:
            from proxy.scenarios import SCENARIOS

            known = [s.id for s in SCENARIOS]
            unknown = [s for s in self.scenarios if s not in known]
            if unknown:
                raise ValueError(f"unknown scenario {', '.join(unknown)}; scenarios: {', '.join(known)}")

    def run_name(self) -> str:
        """Named by everything that decides the answers, the guard's policy and head included, so a
        rerun of the same command resumes the same run and a retrained guard starts a new one."""
        if self.name:
            return self.name
        settings = asdict(self)
        for transient in ("out", "name", "fresh", "progress", "concurrency", "retries", "cache"):
            settings.pop(transient)
        if not self.proxy_url:
            settings["guard"] = guard_fingerprint(self.policy)
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:8]
        model = re.sub(r"[^A-Za-z0-9]+", "-", self.target.model).strip("-")
        policy = "external" if self.proxy_url else re.sub(r"[^A-Za-z0-9]+", "-", Path(self.policy).stem)
        return f"{model}-{policy}-{digest}"


def _transport_free(value: Any) -> Any:
    """``value`` without the judge options (at any depth, e.g. inside a juror) that only reach the judge."""
    if isinstance(value, dict):
        return {k: _transport_free(v) for k, v in value.items() if k not in JUDGE_TRANSPORT}
    if isinstance(value, (list, tuple)):
        return [_transport_free(v) for v in value]
    return value


def judge_identity(settings: BenchSettings) -> str:
    """Everything that decides a verdict: the judge's kind, its options but those that only reach it (key,
    concurrency, retries), and the judges' code (the templates, the refusal rules). Kept on every verdict, so a
    rerun under the same ``--name`` with another judge judges the kept answers again instead of reporting the
    old judge's verdicts under the new one's name."""
    import bench.judges

    options = json.dumps(_transport_free(settings.judge_options), sort_keys=True, default=str)
    return f"{settings.judge}|{options}|{source_digest(Path(bench.judges.__file__).parent)}"


def judge_detail(settings: BenchSettings) -> str | None:
    """Who judged within the judge's kind, for the report's header: ``model openai/gpt-4o``, ``jurors a, b; rounds 2``."""
    options = _transport_free(settings.judge_options)
    parts = [f"{k} {', '.join(map(_named, v)) if isinstance(v, list) else v}" for k, v in sorted(options.items())]
    return "; ".join(parts) or None


def _named(juror: Any) -> str:
    """A juror as the header names it: its model, and its endpoint when it has one (a dict printed as Python did)."""
    if isinstance(juror, dict):
        return f"{juror.get('model')} at {juror['api_base']}" if juror.get("api_base") else str(juror.get("model"))
    return str(juror)


def _policy_label(settings: BenchSettings, rows: list[ResultRow]) -> str:
    """The guarded arm's policy as reports name it: the bench's own choice or, with ``--proxy-url``, what the
    external proxy said it ran (``x-mmguard-policy``); never a policy the bench did not use."""
    if not settings.proxy_url:
        return settings.policy
    reported = sorted({r.guard_policy for r in rows if r.arm in PROXY_ARMS and r.guard_policy})
    return f"external: {', '.join(reported)}" if reported else "external (not reported)"


def _check_reuse(settings: BenchSettings, run_dir: Path) -> None:
    """A reused ``--name`` folder whose answers were rendered with another seed or SD source: their case ids and
    arm builds match this run's, so they would pass for its answers. Refused rather than mixed. So is one of
    another suite or control set: its rows stayed in results.jsonl beside this run's, which summary.json
    did not count, so the run's files disagreed."""
    saved = run_dir / "settings.json"
    if settings.fresh or not saved.exists():
        return
    before, now = json.loads(saved.read_text()), json.loads(json.dumps(asdict(settings), default=str))
    for keys, holds in ((RENDERING, "answers to messages rendered with"), (ITEMS, "the answers of a run with")):
        changed = [f"--{k} {before[k]}" for k in keys if k in before and before[k] != now[k]]
        if changed:
            raise ValueError(f"run folder {run_dir} holds {holds} {', '.join(changed)}; give another --name, or --fresh to start it over")


def _cache_label(rows: list[ResultRow]) -> list[str]:
    """The caveat for answers taken from the answer cache: their latencies are the run's that asked them, and
    the reports showed them as this run's without a word (only the terminal's last line counted them)."""
    answered = [r for r in rows if r.response is not None]
    cached = sum(r.cached for r in answered)
    if not cached:
        return []
    return [f"cache: {cached} of {len(answered)} answers came from the answer cache, asked by an earlier run; their latencies are that run's (--no-cache asks every one)"]


def unanswered_arms(summary: Summary) -> list[str]:
    """Arms with no judged case at all: a run that measured nothing for them, whatever its exit would say."""
    return [a.arm for a in summary.arms if a.asr.n + a.over_refusal.n == 0]


def _labels(settings: BenchSettings, scenes: SceneGenerator, items: list[Item]) -> list[str]:
    """The caveats a report repeats. Among them, how many of a dataset's images the bench drew itself: a
    folder without ``imgs/`` ran on the bench's renders, and nothing said so; and how many SD/SD+TYPO
    cases got the scene generator's picture, counted from the items rather than from this process's
    renders, so a resumed run that drew nothing still says what its results rest on."""
    labels = []
    dataset = [i for i in items if i.source != "builtin"]
    for attack in (a for a in settings.attacks if a in attack_registry.PUBLISHED_IMAGE_ATTACKS):
        drawn = sum(not attack_registry.published(i, attack) for i in dataset)
        if drawn:
            labels.append(f"{attack}: {drawn} of {len(dataset)} dataset items have no published image; the bench drew them")
    scene_cases = [(i, a) for i in items for a in settings.attacks if a in attack_registry.SCENE_ATTACKS]
    scene_label = scenes.label(sum(not attack_registry.published(i, a) for i, a in scene_cases), len(scene_cases))
    if scene_label:
        labels.append(scene_label)
    if settings.proxy_url:
        labels.append(f"guarded arm: the external proxy at {settings.proxy_url}; its policy is the one it reports, not chosen by the bench")
    judge = "refusal (offline)" if settings.judge == "refusal" else settings.judge
    labels.append(f"judge: {judge}; {success_rule(settings.judge)}")
    return labels


def _suite_label(settings: BenchSettings, items: list[Item]) -> str:
    """The suite, and the control set only when its benign items were added (a suite with its own keeps them)."""
    attack_sources = {i.source for i in items if i.harmful}
    control_sources = {i.source for i in items if not i.harmful}
    return settings.suite if control_sources <= attack_sources else f"{settings.suite} + controls {settings.controls}"


def _arms(settings: BenchSettings, proxy_url: str | None) -> list[Any]:
    arms: list[Any] = []
    for name in settings.arms:
        if name == "direct":
            arms.append(DirectArm(settings.target))
        elif settings.proxy_url:
            key = os.environ.get(settings.proxy_key_env) if settings.proxy_key_env else None
            model = settings.proxy_model or settings.target.model
            arms.append(ProxyArm(name, settings.proxy_url, model, f"external|{settings.proxy_url}|{model}", key))
        else:
            policy = PROXY_ARMS[name] or settings.policy
            fingerprint = f"local|{name}|{settings.target.model}|{settings.target.api_base}|{guard_fingerprint(policy)}|{guard_build()}"
            arms.append(ProxyArm(name, proxy_url or "", f"bench-{name}", fingerprint))
    return arms


async def _start_proxy(settings: BenchSettings, stack: AsyncExitStack) -> str | None:
    """The bench's own proxy, on this event loop, when an arm needs it and no ``--proxy-url`` was given."""
    if settings.proxy_url or not any(a in PROXY_ARMS for a in settings.arms):
        return None
    from proxy.app import create_app
    from proxy.config import parse_config
    from proxy.server import serving

    config = parse_config(local_proxy_config(settings.target, settings.policy, settings.arms), "<bench>")
    return await stack.enter_async_context(serving(create_app(config)))


async def _stop_litellm_worker() -> None:
    """litellm logs each call on a background task of the loop; stop it before the loop closes."""
    from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER

    await GLOBAL_LOGGING_WORKER.stop()


def _check_proxy_url(url: str) -> None:
    """A proxy that is not there fails the run now, not as one error per case after a full run (exit 0)."""
    import httpx

    try:
        response = httpx.get(f"{url.rstrip('/')}/healthz", timeout=5.0)
    except (httpx.HTTPError, ValueError) as err:  # refused, timed out, or not a URL at all
        raise ValueError(f"--proxy-url {url}: no mmguard proxy answers there ({type(err).__name__}: {err}); start it, or give its base URL (http://host:port)") from None
    if response.status_code != 200:
        raise ValueError(f"--proxy-url {url}: {url.rstrip('/')}/healthz answered HTTP {response.status_code}, not an mmguard proxy's 200; give its base URL (http://host:port)")


def run_bench(settings: BenchSettings, out: TextIO = sys.stdout) -> Summary:
    settings.validate()
    settings.target.api_key()  # a missing key fails now, before --fresh deletes the run it would redo
    if settings.proxy_url:
        _check_proxy_url(settings.proxy_url)
    else:
        load_policy(settings.policy)  # a policy that does not validate fails now, before a run folder exists
    from bench.judges import build_judge

    items = sample(assemble(settings.suite, settings.controls), settings.limit, settings.scenarios, settings.seed)
    if not items:
        raise ValueError("the suite selection is empty: check --suite, --scenarios and --limit")
    all_cases = cases(items, settings.attacks)
    attack_registry.check_published_images(all_cases)  # a corrupt file fails now, not as one arm's holes
    scenes = scene_generator(settings.sd)
    judge = build_judge(settings.judge, **settings.judge_options)
    run_dir = settings.out / settings.run_name()
    _check_reuse(settings, run_dir)
    if settings.fresh and run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "settings.json").write_text(json.dumps(asdict(settings), indent=2, default=str))
    results = ResultsFile(run_dir / "results.jsonl")
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    cache = ResponseCache() if settings.cache else None

    def render(case):
        return attack_registry.messages(case, scenes, settings.seed)

    out.write(f"mmguard bench: {len(all_cases)} cases ({len(items)} items x {len(settings.attacks)} attacks) x {len(settings.arms)} arms -> {run_dir}\n")
    wanted = {(c.id, a) for c in all_cases for a in settings.arms}
    identity = judge_identity(settings)
    kept = len(wanted & results.done(identity).keys())
    if kept:
        out.write(f"mmguard bench: resuming: {kept} of {len(all_cases) * len(settings.arms)} answers are judged already (those of another guard build are asked again, those of another judge judged again; --fresh starts over)\n")

    async def go() -> RunStats:
        async with AsyncExitStack() as stack:
            arms = _arms(settings, await _start_proxy(settings, stack))
            runner = Runner(arms, judge, results, render, judge_identity=identity, cache=cache, read_cache=not settings.fresh, concurrency=settings.concurrency, retries=settings.retries, progress=settings.progress)
            try:
                return await runner.run(all_cases)
            finally:
                for arm in arms:
                    if hasattr(arm, "aclose"):
                        await arm.aclose()
                await _stop_litellm_worker()

    stats = asyncio.run(go())
    if cache:
        cache.close()
    rows = [r for key, r in results.rows.items() if key in wanted]
    run = RunInfo(
        id=run_dir.name,
        started=started.isoformat(timespec="seconds"),
        finished=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        duration_s=round(time.perf_counter() - clock, 2),
        target="mmguard-sim" if settings.target.simulated else settings.target.model,
        simulated=settings.target.simulated,
        policy=_policy_label(settings, rows),
        suite=_suite_label(settings, items),
        judge=settings.judge,
        judge_detail=judge_detail(settings),
        arms=list(settings.arms),
        attacks=list(settings.attacks),
        scenarios=sorted({i.scenario for i in items}),
        items=len(items),
        cases=len(all_cases),
        labels=_labels(settings, scenes, items) + _cache_label(rows),
        seed=settings.seed,
    )
    summary = summarize(run, rows, expected=len(wanted))
    write_reports(summary, run_dir)
    out.write(headline(summary) + "\n")
    out.write(f"{stats.describe()}; report: {run_dir / 'report.html'}\n")
    return summary
