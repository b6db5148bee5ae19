"""Pure pieces of the proxy core: safety-prompt placement, config loading, litellm arguments, redaction, the LRU cache, data: URLs."""

from __future__ import annotations

import pytest

from proxy.config import ConfigError, ModelRoute, load_config, parse_config
from proxy.errors import redact
from proxy.images import ImageError, decode_data_url
from proxy.lru import LRU
from proxy.policy import PolicyError, load_policy
from proxy.safety_prompt import apply_safety_prompt
from proxy.upstream import UpstreamCall
from proxy.upstream.via_litellm import litellm_kwargs

S = "SAFETY"


def test_prefix_goes_on_the_latest_user_turn_only():
    msgs = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]
    out = apply_safety_prompt(msgs, S, "prefix")
    assert out[0] == msgs[0] and out[2]["content"] == "SAFETY\nc"
    assert msgs[2]["content"] == "c"  # the input is not mutated


def test_prefix_without_any_user_turn_falls_back_to_system():
    assert apply_safety_prompt([{"role": "system", "content": "x"}], S, "prefix")[0] == {"role": "system", "content": S}


def test_placement_is_idempotent():
    once = apply_safety_prompt([{"role": "user", "content": "q"}], S, "system")
    assert apply_safety_prompt(once, S, "system") == once
    assert apply_safety_prompt(apply_safety_prompt([{"role": "user", "content": "q"}], S, "prefix"), S, "prefix")[0]["content"] == "SAFETY\nq"


def test_embedded_default_config_loads_offline():
    config = load_config(environ={})
    assert config.route("mmguard-sim").litellm_params.model == "mmguard/sim-mllm"
    assert config.source.startswith("<embedded")


def test_env_overrides_win_over_the_file():
    env = {"MMGUARD_PORT": "9999", "MMGUARD_API_KEYS": "k1, k2", "MMGUARD_POLICY": "unguarded", "MMGUARD_HOST": "0.0.0.0"}
    config = load_config(environ=env)
    assert config.server.port == 9999 and config.server.host == "0.0.0.0" and config.policy == "unguarded"
    assert [k.get_secret_value() for k in config.server.api_keys] == ["k1", "k2"]


def test_bad_env_override_names_the_variable():
    with pytest.raises(ConfigError, match="MMGUARD_PORT"):
        load_config(environ={"MMGUARD_PORT": "eighty"})


def test_config_errors_name_file_and_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model_list:\n  - model_name: a\n    litellm_params: {}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert str(path) in str(info.value) and "model_list.0.litellm_params.model" in str(info.value)


def test_missing_key_variable_is_a_config_error():
    raw = {"model_list": [{"model_name": "a", "litellm_params": {"model": "openai/a", "api_key": "os.environ/NOPE_KEY"}}]}
    with pytest.raises(ConfigError, match="model_list\\[0\\].litellm_params.api_key: environment variable NOPE_KEY"):
        parse_config(raw, "x.yaml", {})


def test_duplicate_model_names_are_refused():
    route = {"model_name": "a", "litellm_params": {"model": "openai/a"}}
    with pytest.raises(ConfigError, match="unique"):
        parse_config({"model_list": [route, route]}, "x.yaml", {})


def test_key_is_secret_in_repr():
    config = parse_config({"model_list": [{"model_name": "a", "litellm_params": {"model": "openai/a", "api_key": "os.environ/K"}}]}, "x", {"K": "sk-verysecretvalue123"})
    assert "sk-verysecretvalue123" not in repr(config) and "sk-verysecretvalue123" not in config.model_dump_json()
    assert config.secrets() == ["sk-verysecretvalue123"]


