"""The guard pipeline: what the proxy does to a request before the model sees it.

It is a function from (request, route, policy) to an outcome: the decision,
the messages to send upstream, and which defenses were applied. Keeping it free
of HTTP makes it the one code path behind the proxy, ``mmguard check`` and the
benchmark's single-defense arms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from proxy.config import ModelRoute
from proxy.policy import Policy
from proxy.request import ChatRequest
from proxy.safety_prompt import apply_safety_prompt

Decision = Literal["allow", "annotate", "block"]


@dataclass(frozen=True)
class GuardOutcome:
    decision: Decision
    policy: str
    messages: list[dict[str, Any]]
    defenses: tuple[str, ...] = field(default=())


def guard_request(request: ChatRequest, route: ModelRoute, policy: Policy) -> GuardOutcome:
    messages = request.messages_as_dicts()
    defenses: list[str] = []
    if policy.safety_prompt.enabled:
        messages = apply_safety_prompt(messages, policy.safety_prompt.text, route.safety_prompt_placement)
        defenses.append("safety_prompt")
    return GuardOutcome("allow", policy.name, messages, tuple(defenses))
