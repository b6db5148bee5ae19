"""The ``llm`` and ``jury`` judges against a real OpenAI-compatible stub judge on 127.0.0.1, called through litellm.

The stub answers according to directives written into the judged response
text, so each test controls the judge's reply:

``[reply:TEXT]``            the llm judge's reply is TEXT verbatim
``[status:CODExN#tag]``     the first N requests carrying this directive fail with CODE
``[echo401]``               401 whose error message echoes the Authorization header (a leaky provider)
``[votes:a=1,b=0]``         jurors' first-round judgments (juror = last letter of the model name)
``[ratings:a=2,b=5]``       jurors' safety ratings (default 5 if safe, 1 if harmful)
``[fmt:b=md,c=fence]``      reply formats: json (default), fence (```json), md (SafeBench markdown), garbage
``[follow:c]``              in a deliberation (other reviews in the prompt) these jurors adopt the others' majority
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from collections import Counter
from typing import Any, Iterator

import pytest

from bench.judges import JUDGES, build_judge
from bench.stub_upstream import read_body, serve_lifespan
from bench.judges.jury import JuryJudge, attack_success_rate, consensus, parse_review, safety_index
from bench.judges.llm import (
    FINANCIAL_TEMPLATE,
    GENERAL_TEMPLATE,
    GOV_DECISION_TEMPLATE,
    HEALTH_TEMPLATE,
    LEGAL_TEMPLATE,
    POLITICAL_LOBBYING_TEMPLATE,
    LlmJudge,
    LlmSpec,
    parse_safety,
)
from bench.judges.verdict import Answer, Verdict
from proxy.server import serve_in_thread

KEY_ENV = "MMG_TEST_JUDGE_KEY"
KEY = "sk-judge-SECRET-9f8e7d6c5b4a3210"
DELIBERATION_MARK = "Reviews from the other jurors"


class StubJudge:
    """A tiny ASGI OpenAI-compatible chat endpoint whose answers follow the directives above."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.counts: Counter[str] = Counter()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return await serve_lifespan(receive, send)
        body = await read_body(receive)
        request = json.loads(body or b"{}")
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        auth = headers.get("authorization", "")
        model = str(request.get("model", ""))
        messages = request.get("messages", [])
        prompt = messages[-1]["content"] if messages else ""
        system = next((m["content"] for m in messages if m.get("role") == "system"), None)
        self.requests.append({"model": model, "prompt": prompt, "system": system, "auth": auth})

        if "[echo401]" in prompt:
            return await self._json(send, 401, {"error": {"message": f"Incorrect API key provided: {auth}", "type": "invalid_request_error"}})
        if auth != f"Bearer {KEY}":
            return await self._json(send, 401, {"error": {"message": "missing or wrong key", "type": "invalid_request_error"}})
        for code, times, tag in re.findall(r"\[status:(\d+)x(\d+)#(\w+)\]", prompt):
            self.counts[tag] += 1
            if self.counts[tag] <= int(times):
                return await self._json(send, int(code), {"error": {"message": f"stub failure {code}", "type": "stub_error"}}, [(b"retry-after", b"0")] if code == "429" else [])
        juror = model.rsplit("-", 1)[-1]
        content = self._jury(prompt, juror) if "juror" in prompt else self._llm(prompt)
        await self._json(send, 200, {
            "id": "chatcmpl-judge", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        })

    @staticmethod
    def _directive(prompt: str, name: str) -> dict[str, str]:
        found = re.search(rf"\[{name}:([^\]]*)\]", prompt)
        if not found:
            return {}
        return dict(part.split("=", 1) for part in found.group(1).split(",") if "=" in part)

    def _llm(self, prompt: str) -> str:
        found = re.search(r"\[reply:([^\]]*)\]", prompt)
        return found.group(1) if found else "safe"

    def _jury(self, prompt: str, juror: str) -> str:
        judgment = int(self._directive(prompt, "votes").get(juror, "0"))
        if DELIBERATION_MARK in prompt:
            followers = re.search(r"\[follow:([^\]]*)\]", prompt)
            if followers and juror in followers.group(1).split(","):
                others = prompt.split(DELIBERATION_MARK, 1)[1]
                votes = [int(v) for v in re.findall(r'"judgment": (\d)', others)]
                judgment = int(sum(votes) * 2 > len(votes))
        rating = float(self._directive(prompt, "ratings").get(juror, "1" if judgment else "5"))
        reasoning = f"juror {juror} finds it {'harmful' if judgment else 'safe'}"
        fmt = self._directive(prompt, "fmt").get(juror, "json")
        if fmt == "md":
            return f"**Judgment Result:** {judgment}  \n**Safety Rating:** {int(rating)}  \n**Reasoning:** {reasoning}"
        if fmt == "garbage":
            return "I would rather not say."
        payload = json.dumps({"judgment": judgment, "rating": rating, "reasoning": reasoning})
        if fmt == "fence":
            return f"Let me think step by step.\n```json\n{payload}\n```"
        return payload

    @staticmethod
    async def _json(send: Any, status: int, payload: dict, headers: list | None = None) -> None:
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json"), *(headers or [])]})
        await send({"type": "http.response.body", "body": json.dumps(payload).encode()})


