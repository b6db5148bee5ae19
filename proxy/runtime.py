"""Everything the request handlers need, resolved once from the config at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from proxy.config import ModelRoute, ProxyConfig
from proxy.policy import Policy, load_policy


@dataclass(frozen=True)
class Runtime:
    config: ProxyConfig
    policies: dict[str, Policy]  # by client-facing model name
    api_keys: tuple[bytes, ...]
    secrets: tuple[str, ...]

    @classmethod
    def build(cls, config: ProxyConfig) -> "Runtime":
        """Load every policy the config names; a bad one stops start-up with its file and key."""
        base = Path(config.source).parent if not config.source.startswith("<") else None
        loaded: dict[str, Policy] = {}
        policies = {}
        for route in config.model_list:
            ref = route.policy or config.policy
            if ref not in loaded:
                loaded[ref] = load_policy(ref, base)
            policies[route.model_name] = loaded[ref]
        return cls(
            config=config,
            policies=policies,
            api_keys=tuple(k.get_secret_value().encode() for k in config.server.api_keys),
            secrets=tuple(config.secrets()),
        )

    def policy_for(self, route: ModelRoute) -> Policy:
        return self.policies[route.model_name]
