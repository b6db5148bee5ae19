"""The decision log: one JSON line per chat request, for audits and for the questions metrics cannot answer.

A line says which request (its ``x-request-id``), when, which model and policy,
what the guard decided and why (every finding: input, scenario, score, action,
rule), what the output check made of the answer, where the time went, which
images (content hashes, so a repeated attack image can be traced without
storing it), and how the request ended (status, error kind). By default it holds no content: no user text, no OCR text, and
never an image; ``log_content: true`` adds the users' text and the images' OCR
text. Keys never appear: every configured secret (upstream keys, proxy keys)
is scrubbed from every string, and content is also scrubbed of anything shaped
like an API key, whatever the client pasted into its prompt.

Lines are appended with one ``write`` each on a file opened for appending, so
several workers can share one file without interleaving lines; stdout is the
default, where container log collectors expect it.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any, Iterable

from pydantic import BaseModel, ConfigDict

from proxy.config import ConfigError, DecisionLogSettings
from proxy.errors import redact, remove_secrets
from proxy.guard import user_text
from proxy.metrics import Decision
from proxy.observe import Exchange

#: The users' text logged with ``log_content``, at most; the tail, where the live request is.
CONTENT_CHARS = 4000
STDOUT_FD = 1


class LoggedFinding(BaseModel):
    source: str
    scenario: str | None
    score: float
    action: str
    rule: str | None


class LoggedOutput(BaseModel):
    """The output check's verdict on the answer: a refusal?, the harm it read, and what the proxy did (pass, flagged, blocked)."""

    refused: bool
    harm: float
    scenario: str | None
    action: str
    error: str | None = None


class Latencies(BaseModel):
    """Milliseconds: the guard's stages, the upstream call, the proxy's own overhead, the output check, and the whole request."""

    fetch: float | None = None
    decode: float | None = None
    ocr: float | None = None
    classify: float | None = None
    guard: float | None = None
    upstream: float | None = None
    overhead: float | None = None
    output: float | None = None
    total: float | None = None


class Content(BaseModel):
    user_text: str
    ocr_texts: list[str]


class DecisionLine(BaseModel):
    """One line of the decision log; absent fields are left out of the line."""

    model_config = ConfigDict(extra="forbid")

    request_id: str
    time: str
    model: str | None
    policy: str | None
    decision: Decision
    would: Decision | None = None
    scenarios: list[str]
    findings: list[LoggedFinding]
    defenses: list[str]
    output: LoggedOutput | None = None
    latency_ms: Latencies
    image_hashes: list[str]
    stream: bool
    status: int | None
    error: str | None = None
    content: Content | None = None


def _round(ms: float | None) -> float | None:
    return None if ms is None else round(ms, 3)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else _round(seconds * 1000)


def _scrub(node: Any, secrets: tuple[str, ...]) -> Any:
    """Every string in ``node`` without any configured secret."""
    if isinstance(node, str):
        return remove_secrets(node, secrets)
    if isinstance(node, dict):
        return {k: _scrub(v, secrets) for k, v in node.items()}
    if isinstance(node, list):
        return [_scrub(v, secrets) for v in node]
    return node


def _content(exchange: Exchange, secrets: Iterable[str]) -> Content:
    chat, outcome = exchange.chat, exchange.outcome
    text = user_text(chat, CONTENT_CHARS) if chat else ""
    texts = list(outcome.ocr_texts) if outcome else []
    return Content(user_text=redact(text, secrets), ocr_texts=[redact(t, secrets) for t in texts])


def decision_line(exchange: Exchange, log_content: bool, secrets: Iterable[str] = ()) -> DecisionLine:
    """The log line of one finished request; content, when asked for, is already scrubbed of key-shaped text."""
    outcome, output = exchange.outcome, exchange.output
    timings = outcome.timings_ms if outcome else {}
    findings = [LoggedFinding(**f.as_dict()) for f in outcome.findings] if outcome else []
    return DecisionLine(
        request_id=exchange.request_id,
        time=exchange.received_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        model=exchange.model,
        policy=exchange.policy,
        decision=exchange.decision,
        would=outcome.would if outcome else None,
        scenarios=sorted({f.scenario for f in findings if f.scenario}),
        findings=findings,
        defenses=list(outcome.defenses) if outcome else [],
        output=LoggedOutput(refused=output.refused, harm=output.harm, scenario=output.scenario, action=output.taken, error=output.error) if output else None,
        latency_ms=Latencies(
            fetch=_round(timings.get("fetch")),
            decode=_round(timings.get("decode")),
            ocr=_round(timings.get("ocr")),
            classify=_round(timings.get("classify")),
            guard=_round(timings.get("total")),
            upstream=_ms(exchange.timing.upstream_s),
            overhead=_ms(exchange.timing.overhead_s),
            output=output.ms if output else None,
            total=_ms(exchange.duration_s),
        ),
        image_hashes=list(outcome.image_hashes) if outcome else [],
        stream=exchange.stream,
        status=exchange.status,
        error=exchange.error_kind or ("client_closed" if exchange.client_closed else None),
        content=_content(exchange, secrets) if log_content else None,
    )


def render(line: DecisionLine, secrets: Iterable[str] = ()) -> str:
    """The JSON text of ``line``, every configured secret scrubbed before serialising (so escaping cannot hide one).

    Absent fields and stages are left out; a finding keeps all its keys (``rule: null`` says no rule fired)."""
    secrets = tuple(secrets)
    data = line.model_dump(exclude_none=True) | {"findings": [f.model_dump() for f in line.findings]}
    return json.dumps(_scrub(data, secrets), ensure_ascii=False, separators=(",", ":"))


class DecisionLog:
    """Appends decision lines to a file, or writes them to stdout; a reporter for ``ObserveMiddleware``."""

    def __init__(self, settings: DecisionLogSettings, secrets: Iterable[str]) -> None:
        self.log_content = settings.log_content
        self.secrets = tuple(secrets)
        self._owned = settings.path is not None
        self._lock = threading.Lock()
        try:
            self._fd: int | None = os.open(settings.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640) if settings.path else STDOUT_FD
        except OSError as err:
            raise ConfigError(f"logging.decision_log.path: cannot open {settings.path}: {err.strerror}") from None

    def __call__(self, exchange: Exchange) -> None:
        data = (render(decision_line(exchange, self.log_content, self.secrets), self.secrets) + "\n").encode()
        with self._lock:
            while data and self._fd is not None:
                data = data[os.write(self._fd, data):]

    def close(self) -> None:
        """Close the file; a request that finishes after this is not logged, never written to a reused descriptor."""
        with self._lock:
            if self._owned and self._fd is not None:
                os.close(self._fd)
            self._fd = None