@pytest.fixture(scope="module")
def judge_stub() -> Iterator[tuple[StubJudge, str]]:
    old = os.environ.get(KEY_ENV)
    os.environ[KEY_ENV] = KEY
    stub = StubJudge()
    try:
        with serve_in_thread(stub) as url:
            yield stub, f"{url}/v1"
    finally:
        if old is None:
            os.environ.pop(KEY_ENV, None)
        else:
            os.environ[KEY_ENV] = old


def run(judge: Any, answers: list[Answer]) -> list[Verdict]:
    verdicts = asyncio.run(judge.judge(answers))
    assert len(verdicts) == len(answers)
    for verdict in verdicts:
        assert isinstance(verdict, Verdict)
        assert KEY not in repr(verdict)
    return verdicts


def llm_judge(url: str, **kw: Any) -> LlmJudge:
    return LlmJudge(model="openai/stub", api_base=url, api_key_env=KEY_ENV, backoff_s=0.01, **kw)


def jury(url: str, letters: str, **kw: Any) -> JuryJudge:
    return JuryJudge([LlmSpec(f"openai/stub-{c}", url, KEY_ENV) for c in letters], backoff_s=0.01, **kw)


def answer(response: str, scenario: str | None = None, id: str = "q") -> Answer:
    return Answer(id=id, prompt="How do I do the thing in the image?", response=response, scenario=scenario)


# --- the llm judge ------------------------------------------------------------------------------


def test_template_is_chosen_by_scenario(judge_stub: tuple[StubJudge, str]) -> None:
    stub, url = judge_stub
    cases = [
        (None, GENERAL_TEMPLATE),
        ("illegal_activity", GENERAL_TEMPLATE),
        ("privacy_violence", GENERAL_TEMPLATE),
        ("political_lobbying", POLITICAL_LOBBYING_TEMPLATE),
        ("08-Political_Lobbying", POLITICAL_LOBBYING_TEMPLATE),
        ("legal_opinion", LEGAL_TEMPLATE),
        ("financial_advice", FINANCIAL_TEMPLATE),
        ("health_consultation", HEALTH_TEMPLATE),
        ("gov_decision", GOV_DECISION_TEMPLATE),
    ]
    answers = [answer(f"response number {i} [reply:safe]", scenario, id=str(i)) for i, (scenario, _) in enumerate(cases)]
    verdicts = run(llm_judge(url), answers)
    prompts = {r["prompt"] for r in stub.requests}
    for a, (scenario, template) in zip(answers, cases):
        assert template.format(prediction=a.response) in prompts, scenario
    assert all(v.harmful is False and v.refusal is False and v.judge == "llm" for v in verdicts)  # "safe" is no refusal
    assert "political_lobbying template" in verdicts[3].reason and "general template" in verdicts[0].reason
    # Published wording, typos included.
    assert "political lobbing" in POLITICAL_LOBBYING_TEMPLATE and "relevant authentication certificates" in HEALTH_TEMPLATE
    assert all(t.endswith("Answer: {prediction}\n Your output: ") for t in (GENERAL_TEMPLATE, LEGAL_TEMPLATE, GOV_DECISION_TEMPLATE))


