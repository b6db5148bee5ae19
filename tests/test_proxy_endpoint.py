"""The proxy as a drop-in OpenAI endpoint: the openai SDK against a real server, a recording upstream behind it."""

from __future__ import annotations

import openai
import pytest

from bench.render import render_typo, to_data_url
from policies import bundled
from proxy.policy import MM_SAFETYBENCH_SAFETY_PROMPT as SAFETY

TINY_PNG = to_data_url(render_typo("hello", font_size=20, width=120))


def all_text(body: dict) -> str:
    out = []
    for m in body["messages"]:
        c = m.get("content")
        out.append(c if isinstance(c, str) else " ".join(p.get("text", "") for p in c or [] if p.get("type") == "text"))
    return "\n".join(out)


def test_non_streaming_completion_with_decision_headers(client, stub):
    raw = client.chat.completions.with_raw_response.create(model="echo", messages=[{"role": "user", "content": "hello there"}])
    completion = raw.parse()
    assert completion.choices[0].message.content.endswith("hello there")
    assert completion.choices[0].finish_reason == "stop"
    assert raw.headers["x-mmguard-decision"] == "allow"
    assert raw.headers["x-mmguard-policy"] == "default"
    assert raw.headers["x-mmguard-defenses"] == "none"  # sure it is benign: spared the safety prompt (skip_below)
    assert SAFETY not in all_text(stub.last().body)
    assert float(raw.headers["x-mmguard-overhead-ms"]) >= 0
    assert raw.headers["x-request-id"].startswith("req_")
    assert stub.last().body["model"] == "echo"
    assert stub.last().headers["authorization"] == "Bearer sk-upstream-SECRET-0123456789abcdef"


