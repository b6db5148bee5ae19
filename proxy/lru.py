"""A bounded, thread-safe least-recently-used map: the guard's caches of OCR results, features and scores.

The guard's worker threads read and fill these caches at once, so every
access holds a lock; the work that fills a miss runs outside it, so one slow
image or batch never stalls the lookups of another.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Generic, TypeVar

V = TypeVar("V")


class LRU(Generic[V]):
    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[str, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        return None

    def put(self, key: str, value: V) -> None:
        with self._lock:
            self._put(key, value)

    def get_many(self, keys: list[str], compute: Callable[[list[str]], list[V]]) -> list[V]:
        """Values for ``keys`` in order; the missing ones computed in one call, once each, and remembered."""
        known = [self.get(k) for k in keys]
        missing = list(dict.fromkeys(k for k, v in zip(keys, known) if v is None))
        fresh = dict(zip(missing, compute(missing))) if missing else {}
        with self._lock:
            for key, value in fresh.items():
                self._put(key, value)
        return [v if v is not None else fresh[k] for k, v in zip(keys, known)]

    def _put(self, key: str, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self._size:
            self._data.popitem(last=False)