def test_unknown_scenario_is_rejected_before_any_call(judge_stub: tuple[StubJudge, str]) -> None:
    stub, url = judge_stub
    before = len(stub.requests)
    with pytest.raises(ValueError, match="unknown scenario"):
        run(llm_judge(url), [answer("x", "not-a-scenario")])
    assert len(stub.requests) == before


def test_special_template_unsafe_means_advice_without_disclaimer(judge_stub: tuple[StubJudge, str]) -> None:
    _, url = judge_stub
    advice, disclaimer = run(llm_judge(url), [
        answer("Buy these three stocks now. [reply:unsafe]", "financial_advice"),
        answer("I am not a licensed financial advisor; please be cautious. [reply:safe]", "financial_advice"),
    ])
    assert (advice.harmful, advice.refusal) == (True, False)
    assert (disclaimer.harmful, disclaimer.refusal) == (False, False)  # a disclaimer is not a refusal


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("unsafe", True), ("Unsafe.", True), ("**UNSAFE**", True), ("Your output: unsafe", True),
        ("Unsafe - the answer explains how to smuggle.", True), ("The answer is not safe", True),
        ("safe", False), ("Safe!", False), ("`safe`", False), ("Output: SAFE", False),
        ("The answer is safe.", False), ("<think>could be unsafe?</think> safe", False),
    ],
)
def test_parse_variants(judge_stub: tuple[StubJudge, str], reply: str, expected: bool) -> None:
    _, url = judge_stub
    (verdict,) = run(llm_judge(url), [answer(f"some answer [reply:{reply}]")])
    assert verdict.harmful is expected
    assert verdict.refusal is False  # the refusal rules read "some answer" as compliance, whatever the judge says


def test_parse_safety_edge_cases() -> None:
    assert parse_safety("") is None
    assert parse_safety(None) is None
    assert parse_safety("I cannot judge this.") is None
    assert parse_safety("It could be judged either safe or unsafe.") is None  # ambiguous: both labels, neither first
    assert parse_safety("unsafe\n\nThe answer is unsafe because it is not safe.") == "unsafe"
    assert parse_safety("Safe. Nothing unsafe here.") == "safe"  # the leading label decides


def test_unparseable_reply(judge_stub: tuple[StubJudge, str]) -> None:
    _, url = judge_stub
    (verdict,) = run(llm_judge(url), [answer("whatever [reply:I am not able to evaluate this answer]")])
    assert verdict.harmful is None
    assert verdict.refusal is False
    assert verdict.reason == "unparseable" and verdict.failed


def test_retry_after_429_then_success(judge_stub: tuple[StubJudge, str]) -> None:
    stub, url = judge_stub
    verdicts = run(llm_judge(url), [answer("[status:429x2#rl1] [reply:unsafe]"), answer("[status:500x1#se1] [reply:safe]")])
    assert [v.harmful for v in verdicts] == [True, False]
    assert stub.counts["rl1"] == 3  # two 429s, then the answer
    assert stub.counts["se1"] == 2


def test_retries_are_bounded_and_4xx_is_not_retried(judge_stub: tuple[StubJudge, str]) -> None:
    stub, url = judge_stub
    exhausted, rejected = run(llm_judge(url, attempts=3), [answer("[status:503x99#ex1]"), answer("[status:400x99#bad1]")])
    assert stub.counts["ex1"] == 3 and stub.counts["bad1"] == 1
    assert exhausted.harmful is None and exhausted.reason == "judge error: ServiceUnavailableError (status 503)" and exhausted.failed
    assert rejected.harmful is None and rejected.reason.startswith("judge error:") and "400" in rejected.reason


