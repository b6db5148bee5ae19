"""What one upstream call needs, decided by the proxy before it is made."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proxy.config import ModelRoute


@dataclass(frozen=True)
class UpstreamCall:
    route: ModelRoute
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    timeout_s: float