def test_policy_errors_name_file_and_key(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nsafety_prompt:\n  enabled: perhaps\n")
    with pytest.raises(PolicyError) as info:
        load_policy(str(path))
    assert str(path) in str(info.value) and "safety_prompt.enabled" in str(info.value)
    with pytest.raises(PolicyError, match="neither a bundled policy"):
        load_policy("no-such-policy")


def _call(model: str, params: dict, **lp) -> dict:
    route = ModelRoute.model_validate({"model_name": "m", "litellm_params": {"model": model, **lp}})
    return litellm_kwargs(UpstreamCall(route, [{"role": "user", "content": "x"}], params, 5.0), stream=False)


def test_only_documented_params_become_litellm_arguments():
    kw = _call("openai/m", {"temperature": 0.1, "api_base": "http://evil", "api_key": "x", "mock_response": "pwned", "user": "u", "top_k": 3}, api_base="http://good/v1")
    assert kw["api_base"] == "http://good/v1" and "mock_response" not in kw and kw["temperature"] == 0.1
    assert kw["extra_body"] == {"api_base": "http://evil", "api_key": "x", "mock_response": "pwned", "user": "u", "top_k": 3}


def test_user_goes_through_litellm_for_translated_providers():
    kw = _call("anthropic/claude-x", {"user": "u", "metadata": {"a": 1}})
    assert kw["user"] == "u" and "metadata" not in kw and "extra_body" not in kw


def test_redact_removes_known_secrets_and_key_shapes():
    text = "Incorrect API key provided: sk-abcdefghijklmnopqrstu and mine-secret-value"
    out = redact(text, ["mine-secret-value"])
    assert "sk-abcdefghijklmnopqrstu" not in out and "mine-secret-value" not in out


@pytest.mark.parametrize(
    "key",
    ["AKIAIOSFODNN7EXAMPLE", "ASIAY34FZKBOKMUTVV7A", "ghp_" + "a1B2c3D4" * 5, "xoxb-1234567890-abcdefghij", "AIzaSyA1b2C3d4E5f6G7h8"],
)
def test_redact_removes_the_shapes_of_cloud_and_chat_tokens(key):
    """An AWS key id went into the decision log verbatim, where the README promises keys are scrubbed."""
    out = redact(f"my key is {key}, please use it", [])
    assert key not in out and out == "my key is [redacted], please use it"


def test_redact_keeps_ordinary_words_that_start_like_keys():
    text = "Ask the skipper about the keynote in Akiak, Alaska."
    assert redact(text, []) == text


def _route(**kw) -> ModelRoute:
    return ModelRoute.model_validate({"model_name": "m", **kw})


def test_auto_transport_goes_direct_only_where_it_can():
    assert _route(litellm_params={"model": "openai/x", "api_base": "http://h/v1"}).resolved_transport() == "direct"
    assert _route(litellm_params={"model": "hosted_vllm/org/x", "api_base": "http://h/v1"}).resolved_transport() == "direct"
    assert _route(litellm_params={"model": "openai/x"}).resolved_transport() == "litellm"
    assert _route(litellm_params={"model": "anthropic/claude", "api_base": "http://h"}).resolved_transport() == "litellm"
    assert _route(litellm_params={"model": "azure/x", "api_base": "http://h", "api_version": "2024-10-21"}).resolved_transport() == "litellm"
    assert _route(litellm_params={"model": "openai/x", "api_base": "http://h/v1", "organization": "o"}).resolved_transport() == "litellm"
    assert _route(litellm_params={"model": "mmguard/sim-mllm"}).resolved_transport() == "litellm"


def test_forced_direct_transport_refuses_settings_it_would_ignore():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="use transport litellm"):
        _route(litellm_params={"model": "openai/x", "api_base": "http://h/v1", "organization": "o"}, transport="direct")
    with pytest.raises(ValidationError, match="needs litellm_params.api_base"):
        _route(litellm_params={"model": "openai/x"}, transport="direct")


def test_direct_request_keeps_the_body_and_swaps_model_and_key():
    from proxy.upstream.direct import build_request

    route = _route(litellm_params={"model": "hosted_vllm/org/llava", "api_base": "http://h/v1/", "api_key": "k", "extra_headers": {"x-a": "1"}})
    url, headers, body = build_request(UpstreamCall(route, [{"role": "user", "content": "q"}], {"top_k": 2, "model": "evil"}, 5), stream=True)
    assert url == "http://h/v1/chat/completions"
    assert headers["authorization"] == "Bearer k" and headers["x-a"] == "1"
    assert body == {"top_k": 2, "model": "org/llava", "messages": [{"role": "user", "content": "q"}], "stream": True}