def test_streaming_completion(client):
    stream = client.chat.completions.create(
        model="echo-unguarded", messages=[{"role": "user", "content": "one two three"}], stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: one two three"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 4


def test_stream_ends_with_done_on_the_wire(proxy_url):
    import httpx

    r = httpx.post(f"{proxy_url}/v1/chat/completions", json={"model": "echo", "messages": [{"role": "user", "content": "x"}], "stream": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = [line for line in r.text.split("\n\n") if line]
    assert events[-1] == "data: [DONE]"
    assert all(e.startswith("data: ") for e in events)


def test_image_part_reaches_upstream_intact(client, stub):
    parts = [
        {"type": "text", "text": "What is in this image?"},
        {"type": "image_url", "image_url": {"url": TINY_PNG, "detail": "high"}},
    ]
    client.chat.completions.create(model="echo-unguarded", messages=[{"role": "user", "content": parts}])
    assert stub.last().body["messages"] == [{"role": "user", "content": parts}]


def test_https_image_url_is_passed_on_unchanged(client, stub):
    part = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    client.chat.completions.create(model="echo-unguarded", messages=[{"role": "user", "content": [part]}])
    assert stub.last().body["messages"][0]["content"] == [part]


MULTI_TURN = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "first question"},
    {"role": "assistant", "content": "first answer"},
    {"role": "user", "content": [{"type": "text", "text": "second question"}, {"type": "image_url", "image_url": {"url": TINY_PNG}}]},
]


def test_safety_prompt_prefix_once_on_latest_user_turn(client, stub):
    client.chat.completions.create(model="echo-prompted", messages=MULTI_TURN)
    sent = stub.last().body["messages"]
    assert all_text(stub.last().body).count(SAFETY) == 1
    assert sent[3]["content"][0]["text"] == f"{SAFETY}\nsecond question"
    assert sent[3]["content"][1] == MULTI_TURN[3]["content"][1]
    assert sent[:3] == MULTI_TURN[:3]


def test_safety_prompt_system_placement_once(client, stub):
    client.chat.completions.create(model="echo-system", messages=MULTI_TURN)
    sent = stub.last().body["messages"]
    assert sent[0] == {"role": "system", "content": SAFETY}
    assert sent[1:] == MULTI_TURN
    assert all_text(stub.last().body).count(SAFETY) == 1


def test_safety_prompt_not_repeated_when_conversation_carries_it(client, stub):
    messages = [{"role": "user", "content": f"{SAFETY}\nfirst"}, {"role": "assistant", "content": "ok"}, {"role": "user", "content": "second"}]
    client.chat.completions.create(model="echo-prompted", messages=messages)
    assert all_text(stub.last().body).count(SAFETY) == 1


def test_image_only_message_gets_a_text_part_for_the_prefix(client, stub):
    client.chat.completions.create(model="echo-prompted", messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": TINY_PNG}}]}])
    content = stub.last().body["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": SAFETY} and content[1]["type"] == "image_url"


def test_unguarded_policy_sends_no_safety_prompt(client, stub):
    raw = client.chat.completions.with_raw_response.create(model="echo-unguarded", messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["x-mmguard-defenses"] == "none" and raw.headers["x-mmguard-policy"] == "unguarded"
    assert stub.last().body["messages"] == [{"role": "user", "content": "hi"}]
    assert "unguarded" in bundled()


def test_every_parameter_is_passed_through(client, stub):
    params = dict(
        temperature=0.25,
        top_p=0.5,
        max_tokens=33,
        max_completion_tokens=44,
        stop=["END"],
        seed=7,
        n=2,
        presence_penalty=0.1,
        frequency_penalty=0.2,
        logit_bias={"50256": -100},
        logprobs=True,
        top_logprobs=3,
        response_format={"type": "json_object"},
        tools=[{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}],
        tool_choice="auto",
        parallel_tool_calls=False,
        user="user-123",
        metadata={"team": "a"},
        store=False,
        reasoning_effort="low",
    )
    client.chat.completions.create(model="echo-unguarded", messages=[{"role": "user", "content": "p"}], extra_body={"top_k": 5, "repetition_penalty": 1.1}, **params)
    body = stub.last().body
    for key, value in {**params, "top_k": 5, "repetition_penalty": 1.1}.items():
        assert body.get(key) == value, key


def test_stream_options_pass_through(client, stub):
    list(client.chat.completions.create(model="echo-unguarded", messages=[{"role": "user", "content": "s"}], stream=True, stream_options={"include_usage": True}))
    assert stub.last().body["stream"] is True and stub.last().body["stream_options"] == {"include_usage": True}


def test_client_cannot_redirect_the_upstream(client, stub):
    """api_base/api_key in the body must never become litellm arguments (that would leak the operator's key)."""
    before = len(stub.requests)
    client.chat.completions.create(
        model="echo-unguarded", messages=[{"role": "user", "content": "x"}], extra_body={"api_base": "http://127.0.0.1:9/v1", "api_key": "attacker", "extra_headers": {"x": "y"}}
    )
    assert len(stub.requests) == before + 1
    assert stub.last().headers["authorization"] == "Bearer sk-upstream-SECRET-0123456789abcdef"
    assert stub.last().body["api_base"] == "http://127.0.0.1:9/v1"  # forwarded as inert body data, not used


def test_tool_calling_conversation_round_trips(client, stub):
    messages = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    client.chat.completions.create(model="echo-unguarded", messages=messages)
    sent = stub.last().body["messages"]
    assert sent[1]["tool_calls"][0]["id"] == "call_1" and sent[2]["tool_call_id"] == "call_1"


def test_models_and_health(client, proxy_url):
    import httpx

    ids = {m.id for m in client.models.list()}
    assert {"echo", "sim", "sim-unguarded"} <= ids
    assert client.models.retrieve("sim-unguarded").id == "sim-unguarded"
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("no-such-model")
    assert info.value.body["code"] == "model_not_found"
    assert httpx.get(f"{proxy_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{proxy_url}/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_mid_stream_fault_ends_with_an_error_not_a_hang(client):
    stream = client.chat.completions.create(model="stream-break", messages=[{"role": "user", "content": "a b c d e f"}], stream=True)
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass


def test_a_stream_cut_short_cleanly_ends_with_an_error_not_as_a_whole_answer(client):
    """The upstream ends its body mid-answer (no finish_reason, no [DONE]): the client must not take the
    two words it got for the answer."""
    stream = client.chat.completions.create(model="stream-cut", messages=[{"role": "user", "content": "a b c d e f"}], stream=True)
    words = []
    with pytest.raises(openai.APIError, match="(?i)stream ended before"):  # litellm says it its own way
        for chunk in stream:
            words += [c.delta.content for c in chunk.choices if c.delta.content]
    assert "".join(words).startswith("echo:")


def test_a_whole_stream_without_finish_reason_is_whole_where_done_can_be_seen(client, request):
    """Some servers end a whole answer with [DONE] and no finish_reason. The direct transport reads [DONE]
    and passes it whole; litellm hides [DONE] and itself takes a missing finish_reason for a cut stream."""
    stream = client.chat.completions.create(model="stream-unfinished", messages=[{"role": "user", "content": "a b c d e f"}], stream=True)
    if request.node.callspec.params["proxy_url"] == "direct":
        assert "".join(c.delta.content or "" for chunk in stream for c in chunk.choices) == "echo: a b c d e f"
    else:
        with pytest.raises(openai.APIError, match="(?i)ended before a finish_reason"):
            for _ in stream:
                pass
