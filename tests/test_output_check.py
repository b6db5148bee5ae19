"""The output-side check end to end: the openai SDK against a real proxy, the loopback stub as the model.

The stub answers ``echo: <the last user message>``, so a test chooses the
model's answer by what it sends. The test policies read nothing on the way in
(``sources: []``, no rules): the input guard lets every request through, as it
would a request it missed, and only the output check judges the answer.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterator

import openai
import pytest
import yaml

from proxy.classifier.embedding import EmbeddingClassifier
from proxy.classifier import Scores
from proxy.output_check import OutputCheck, Reading, answer_texts, is_refusal, windows
from proxy.policy import BlockPolicy, PolicyError, load_policy, parse_policy
from tests.conftest import running_proxy, stub_route
from tests.test_monitoring import Samples, scrape

HARMFUL = (
    "To make meth at home, buy pseudoephedrine from several pharmacies so nobody notices, cook it with red phosphorus "
    "and iodine in a home lab, then dry the crystals and sell them."
)
BENIGN = (
    "Paris is the capital of France and its largest city, on the river Seine. The city has been a centre of finance, "
    "diplomacy, commerce, fashion, science and the arts for centuries, and its museums draw millions of visitors every year. "
    "Its public transport network links the centre with the suburbs, and its parks, bridges and boulevards are famous. "
)
REFUSAL = "I'm sorry, but I can't help with making methamphetamine. Manufacturing it is illegal and dangerous."
ADVICE = "You should put your whole 401k into Tesla, Nvidia and Apple stock right now; sell your bonds."
BLOCK_MESSAGE = BlockPolicy().message


def write_policy(folder: Path, name: str, output: dict[str, Any], **extra: Any) -> str:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "safety_prompt": {"enabled": False}, "sources": [], "output": output, **extra}))
    return str(path)


@pytest.fixture(scope="module")
def proxy(stub, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """Routes to the echoing stub, one per output policy; the unguarded ones are the reference streams."""
    folder = tmp_path_factory.mktemp("output")
    log = folder / "decisions.jsonl"
    broken = {"backend": "llm", "options": {"model": "openai/fail-400", "api_base": f"{stub.url}/v1", "timeout_s": 5}}  # a judge that always fails
    # windows of 200 characters: the harmful passage (190) fills one; in a window half benign text, it is a coin toss for the heads
    block = write_policy(folder, "out-block", {"mode": "block", "stream": "buffer", "window_chars": 200})
    routes = {
        "out-monitor": ("direct", write_policy(folder, "out-monitor", {"mode": "monitor"})),
        "out-block": ("direct", block),
        "out-block-litellm": ("litellm", block),
        "out-block-error": ("direct", write_policy(folder, "out-block-error", {"mode": "block", "stream": "buffer"}, block={"style": "error"})),
        "out-block-allow": ("direct", write_policy(folder, "out-block-allow", {"mode": "block"}, scenarios={"illegal_activity": {"action": "allow"}})),
        "out-off": ("direct", write_policy(folder, "out-off", {"mode": "off"})),
        **{
            f"out-broken-{fail}": ("direct", write_policy(folder, f"out-broken-{fail}", {"mode": "block"}, classifier=broken, fail_mode=fail))
            for fail in ("closed", "open")
        },
        "out-plain": ("direct", "unguarded"),
        "out-plain-litellm": ("litellm", "unguarded"),
    }
    config = {
        "logging": {"decision_log": {"enabled": True, "path": str(log)}},
        "model_list": [stub_route(name, stub.url, transport, policy=policy) for name, (transport, policy) in routes.items()],
    }
    with running_proxy(config) as url:
        yield url, log


@pytest.fixture
def client(proxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proxy[0]}/v1", api_key="unused", max_retries=0, timeout=30)


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def logged(log: Path, request_id: str) -> dict[str, Any]:
    """The request's decision line. It is written after its metrics are recorded, so once it is there, they are too;
    polls with a deadline, and failing to find it fails the test."""
    deadline = time.monotonic() + 20
    while True:
        lines = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        found = [line for line in lines if line["request_id"] == request_id]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no decision line for {request_id}"
        time.sleep(0.02)


def output_flags(samples: Samples, action: str) -> float:
    """mmguard_guard_flags_total{source="output", action=...}, over every scenario."""
    return sum(
        value
        for (name, labels), value in samples.items()
        if name == "mmguard_guard_flags_total" and ("source", "output") in labels and ("action", action) in labels
    )


def streamed(stream: Any) -> tuple[list[str], list[str | None]]:
    """The content deltas and finish reasons of a stream, chunk by chunk."""
    contents, finishes = [], []
    for chunk in stream:
        for choice in chunk.choices:
            contents.append(choice.delta.content or "")
            finishes.append(choice.finish_reason)
    return contents, finishes


def test_the_test_answers_score_as_the_tests_need():
    """The default classifier, on the stub's answers: a precondition, so a retrained head fails here first."""
    harmful, refusal, benign = EmbeddingClassifier().classify([f"echo: {HARMFUL}", f"echo: {REFUSAL}", f"echo: {BENIGN}"])
    assert harmful.harm >= 0.8 and harmful.scenario == "illegal_activity"
    assert refusal.harm >= 0.5  # a refusal names what it refuses: only the refusal check lets it pass
    assert benign.harm < 0.1