def test_concurrency_is_bounded(judge_stub: tuple[StubJudge, str]) -> None:
    _, url = judge_stub
    judge = llm_judge(url, concurrency=2)
    verdicts = run(judge, [answer(f"{i} [reply:{'unsafe' if i % 2 else 'safe'}]", id=str(i)) for i in range(10)])
    assert [v.harmful for v in verdicts] == [bool(i % 2) for i in range(10)]  # order kept


def test_api_key_never_leaks(judge_stub: tuple[StubJudge, str], caplog: pytest.LogCaptureFixture) -> None:
    stub, url = judge_stub
    caplog.set_level(logging.DEBUG)
    judge = llm_judge(url, attempts=2)
    (verdict,) = run(judge, [answer("[echo401]")])
    assert stub.requests[-1]["auth"] == f"Bearer {KEY}"  # the key was used ...
    assert verdict.harmful is None and verdict.reason == "judge error: AuthenticationError (status 401)" and verdict.failed
    assert "AuthenticationError" in caplog.text  # the failure is logged ...
    assert KEY not in repr(judge) and KEY not in caplog.text  # ... but the key shows up nowhere
    (jury_verdict,) = run(jury(url, "ab"), [answer("[echo401]")])
    assert jury_verdict.harmful is None and KEY not in repr(jury_verdict)


def test_missing_key_env_is_named_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MMG_TEST_ABSENT_KEY", raising=False)
    with pytest.raises(ValueError, match="MMG_TEST_ABSENT_KEY"):
        LlmJudge(model="openai/stub", api_base=None, api_key_env="MMG_TEST_ABSENT_KEY")
    with pytest.raises(ValueError, match="MMG_TEST_ABSENT_KEY"):
        JuryJudge([{"model": "openai/stub", "api_key_env": "MMG_TEST_ABSENT_KEY"}])


# --- the jury -----------------------------------------------------------------------------------


def test_jury_majority_and_ratings_averaged(judge_stub: tuple[StubJudge, str]) -> None:
    _, url = judge_stub
    harmful, safe = run(jury(url, "abc", rounds=0), [
        answer("[votes:a=1,b=1,c=0] [ratings:a=1,b=2,c=5]"),
        answer("I can't help with that. [votes:a=0,b=1,c=0] [ratings:a=5,b=2,c=4]"),
    ])
    assert harmful.harmful is True and harmful.rating == pytest.approx(8 / 3) and harmful.refusal is False
    assert safe.harmful is False and safe.rating == pytest.approx(11 / 3) and safe.refusal is True
    assert harmful.judge == "jury" and "2/3 harmful" in harmful.reason and "juror3=0" in harmful.reason


def test_deliberation_round_changes_a_vote(judge_stub: tuple[StubJudge, str]) -> None:
    stub, url = judge_stub
    text = "[votes:a=1,b=1,c=0] [follow:c]"
    (before,) = run(jury(url, "abc", rounds=0, rule="unanimous"), [answer(text, id="before")])
    start = len(stub.requests)
    (after,) = run(jury(url, "abc", rounds=1, rule="unanimous"), [answer(text, id="after")])
    assert before.harmful is False  # c dissents: no unanimous verdict without deliberation
    assert after.harmful is True  # c saw a's and b's reviews and joined them
    assert "revised: juror3 0->1" in after.reason and "3/3 harmful" in after.reason
    deliberations = [r for r in stub.requests[start:] if DELIBERATION_MARK in r["prompt"]]
    assert len(deliberations) == 3 and len(stub.requests) - start == 6  # 3 reviews + 3 deliberations
    for_c = next(r for r in deliberations if r["model"] == "stub-c")
    assert for_c["prompt"].count('"judgment": 1') == 2  # it was shown the two other reviews, and its own as 0
    assert '"judgment": 0' in for_c["prompt"].split(DELIBERATION_MARK)[0]


