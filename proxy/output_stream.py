"""A streamed answer on its way to the client, through the output check its policy chose.

``off``: the chunks pass untouched. ``monitor``: the chunks pass at once,
their text is gathered, and the whole answer is read once its last byte is
out (a background task of the response), for the metrics and the log.

``block`` (``output.mode: block`` with ``stream: buffer``) holds text back:
per choice, a chunk is sent only once its text is at least ``window_chars``
characters behind the newest text a check has read and passed. A check reads
the newest window each time a quarter of a window of new text has arrived
(not on every chunk: one read costs milliseconds), and once more at the end.
A harmful window therefore never leaves the proxy: the stream ends with a
chunk whose ``finish_reason`` is ``content_filter``, carrying the policy's
block message, then ``[DONE]``; in the ``error`` block style it ends with an
error event instead, the status line being long gone. At the end of a clean
stream the held-back chunks follow, so a benign stream arrives exactly as the
upstream sent it, at most a window later. Chunks without text (the role
chunk, tool calls, finish and usage chunks) keep their place in the order.
Sending tokens first and checking them afterwards, as some guard frameworks
do by default, can only report what the client already has.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any, AsyncGenerator

from starlette.background import BackgroundTask

from proxy import refusal
from proxy.observe import Exchange
from proxy.output_check import OutputCheck, OutputVerdict, Reading, windows

Chunk = dict[str, Any]


@dataclass
class _Choice:
    text: str = ""
    checked: int = 0  # how much of the text checks have read and passed
    sent: int = 0  # how much of it the client has
    refused: bool = False


def _texts(chunk: Chunk) -> list[tuple[int, str]]:
    """(choice index, text) of every choice in the chunk that carries text."""
    found = []
    for choice in chunk.get("choices") or []:
        content = (choice.get("delta") or {}).get("content") if isinstance(choice, dict) else None
        if isinstance(content, str) and content:
            found.append((int(choice.get("index") or 0), content))
    return found


class AnswerStream:
    """The upstream's chunks, relayed under ``check``; the verdict is noted on ``exchange``."""

    def __init__(self, chunks: AsyncGenerator[Chunk, None], check: OutputCheck, exchange: Exchange) -> None:
        self._chunks = chunks
        self.check = check
        self.exchange = exchange
        self.window = check.window
        self.step = max(1, check.window // 4)
        self.choices: dict[int, _Choice] = {}
        self._reading = Reading()
        self._open = False  # the classifier failed under fail_mode open: the rest passes unread

    def relay(self) -> AsyncGenerator[Chunk, None]:
        """The chunks the client gets, in order."""
        if self.check.plan == "block":
            return self._buffered()
        if self.check.plan == "monitor":
            return self._gathered()
        return self._chunks

    def background(self) -> BackgroundTask | None:
        """In monitor mode, the reading of the whole answer, to run after its last byte is sent."""
        return BackgroundTask(self._judge) if self.check.plan == "monitor" else None

    def _add(self, chunk: Chunk) -> dict[int, int]:
        """Note the chunk's text; for each choice it carries text for, where that text ends."""
        ends = {}
        for index, text in _texts(chunk):
            choice = self.choices.setdefault(index, _Choice())
            choice.text += text
            ends[index] = len(choice.text)
        return ends

    async def _gathered(self) -> AsyncGenerator[Chunk, None]:
        async for chunk in self._chunks:
            self._add(chunk)
            yield chunk

    async def _judge(self) -> None:
        texts = [c.text for c in self.choices.values() if c.text.strip()]
        if texts:
            self.exchange.output = await self.check.judge(texts)

    async def _buffered(self) -> AsyncGenerator[Chunk, None]:
        held: deque[tuple[Chunk, dict[int, int]]] = deque()
        last: Chunk = {}
        try:
            async for chunk in self._chunks:
                last = chunk
                held.append((chunk, self._add(chunk)))
                if not await self._read(self.step):
                    yield self._stop(last)
                    return
                while held and self._releasable(held[0][1]):
                    chunk, ends = held.popleft()
                    for index, end in ends.items():
                        self.choices[index].sent = end
                    yield chunk
            if not await self._read(1):
                yield self._stop(last)
                return
            while held:
                yield held.popleft()[0]
        finally:
            if any(c.text.strip() for c in self.choices.values()):
                self.exchange.output = self._verdict()

    async def _read(self, least: int) -> bool:
        """Read every choice with at least ``least`` unread characters; False when the stream must stop here."""
        due = [c for c in self.choices.values() if not c.refused and len(c.text) - c.checked >= least]
        if self._open or not due:
            return True
        texts = []
        for choice in due:
            choice.refused = self.check.refuses(choice.text)
            if not choice.refused:
                texts += windows(choice.text, self.window, choice.checked)
        await self.check.read(self._reading, texts)
        if self._verdict().taken == "blocked":
            return False
        self._open = self._reading.error is not None
        for choice in due:
            choice.checked = len(choice.text)
        return True

    def _releasable(self, ends: dict[int, int]) -> bool:
        return self._open or all(self.choices[i].refused or end <= self.choices[i].checked - self.window for i, end in ends.items())

    def _verdict(self) -> OutputVerdict:
        texted = [c for c in self.choices.values() if c.text.strip()]
        return self.check.verdict(self._reading, refused=bool(texted) and all(c.refused for c in texted))

    def _stop(self, last: Chunk) -> Chunk:
        """The stream's last chunk once a window turned harmful; in the error block style, the error instead."""
        block = self.check.policy.block
        if refusal.is_error_style(block):
            raise refusal.policy_violation(self._verdict().scenario, answer=True)
        choices = []
        for index, choice in sorted(self.choices.items()):
            delta = {"content": f"\n\n{block.message}"} if choice.sent else {"role": "assistant", "content": block.message}
            choices.append({"index": index, "delta": delta, "finish_reason": "content_filter"})
        return {
            "id": last.get("id") or "chatcmpl-mmguard",
            "object": "chat.completion.chunk",
            "created": last.get("created") or int(time.time()),
            "model": last.get("model") or "",
            "choices": choices,
        }