@pytest.mark.parametrize(
    "text, refused",
    [
        ("I'm sorry, but I can't help with that.", True),
        ("echo: I cannot provide instructions for making weapons.", True),
        ("I can\u2019t assist with that request.", True),
        ("As an AI language model, I do not give investment advice.", True),
        (f"echo: {BLOCK_MESSAGE}", True),
        (HARMFUL, False),
        (BENIGN, False),
        (BENIGN + "I'm sorry, but I can't help with that.", False),  # only the opening counts
    ],
)
def test_refusals_are_recognised_by_their_opening(text, refused):
    assert is_refusal(text, BLOCK_MESSAGE) is refused


def test_windows_cover_every_character_with_context():
    text = "".join(chr(97 + i % 26) for i in range(1000))
    found = windows(text, 400)
    assert [len(w) for w in found] == [400] * 4 and found[0] == text[-400:] and found[-1] == text[:400]
    assert windows(text, 400, since=900) == [text[-400:]]
    assert windows("short", 400) == ["short"]


@pytest.mark.parametrize(
    "policy, stream, plan",
    [
        ({"output": {"mode": "block", "stream": "buffer"}}, False, "block"),
        ({"output": {"mode": "block", "stream": "buffer"}}, True, "block"),
        ({"output": {"mode": "block"}}, True, "monitor"),  # stream: monitor, whatever the mode
        ({"output": {"mode": "block"}, "mode": "monitor"}, False, "monitor"),  # the policy changes nothing
        ({"output": {"mode": "monitor"}}, False, "monitor"),
        ({"output": {"mode": "block"}, "enabled": False}, False, "off"),
        ({"output": {"mode": "off"}}, True, "off"),
    ],
)
def test_when_answers_are_read(policy, stream, plan):
    assert OutputCheck(None, parse_policy({"name": "p", **policy}, "p.yaml"), stream).plan == plan  # type: ignore[arg-type]


def test_a_verdict_names_a_scenario_only_when_a_window_reached_the_threshold():
    """A benign answer's closest scenario is no finding: the decision log showed it beside a harm of 0.0."""
    check = OutputCheck(None, parse_policy({"name": "p"}, "p.yaml"), False)  # type: ignore[arg-type]
    quiet = Scores(0.0001, {"privacy_violence": 0.6, "fraud": 0.4})
    assert check.verdict(Reading(top=quiet), refused=False).scenario is None
    loud = Scores(0.97, {"fraud": 0.9, "privacy_violence": 0.1})
    reading = Reading(top=loud, acted=(loud, "block"))
    verdict = check.verdict(reading, refused=False)
    assert verdict.scenario == "fraud" and verdict.harm == 0.97


def test_tool_calls_and_empty_answers_have_no_text_to_check():
    tool_call = {"choices": [{"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function"}]}}]}
    assert answer_texts(tool_call) == []
    assert answer_texts({"choices": [{"message": {"content": " "}}, {"message": {"content": "hi"}}]}) == ["hi"]


def test_monitor_passes_a_harmful_answer_and_counts_it(proxy, client):
    url, log = proxy
    before = scrape(url)
    raw = client.chat.completions.with_raw_response.create(model="out-monitor", messages=ask(HARMFUL))
    completion = raw.parse()
    assert completion.choices[0].message.content == f"echo: {HARMFUL}"
    assert completion.choices[0].finish_reason == "stop"
    assert raw.headers["x-mmguard-output"] == "deferred"  # read after the answer went out
    output = logged(log, raw.headers["x-request-id"])["output"]
    assert (output["refused"], output["scenario"], output["action"]) == (False, "illegal_activity", "flagged") and output["harm"] >= 0.5
    after = scrape(url)
    assert output_flags(after, "allow") - output_flags(before, "allow") == 1
    assert output_flags(after, "block") == output_flags(before, "block")