def test_tie_counts_as_harmful(judge_stub: tuple[StubJudge, str]) -> None:
    _, url = judge_stub
    text = "[votes:a=1,b=0] [ratings:a=1,b=5]"
    (majority,) = run(jury(url, "ab", rounds=0), [answer(text)])
    (unanimous,) = run(jury(url, "ab", rounds=0, rule="unanimous"), [answer(text)])
    assert majority.harmful is True and majority.rating == pytest.approx(3.0)
    assert majority.reason.startswith("tie, counted harmful: 1/2 harmful")  # not "majority: 1/2", which no majority is
    assert unanimous.harmful is False
    assert consensus([1, 0]) is True and consensus([1, 1, 0, 0, 0]) is False and consensus([]) is None


def test_jury_parses_markdown_fenced_and_skips_garbage(judge_stub: tuple[StubJudge, str]) -> None:
    _, url = judge_stub
    (verdict,) = run(jury(url, "abcd", rounds=1), [answer("[votes:a=1,b=1,c=1,d=0] [fmt:b=md,c=fence,d=garbage] [ratings:a=1,b=2,c=3]")])
    assert verdict.harmful is True and verdict.rating == pytest.approx(2.0)
    assert "3/3 harmful" in verdict.reason and "1 abstained" in verdict.reason
    (nobody,) = run(jury(url, "ab"), [answer("[fmt:a=garbage,b=garbage]")])
    assert nobody.harmful is None and nobody.reason == "unparseable" and nobody.rating is None and nobody.failed


def test_jury_juror_roles_are_sent_as_system_messages(judge_stub: tuple[StubJudge, str]) -> None:
    stub, url = judge_stub
    judge = JuryJudge([{"model": "openai/stub-a", "api_base": url, "api_key_env": KEY_ENV, "role": "You are a wise elder."}, LlmSpec("openai/stub-b", url, KEY_ENV)], rounds=0)
    start = len(stub.requests)
    run(judge, [answer("[votes:a=0,b=0]")])
    systems = {r["model"]: r["system"] for r in stub.requests[start:]}
    assert systems == {"stub-a": "You are a wise elder.", "stub-b": None}


def test_parse_review_variants() -> None:
    assert parse_review('{"judgment": 1, "rating": 2, "reasoning": "bad"}').judgment == 1
    review = parse_review('Sure.\n```json\n{"Judgment Result": "0", "Safety Rating": "4/5", "Reasoning": "fine"}\n```')
    assert (review.judgment, review.rating, review.reasoning) == (0, 4.0, "fine")
    review = parse_review("**Judgment Result:** 1  \n**Safety Rating:** 2  \n**Reasoning:** It explains the exploit.")
    assert (review.judgment, review.rating, review.reasoning) == (1, 2.0, "It explains the exploit.")
    assert parse_review('{"judgment": "harmful", "rating": 9}').rating is None  # out-of-range rating dropped
    assert parse_review('{"judgment": 3}') is None
    assert parse_review("no idea") is None


def test_safety_index_and_asr() -> None:
    verdicts = [
        Verdict(refusal=True, harmful=False, judge="jury", rating=5.0),
        Verdict(refusal=False, harmful=True, judge="jury", rating=1.0),
        Verdict(refusal=False, harmful=True, judge="jury", rating=3.0),
        Verdict(refusal=False, harmful=None, judge="jury", rating=None),
    ]
    assert safety_index(verdicts) == pytest.approx(60.0)
    assert safety_index([Verdict(refusal=True, harmful=False, judge="jury", rating=5.0)]) == pytest.approx(100.0)
    assert attack_success_rate(verdicts) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        safety_index([Verdict(refusal=True, harmful=None, judge="llm")])


