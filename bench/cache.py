"""A disk cache of answers, keyed by the arm (target, route, guard fingerprint and build) and the exact messages.

Shared by every run on the machine (``$XDG_CACHE_HOME/mmguard/bench.sqlite``
by default), so a new run over cases another run already asked, or a rerun
after the report code changed, costs no model calls. An answer from the cache
is marked ``cached`` so latency figures come only from calls made in this run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from bench.targets import Reply


def default_path() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "mmguard" / "bench.sqlite"


def messages_digest(messages: list[dict[str, Any]]) -> str:
    """The exact messages, hashed once per case (they hold whole images) and shared by every arm's key."""
    return hashlib.sha256(json.dumps(messages, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def key(fingerprint: str, digest: str) -> str:
    return hashlib.sha256(f"{fingerprint}\0{digest}".encode()).hexdigest()


class ResponseCache:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, reply TEXT NOT NULL)")
        self.hits = self.misses = 0

    def get(self, cache_key: str) -> Reply | None:
        row = self._db.execute("SELECT reply FROM replies WHERE key = ?", (cache_key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return Reply(**json.loads(row[0]))

    def put(self, cache_key: str, reply: Reply) -> None:
        self._db.execute("INSERT OR REPLACE INTO replies (key, reply) VALUES (?, ?)", (cache_key, json.dumps(dataclasses.asdict(reply))))

    def close(self) -> None:
        self._db.close()
