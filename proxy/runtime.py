"""Everything the request handlers need, resolved once from the config at start-up."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path

from proxy.config import ModelRoute, ProxyConfig
from proxy.policy import Policy, PolicyError
from proxy.policy_store import PolicyStore


@dataclass(frozen=True)
class Runtime:
    config: ProxyConfig
    store: PolicyStore
    key_policies: tuple[tuple[bytes, str], ...]
    api_keys: tuple[bytes, ...]
    secrets: tuple[str, ...]

    @classmethod
    def build(cls, config: ProxyConfig) -> "Runtime":
        """Load every policy the config names; a bad one stops start-up with its file and key."""
        base = Path(config.source).parent if not config.source.startswith("<") else None
        store = PolicyStore(base)
        key_policies = tuple((k.key.get_secret_value().encode(), k.policy) for k in config.key_policies)
        runtime = cls(
            config=config,
            store=store,
            key_policies=key_policies,
            api_keys=tuple(k.get_secret_value().encode() for k in config.server.api_keys) + tuple(k for k, _ in key_policies),
            secrets=tuple(config.secrets()),
        )
        loaded: set[str] = set()
        for key, ref in runtime.policy_keys():
            if ref in loaded:
                continue
            try:
                store.load(ref)
            except PolicyError as err:  # what named it (a key of the config, or the environment), then the policy's own file, key and reason
                where = key if key.startswith("$") else f"{config.source}: {key}"
                raise PolicyError(f"{where}: {err}") from None
            loaded.add(ref)
        return runtime

    def policy_keys(self) -> list[tuple[str, str]]:
        """Every policy the config can select, with the config key that names it."""
        return [
            (self.config.policy_set_by, self.config.policy),
            *((f"model_list.{i}.policy", r.policy) for i, r in enumerate(self.config.model_list) if r.policy),
            *((f"key_policies.{i}.policy", ref) for i, (_, ref) in enumerate(self.key_policies)),
        ]

    def policy_refs(self) -> set[str]:
        """Every policy the config can select."""
        return {ref for _, ref in self.policy_keys()}

    def refresh_policies(self) -> None:
        """Check every policy file for a change now (each at most once per the store's interval)."""
        for ref in self.policy_refs():
            self.store.get(ref)

    def policy_ref(self, route: ModelRoute, token: bytes | None) -> str:
        """The key's policy, else the model's, else the default."""
        if token:
            for key, ref in self.key_policies:
                if hmac.compare_digest(token, key):
                    return ref
        return route.policy or self.config.policy

    def policy_for(self, route: ModelRoute, token: bytes | None = None) -> Policy:
        return self.store.get(self.policy_ref(route, token))