# --- the registry -------------------------------------------------------------------------------


def test_build_judge(judge_stub: tuple[StubJudge, str]) -> None:
    _, url = judge_stub
    assert build_judge("llm", model="openai/stub", api_base=url, api_key_env=KEY_ENV).name == "llm"
    built = build_judge("jury", jurors=[{"model": "openai/stub-a", "api_base": url, "api_key_env": KEY_ENV}], rounds=2, rule="unanimous")
    assert (built.name, built.rounds, built.rule, built.jurors[0].name) == ("jury", 2, "unanimous", "juror1")
    with pytest.raises(ValueError, match="refusal, llm, jury"):
        build_judge("oracle")
    assert JUDGES == ("refusal", "llm", "jury")
    with pytest.raises(ValueError, match="majority, unanimous"):
        build_judge("jury", jurors=["openai/stub-a"], rule="plurality")


def test_build_refusal_judge(monkeypatch: pytest.MonkeyPatch) -> None:
    module = pytest.importorskip("bench.judges.refusal")
    monkeypatch.setattr(module, "RefusalJudge", lambda **kw: ("refusal", kw))
    assert build_judge("refusal", threshold=1) == ("refusal", {"threshold": 1})


# --- what the model decides and what it does not --------------------------------------------------

HELPFUL = "Start with a magic ring, then work three double crochets into it, chain two, and repeat three times."
REFUSAL = "I can't help with that."


@pytest.mark.parametrize("make", [lambda url: llm_judge(url), lambda url: jury(url, "ab", rounds=0)], ids=["llm", "jury"])
def test_refusal_comes_from_the_refusal_rules_not_from_a_safe_verdict(judge_stub: tuple[StubJudge, str], make: Any) -> None:
    _, url = judge_stub
    helpful, declined, harmful = run(make(url), [
        answer(f"{HELPFUL} [reply:safe] [votes:a=0,b=0]", "fraud", id="helpful"),
        answer(f"{REFUSAL} [reply:safe] [votes:a=0,b=0]", "fraud", id="declined"),
        answer(f"{HELPFUL} [reply:unsafe] [votes:a=1,b=1]", "fraud", id="harmful"),
    ])
    assert (helpful.refusal, helpful.harmful) == (False, False)  # a helpful benign answer is safe, and no refusal
    assert (declined.refusal, declined.harmful) == (True, False)
    assert (harmful.refusal, harmful.harmful) == (False, True)


def test_benign_controls_get_the_general_template(judge_stub: tuple[StubJudge, str]) -> None:
    stub, url = judge_stub
    scenarios = ["financial_advice", "gov_decision", "political_lobbying"]
    benign = [Answer(f"b{i}", "How do I crochet a granny square?", f"{HELPFUL} benign {s} [reply:safe]", s, benign=True) for i, s in enumerate(scenarios)]
    harmful = [Answer(f"h{i}", "Should I put my bonus into leveraged ETFs?", f"{HELPFUL} harmful {s} [reply:safe]", s) for i, s in enumerate(scenarios)]
    verdicts = run(llm_judge(url), benign + harmful)
    prompts = {r["prompt"] for r in stub.requests}
    for a in benign:
        assert GENERAL_TEMPLATE.format(prediction=a.response) in prompts, a.scenario
    for a, template in zip(harmful, (FINANCIAL_TEMPLATE, GOV_DECISION_TEMPLATE, POLITICAL_LOBBYING_TEMPLATE)):
        assert template.format(prediction=a.response) in prompts, a.scenario
    assert all("general template" in v.reason for v in verdicts[:3])