def test_a_proxy_with_only_direct_routes_never_imports_litellm():
    """litellm costs ~160 MB and 3 s; a fresh interpreter serving direct routes must not load it."""
    import subprocess
    import sys

    script = """
import sys, httpx
from proxy.app import create_app
from proxy.config import parse_config
from proxy.server import serve_in_thread
routes = [{"model_name": "m", "litellm_params": {"model": "openai/m", "api_base": "http://127.0.0.1:9/v1"}, "transport": "direct"}]
config = parse_config({"policy": "unguarded", "model_list": routes}, "<test>", {})
with serve_in_thread(create_app(config)) as url:
    r = httpx.post(url + "/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}]}, timeout=30)
print(r.status_code, "litellm" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["502", "False"], done.stderr[-2000:]


def test_perf_guard_rows_say_where_the_time_went():
    from bench.guard_speed import Row

    row = Row("TYPO", [30.0, 40.0], {"total": [30.0, 40.0], "ocr": [18.0, 22.0], "decode": [2.0, 3.0]})
    assert row.stages_line() == "  p50 by stage, ms: decode 2.50, ocr 20.00"
    assert Row("cached", [1.0]).stages_line() is None


def test_perf_guard_times_typo_images_of_the_size_the_target_names_each_distinct():
    from bench.guard_speed import TYPO_SIZE, typo_images

    images = typo_images(60)
    assert {image.size for image in images} == {TYPO_SIZE} == {(1024, 270)}
    assert len({image.tobytes() for image in images}) == 60


def test_perf_guard_names_the_processor_and_the_simd_it_has_and_lacks():
    from bench.machine import describe_cpu

    epyc = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse4_2 avx avx2 fma\n\nprocessor\t: 1\nmodel name\t: AMD EPYC\n"
    assert describe_cpu(epyc, 2, (1.0, 0.5, 0.25)) == "cpu: AMD EPYC, 2 cores; has avx2; lacks avx512f, avx512_vnni, avx_vnni, amx_int8; load average 1.00 0.50 0.25"
    assert describe_cpu("", 1) == "cpu: unknown processor, 1 core; has none of avx2/avx512f/avx512_vnni/avx_vnni/amx_int8"


def test_the_lru_computes_each_missing_key_once_and_forgets_the_least_recent() -> None:
    cache: LRU[int] = LRU(2)
    computed: list[list[str]] = []

    def lengths(keys: list[str]) -> list[int]:
        computed.append(keys)
        return [len(k) for k in keys]

    assert cache.get_many(["a", "bb", "a"], lengths) == [1, 2, 1]
    assert cache.get_many(["bb", "ccc"], lengths) == [2, 3]
    assert computed == [["a", "bb"], ["ccc"]]
    assert cache.get("a") is None and cache.get("bb") == 2  # "a" was the least recent when "ccc" came


@pytest.mark.parametrize("url", ["data:image/png;base64,aGVsbG8=", "data:image/png;base64,aGVs\r\nbG8=", "data:;base64,aGVs bG8=", "data:image/png;charset=x;base64,aGVsbG8=", "DATA:IMAGE/PNG;BASE64,aGVsbG8="])
def test_data_urls_decode_with_or_without_line_breaks(url: str) -> None:
    assert decode_data_url(url, 100) == b"hello"


def test_line_breaks_do_not_count_towards_the_size_limit() -> None:
    assert decode_data_url("data:image/png;base64,aGVs\r\n\r\n\r\nbG8=", 6) == b"hello"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("data:image/png,aGVsbG8=", "not of the form"),
        ("data:image/png;base64", "not of the form"),
        ("data:image/png;base64;x,aGVsbG8=", "not of the form"),
        ("data:text/plain;base64,aGVsbG8=", "not an image"),
        ("data:image/png;base64,aGVs*bG8=", "not valid base64"),
        ("data:image/png;base64," + "A" * 200, "larger than the limit"),
    ],
)
def test_bad_data_urls_say_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(ImageError, match=says):
        decode_data_url(url, 100)


def test_perf_guard_names_the_cpu_it_pinned_so_taskset_can_move_it():
    """Pinned to one CPU it names it; run in a child so the test process keeps all its CPUs."""
    import subprocess
    import sys

    code = "import os; os.sched_setaffinity(0, {0}); from bench.guard_speed import pinned; print(pinned())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("pinned to CPU 0")


def test_a_policy_file_that_disappears_is_reported_once_and_the_policy_stays(tmp_path, caplog):
    """Checked once a second, a missing file logged an error every second until it came back."""
    import shutil
    import time

    from proxy.policy import resolve_policy_path
    from proxy.policy_store import PolicyStore

    path = tmp_path / "mine.yaml"
    shutil.copy(resolve_policy_path("strict", None), path)
    store = PolicyStore(check_interval_s=0.0)
    policy = store.load(str(path))
    path.unlink()
    with caplog.at_level("ERROR", logger="mmguard.policy"):
        for _ in range(5):
            assert store.get(str(path)) is policy
            time.sleep(0.01)
    assert sum("is gone" in r.getMessage() for r in caplog.records) == 1
    shutil.copy(resolve_policy_path("default", None), path)
    assert store.get(str(path)).name == "default"
