"""schemathesis against the proxy's own OpenAPI description, over real HTTP to a real server on 127.0.0.1.

Every operation gets deterministic generated requests: schemathesis's coverage
phase (boundary values, missing and malformed bodies, methods the description
does not list) and its fuzzing phase, with data that fits the schema and data
that does not. Every response is checked by schemathesis (no 5xx, documented
status, content type, headers and body schema, invalid data rejected), and
by one rule of this proxy's own: a body the schema accepts is never refused
as a schema error, so the description and the validator cannot drift apart.

Valid bodies name a configured model most of the time, so fuzzed requests go
through the guard and on to the upstream rather than stopping at a 404. The
policy refuses remote image URLs, so a generated URL never leaves the machine.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

import policies
from proxy.app import create_app
from proxy.config import parse_config
from tests.conftest import UPSTREAM_KEY, proxy_config, running_proxy

#: Routes whose upstream answers; the fail-* and slow routes are 5xx by design (tests/test_proxy_errors.py).
HEALTHY_MODELS = ("echo", "echo-system", "echo-unguarded", "stream-break", "sim", "sim-unguarded", "sim-safety-prompt")
#: Why a body the schema accepts may still be a 400: what a JSON schema cannot see.
SEMANTIC_400 = {"invalid_image", "too_many_images", "unreadable_content", "content_policy_violation", "upstream_bad_request"}


def fuzz_config(upstream_url: str, policy_path: str) -> dict[str, Any]:
    return {**proxy_config(upstream_url), "policy": policy_path}


# The description under test, made by the same code that serves it (test_served_description_is_this_one checks).
SPEC = create_app(parse_config(fuzz_config("http://127.0.0.1:9", "default"), "<fuzz>", {"TEST_UPSTREAM_KEY": UPSTREAM_KEY})).openapi()
schema = schemathesis.openapi.from_dict(SPEC)
tally: collections.Counter[tuple[str, str, str, int]] = collections.Counter()


@schema.hook
def flatmap_case(context: Any, case: schemathesis.Case) -> st.SearchStrategy[schemathesis.Case]:
    """Point valid bodies at a configured model three times in four; invalid bodies stay as generated."""
    body = case.body
    if case.meta is None or not case.meta.generation.mode.is_positive or not isinstance(body, dict) or not isinstance(body.get("model"), str):
        return st.just(case)

    def with_model(model: str | None) -> schemathesis.Case:
        if model is not None:
            case.body = {**body, "model": model}
        return case

    return st.sampled_from([*HEALTHY_MODELS, None]).map(with_model)


@pytest.fixture(scope="module")
def fuzz_url(stub: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The default policy, but with remote images refused."""
    policy = yaml.safe_load((Path(policies.__file__).parent / "default.yaml").read_text())
    policy["limits"]["remote_images"] = False
    path = tmp_path_factory.mktemp("fuzz") / "no-remote.yaml"
    path.write_text(yaml.safe_dump(policy))
    with running_proxy(fuzz_config(stub.url, str(path))) as url:  # type: ignore[attr-defined]
        yield url


def test_served_description_is_this_one(fuzz_url: str) -> None:
    assert httpx.get(f"{fuzz_url}/openapi.json").json() == SPEC
    assert {"ChatRequest", "Error"} <= set(SPEC["components"]["schemas"])


@schema.parametrize()
@settings(max_examples=100, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
def test_proxy_conforms_to_its_openapi(case: schemathesis.Case, fuzz_url: str) -> None:
    # positive_data_acceptance expects no 400 at all; the rule below is the precise form for this API.
    response = case.call_and_validate(base_url=fuzz_url, timeout=30, excluded_checks=[positive_data_acceptance])
    mode = case.meta.generation.mode.value if case.meta else "explicit"
    phase = case.meta.phase.name.value if case.meta else "explicit"
    tally[(case.operation.label, phase, mode, response.status_code)] += 1
    if mode == "positive" and response.status_code == 400:
        assert response.json()["error"]["code"] in SEMANTIC_400, response.text


def test_fuzzing_reached_the_guard_and_the_upstream() -> None:
    """The run above (same module, run before this) must have exercised more than routing: answers and rejections."""
    statuses = collections.Counter()
    for (label, _, _, status), count in tally.items():
        if label == "POST /v1/chat/completions":
            statuses[status] += count
    print(f"\nschemathesis: {sum(tally.values())} requests")
    for key, count in sorted(tally.items()):
        print(f"  {' '.join(map(str, key))}: {count}")
    assert statuses[200] >= 10 and statuses[400] >= 10, f"too little reached the guard and the upstream: {statuses}"