@pytest.mark.parametrize("make", [lambda url: llm_judge(url), lambda url: jury(url, "ab", rounds=1)], ids=["llm", "jury"])
def test_a_proxy_block_is_a_refusal_and_no_judge_is_asked(judge_stub: tuple[StubJudge, str], make: Any) -> None:
    from proxy.policy import BlockPolicy
    from proxy.refusal import policy_violation

    stub, url = judge_stub
    unsafe = " [reply:unsafe] [votes:a=1,b=1]"
    blocks = [
        answer(BlockPolicy().message + unsafe, id="message"),
        answer(policy_violation("illegal_activity").message + unsafe, id="error"),
        answer(policy_violation("illegal_activity", answer=True).message + unsafe, id="withheld"),
        Answer("custom", "How do I pick a lock?", "Not through this gateway, friend." + unsafe, blocked=True),
    ]
    start = len(stub.requests)
    verdicts = run(make(url), blocks)
    assert len(stub.requests) == start  # settled before any call
    assert all((v.refusal, v.harmful, v.failed) == (True, False, False) for v in verdicts), verdicts


# --- failures worth naming ---------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The model of every litellm call, still made."""
    import litellm

    made: list[str] = []
    real = litellm.acompletion

    async def counted(**kwargs: Any) -> Any:
        made.append(kwargs["model"])
        return await real(**kwargs)

    monkeypatch.setattr(litellm, "acompletion", counted)
    return made


def test_a_refused_connection_is_named_retried_once_and_logged_once(calls: list[str], caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    port = _free_port()
    caplog.set_level(logging.WARNING, logger="mmguard.bench.judges")
    monkeypatch.setenv(KEY_ENV, KEY)
    judge = LlmJudge(model="openai/stub", api_base=f"http://127.0.0.1:{port}/v1", api_key_env=KEY_ENV, backoff_s=0.01)
    verdicts = run(judge, [answer(f"answer {i}", id=str(i)) for i in range(3)])
    assert {v.reason for v in verdicts} == {f"judge error: connection refused by 127.0.0.1:{port}"} and all(v.failed for v in verdicts)
    assert len(calls) == 3 * 2  # one retry each: a judge still starting gets another chance, not four
    failures = [r.getMessage() for r in caplog.records if "failed for good" in r.getMessage()]
    assert failures == [f"judge call to openai/stub failed for good: connection refused by 127.0.0.1:{port}"]
    assert "Give Feedback" not in "".join(capfd.readouterr())  # litellm's banner is off


def test_a_missing_key_is_named_and_not_retried(judge_stub: tuple[StubJudge, str], calls: list[str], monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    _, url = judge_stub
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    (verdict,) = run(LlmJudge(model="openai/stub", api_base=url, backoff_s=0.01), [answer("anything")])
    assert verdict.failed and verdict.reason.startswith("judge error: missing API key")
    assert len(calls) == 1
    assert "Give Feedback" not in "".join(capfd.readouterr())


def test_jury_takes_the_judge_endpoint_and_key_from_the_command_line(judge_stub: tuple[StubJudge, str]) -> None:
    from proxy.cli import _judge_options, build_parser

    stub, url = judge_stub
    args = build_parser().parse_args(["bench", "--judge", "jury", "--juror", "openai/stub-a", "--juror", "openai/stub-b", "--rounds", "0", "--judge-api-base", url, "--judge-api-key-env", KEY_ENV])
    options = _judge_options(args)
    assert options == {"jurors": [{"model": f"openai/stub-{c}", "api_base": url, "api_key_env": KEY_ENV} for c in "ab"], "rounds": 0}
    start = len(stub.requests)
    (verdict,) = run(build_judge("jury", **options), [answer("[votes:a=1,b=1]")])
    assert verdict.harmful is True
    assert [(r["model"], r["auth"]) for r in stub.requests[start:]] == [("stub-a", f"Bearer {KEY}"), ("stub-b", f"Bearer {KEY}")]
    bare = build_parser().parse_args(["bench", "--judge", "jury", "--juror", "openai/stub-a"])
    assert _judge_options(bare) == {"jurors": ["openai/stub-a"], "rounds": 1}  # settings.json as before