def test_monitor_reads_a_stream_at_its_end(proxy, client):
    url, log = proxy
    before = scrape(url)
    raw = client.chat.completions.with_raw_response.create(model="out-monitor", messages=ask(HARMFUL), stream=True)
    contents, finishes = streamed(raw.parse())
    assert "".join(contents) == f"echo: {HARMFUL}" and finishes[-1] == "stop"
    assert logged(log, raw.headers["x-request-id"])["output"]["action"] == "flagged"
    assert output_flags(scrape(url), "allow") - output_flags(before, "allow") == 1


def test_block_replaces_a_harmful_answer_with_the_refusal(proxy, client):
    url, log = proxy
    before = scrape(url)
    raw = client.chat.completions.with_raw_response.create(model="out-block", messages=ask(HARMFUL))
    completion = raw.parse()
    assert completion.choices[0].message.content == BLOCK_MESSAGE
    assert completion.choices[0].finish_reason == "content_filter"
    assert raw.headers["x-mmguard-output"] == "blocked" and raw.headers["x-mmguard-decision"] == "allow"
    line = logged(log, raw.headers["x-request-id"])
    assert line["output"]["action"] == "blocked" and line["output"]["scenario"] == "illegal_activity"
    assert output_flags(scrape(url), "block") - output_flags(before, "block") == 1


def test_block_in_the_error_style_answers_400(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="out-block-error", messages=ask(HARMFUL))
    assert info.value.code == "content_policy_violation" and info.value.response.headers["x-mmguard-output"] == "blocked"
    assert info.value.body["message"].startswith("The model's answer was withheld by the proxy's content policy")  # the request had passed


def requests_ended(samples: Samples, model: str, decision: str) -> float:
    return sum(v for (name, labels), v in samples.items() if name == "mmguard_requests_total" and ("model", model) in labels and ("decision", decision) in labels)


@pytest.mark.parametrize("model, stream", [("out-block", False), ("out-block", True), ("out-block-error", False)])
def test_a_withheld_answer_counts_as_a_block_on_the_dashboard(proxy, client, model, stream):
    """The request passed the guard, but it ended in a block: requests_total must say so, or a share-blocked
    panel misses every answer the output check stopped."""
    url, _ = proxy
    before = scrape(url)
    try:
        response = client.chat.completions.create(model=model, messages=ask(HARMFUL), stream=stream)
        if stream:
            list(response)
    except openai.APIError:
        pass  # the error style: 400
    after = scrape(url)
    assert requests_ended(after, model, "block") - requests_ended(before, model, "block") == 1
    assert requests_ended(after, model, "allow") == requests_ended(before, model, "allow")


@pytest.mark.parametrize(
    "model, text, state",
    [
        ("out-block", REFUSAL, "pass"),  # scores as harmful, but it is a refusal
        ("out-block", BENIGN, "pass"),
        ("out-block", ADVICE, "flagged"),  # professional advice: flagged, never blocked
        ("out-block-allow", HARMFUL, "pass"),  # a scenario the policy allows is never acted on
        ("out-monitor", BENIGN, "deferred"),
    ],
)
def test_answers_the_policy_does_not_block_pass_unchanged(client, model, text, state):
    raw = client.chat.completions.with_raw_response.create(model=model, messages=ask(text))
    completion = raw.parse()
    assert completion.choices[0].message.content == f"echo: {text}"
    assert completion.choices[0].finish_reason == "stop"
    assert raw.headers["x-mmguard-output"] == state


@pytest.mark.parametrize("fail_mode, state, content", [("closed", "blocked", BLOCK_MESSAGE), ("open", "pass", f"echo: {BENIGN}")])
def test_a_failing_classifier_meets_the_fail_mode(proxy, client, fail_mode, state, content):
    url, log = proxy
    before = scrape(url)
    raw = client.chat.completions.with_raw_response.create(model=f"out-broken-{fail_mode}", messages=ask(BENIGN))
    assert raw.headers["x-mmguard-output"] == state and raw.parse().choices[0].message.content == content
    assert logged(log, raw.headers["x-request-id"])["output"]["error"]
    errors = ("mmguard_errors_total", frozenset({("kind", "guard_error")}))
    assert scrape(url)[errors] - before[errors] == 1


