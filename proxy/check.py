"""``mmguard check``: the guard's decision on text and image files, without a proxy or a model.

It builds the same chat request a client would send (the images as data:
URLs) and runs the same ``Guard`` the proxy runs, so what it says is what the
proxy would do. With ``--jsonl`` it reads ``{"id", "text", "images": [paths]}``
lines and writes one decision per line, in order, loading the models once.
Each output line has its input's id, or the input's line number when it has
none, an error line too: outputs join to inputs by id. Each also has
``line``, the input's line number, since a line without an id and a line
whose id is that number would otherwise answer with the same id.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import mimetypes
import re
import sys
import time
from pathlib import Path
from typing import Any, Iterable, TextIO

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from proxy.errors import ProxyError
from proxy.guard import Guard, GuardOutcome
from proxy.ocr import shared_engine
from proxy.policy import Policy
from proxy.request import ChatRequest

log = logging.getLogger("mmguard.check")


def data_url(path: Path) -> str:
    """The file as a data: URL; the decoder sniffs the real format, the label only has to say "image"."""
    mime = mimetypes.guess_type(path.name)[0] or ""
    mime = mime if mime.startswith("image/") else "image/png"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def chat_request(text: str, images: Iterable[str | Path]) -> ChatRequest:
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    parts += [{"type": "image_url", "image_url": {"url": data_url(Path(p))}} for p in images]
    return ChatRequest.model_validate({"model": "mmguard-check", "messages": [{"role": "user", "content": parts or ""}]})


def summary(outcome: GuardOutcome, latency_ms: float) -> dict[str, Any]:
    finding = outcome.finding
    return {
        "action": outcome.would or outcome.decision,
        "scenario": finding.scenario if finding else None,
        "score": round(finding.score, 4) if finding else 0.0,
        # the highest harm of any input, decided on or not: how near an allowed request came to a threshold
        "top_harm": None if outcome.top_harm is None else round(outcome.top_harm, 4),
        "source": finding.source if finding else None,
        "rule": finding.rule if finding else None,
        "ocr_text": " | ".join(outcome.ocr_texts),
        "latency_ms": round(latency_ms, 2),
        "policy": outcome.policy,
        "error": outcome.error,
    }


class CheckLine(BaseModel):
    """One line of ``--jsonl``. Other keys (a label, a source) may ride along and are ignored."""

    model_config = ConfigDict(extra="ignore")

    id: StrictStr | StrictInt | None = None
    text: StrictStr = ""
    images: list[StrictStr] = Field(default_factory=list)


def _in_files(err: ProxyError, text: str, images: list[str | Path]) -> str:
    """The guard's message with the image named by its file, not by its place in the request ``chat_request`` built."""
    found = re.match(r"messages\[0\]\.content\[(\d+)\]", err.param or "")
    if not found:
        return err.message
    index = int(found.group(1)) - (1 if text else 0)
    return err.message.replace(f"at {err.param}", str(images[index])) if 0 <= index < len(images) else err.message


async def check_one(guard: Guard, policy: Policy, text: str, images: Iterable[str | Path]) -> dict[str, Any]:
    start = time.perf_counter()
    images = list(images)
    try:
        request = chat_request(text, images)
    except OSError as err:
        return {"action": "error", "error": f"cannot read image: {err.strerror}: {err.filename}"}
    try:
        outcome = await guard.inspect(request, policy)
    except ProxyError as err:
        return {"action": "error", "error": _in_files(err, text, images)}
    return summary(outcome, (time.perf_counter() - start) * 1000)


def _line_error(number: int, err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    if not where:
        return f"line {number}: expected an object with id, text and images (a list of paths)"
    return f"line {number}: {where}: {first['msg']}"


def _own_id(raw: Any, number: int) -> str | int:
    """The line's id as ``CheckLine`` reads it, else its line number: an error line keeps an id the rest of the line spoiled."""
    own = raw.get("id") if isinstance(raw, dict) else None
    return own if isinstance(own, (str, int)) and not isinstance(own, bool) else number


def parse_line(line: str, number: int) -> CheckLine | dict[str, Any]:
    """The line's request, or the error line that takes its place (its message names the line number)."""
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as err:
        return {"id": number, "action": "error", "error": f"line {number}: not JSON: {err.msg}"}
    try:
        return CheckLine.model_validate(raw)
    except ValidationError as err:
        return {"id": _own_id(raw, number), "action": "error", "error": _line_error(number, err)}


async def check_jsonl(guard: Guard, policy: Policy, lines: Iterable[str], out: TextIO, base: Path) -> int:
    """Decisions line by line; how many lines could not be decided (their error lines say why)."""
    failed = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        row = parse_line(line, number)
        if isinstance(row, CheckLine):
            images = [p if Path(p).is_absolute() else base / p for p in row.images]
            result = {"id": number if row.id is None else row.id, **await check_one(guard, policy, row.text, images)}
        else:
            result = row
        result = {"id": result.pop("id"), "line": number, **result}
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
        failed += result["action"] == "error"
    return failed


def run(policy: Policy, text: str, images: list[str], jsonl: str | None, as_json: bool, out: TextIO = sys.stdout) -> int:
    async def main() -> int:
        guard = Guard(shared_engine())
        if policy.enabled:  # load the models before timing anything: latency_ms is the guard's, not start-up's
            try:
                await asyncio.to_thread(guard.classifier(policy).classify, ["warm-up"])
            except Exception as err:  # as in the proxy, the policy's fail_mode decides each request, and says why
                log.warning("the classifier failed to warm up (%s: %s); fail_mode %s decides each request", type(err).__name__, err, policy.fail_mode)
        try:
            if jsonl:
                source = sys.stdin if jsonl == "-" else open(jsonl)
                with source:
                    failed = await check_jsonl(guard, policy, source, out, Path(jsonl).parent if jsonl != "-" else Path.cwd())
                return 1 if failed else 0  # as judge --jsonl: some line could not be decided
            result = await check_one(guard, policy, text, images)
            if as_json:
                out.write(json.dumps(result, ensure_ascii=False) + "\n")
            elif result["action"] == "error":
                out.write(f"error: {result.get('error')}\n")
            else:
                out.write(f"{result['action']}  scenario={result.get('scenario')}  score={result.get('score')}  source={result.get('source')}  "
                          f"rule={result.get('rule')}  {result.get('latency_ms')} ms\n")
                if result.get("ocr_text"):
                    out.write(f"ocr: {result['ocr_text']}\n")
                if result.get("error"):
                    out.write(f"error: {result['error']}\n")
            return 1 if result["action"] == "error" else 0
        finally:
            await guard.aclose()

    return asyncio.run(main())