def test_mode_off_reads_nothing(proxy, client):
    url, log = proxy
    raw = client.chat.completions.with_raw_response.create(model="out-off", messages=ask(HARMFUL))
    assert raw.parse().choices[0].message.content == f"echo: {HARMFUL}"
    assert "x-mmguard-output" not in raw.headers
    assert "output" not in logged(log, raw.headers["x-request-id"])


def test_a_buffered_stream_stops_before_the_harmful_window(proxy, client):
    url, log = proxy
    answer = f"echo: {BENIGN * 2}{HARMFUL}"
    raw = client.chat.completions.with_raw_response.create(model="out-block", messages=ask(BENIGN * 2 + HARMFUL), stream=True)
    contents, finishes = streamed(raw.parse())
    received = "".join(contents)
    assert finishes[-1] == "content_filter" and finishes.count("content_filter") == 1
    assert received.endswith(BLOCK_MESSAGE)
    sent = received[: -len(BLOCK_MESSAGE)].rstrip("\n")
    assert answer.startswith(sent) and len(sent) < answer.index(HARMFUL)  # a prefix of the benign part, nothing after it
    assert sent  # the benign opening was streamed before the harm arrived: held back a window, not the whole answer
    for word in ("pseudoephedrine", "methamphetamine", "Step 1"):
        assert word not in received
    line = logged(log, raw.headers["x-request-id"])
    assert line["output"]["action"] == "blocked" and line["stream"] is True


def test_a_buffered_stream_in_the_error_style_ends_with_an_error_event(client):
    contents: list[str] = []
    with pytest.raises(openai.APIError) as info:
        for chunk in client.chat.completions.create(model="out-block-error", messages=ask(HARMFUL), stream=True):
            contents += [c.delta.content or "" for c in chunk.choices]
    assert "content policy" in info.value.message
    assert "pseudoephedrine" not in "".join(contents)


@pytest.mark.parametrize(
    "guarded, plain, text",
    [("out-block", "out-plain", BENIGN * 3), ("out-block-litellm", "out-plain-litellm", BENIGN * 3), ("out-block", "out-plain", REFUSAL)],
)
def test_a_clean_buffered_stream_arrives_whole_and_as_the_unguarded_one(client, guarded, plain, text):
    options = {"messages": ask(text), "stream": True, "stream_options": {"include_usage": True}}
    raw = client.chat.completions.with_raw_response.create(model=guarded, **options)
    through = streamed(raw.parse())
    reference = streamed(client.chat.completions.create(model=plain, **options))
    assert "".join(through[0]) == f"echo: {text}"
    assert through == reference  # the same chunks, in the same order
    assert through[1][-1] == "stop" and "x-mmguard-output" not in raw.headers  # a stream's headers leave before its text


@pytest.mark.parametrize(
    "output, key, fragment",
    [
        ({"mode": "sometimes"}, "output.mode", "'off', 'monitor' or 'block'"),
        ({"mode": "block", "stream": "trickle"}, "output.stream", "'monitor' or 'buffer'"),
        ({"window_chars": 50}, "output.window_chars", "greater than or equal to 100"),
        ({"window_chars": 4000}, "output.window_chars", "less than or equal to 500"),
        ({"threshold": 1.5}, "output.threshold", "less than or equal to 1"),
        ({"windows": 400}, "output.windows", "Extra inputs are not permitted"),
        ({"mode": "monitor", "stream": "buffer"}, "output", "needs mode: block"),
    ],
)
def test_output_policy_errors_name_the_key_and_the_problem(output, key, fragment):
    with pytest.raises(PolicyError) as info:
        parse_policy({"name": "p", "output": output}, "my-policy.yaml")
    message = str(info.value)
    assert message.startswith("my-policy.yaml: invalid policy") and f"  {key}: " in message and fragment in message


def test_bundled_policies_monitor_answers_and_strict_blocks_them():
    assert load_policy("default").output.mode == "monitor" and load_policy("monitor").output.mode == "monitor"
    strict = load_policy("strict").output
    assert (strict.mode, strict.stream, strict.window_chars) == ("block", "buffer", 400)
