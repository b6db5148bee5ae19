"""Policies by reference, picked up again when their file changes: no restart to tighten a threshold.

A changed file that no longer validates does not replace the policy in force;
the error is logged with file, key and reason, and the old policy keeps
guarding. Files are checked at most once per ``check_interval_s``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from proxy.policy import Policy, PolicyError, load_policy_file, resolve_policy_path

log = logging.getLogger("mmguard.policy")


@dataclass
class _Entry:
    policy: Policy
    mtime_ns: int
    checked: float
    missing: bool = False  # the file was gone at the last check: said once, not at every check


class PolicyStore:
    def __init__(self, relative_to: Path | None = None, check_interval_s: float = 1.0) -> None:
        self._relative_to = relative_to
        self._interval = check_interval_s
        self._entries: dict[Path, _Entry] = {}
        self._paths: dict[str, Path] = {}
        self._lock = threading.Lock()

    def _path(self, ref: str) -> Path:
        if ref not in self._paths:
            self._paths[ref] = resolve_policy_path(ref, self._relative_to)
        return self._paths[ref]

    def load(self, ref: str) -> Policy:
        """Load now, raising PolicyError: for start-up, where a bad policy must stop the proxy."""
        path = self._path(ref)
        policy = load_policy_file(path)
        with self._lock:
            self._entries[path] = _Entry(policy, path.stat().st_mtime_ns, time.monotonic())
        return policy

    def get(self, ref: str) -> Policy:
        """The policy in force for ``ref``, reloaded if its file changed and still validates."""
        path = self._path(ref)
        entry = self._entries.get(path)
        if entry is None:
            return self.load(ref)
        now = time.monotonic()
        if now - entry.checked < self._interval:
            return entry.policy
        with self._lock:
            entry.checked = now
            try:
                mtime = path.stat().st_mtime_ns
            except OSError:
                if not entry.missing:
                    log.error("policy file %s is gone; keeping the policy in force until it is back", path)
                entry.missing = True
                return entry.policy
            entry.missing = False
            if mtime != entry.mtime_ns:
                entry.mtime_ns = mtime
                try:
                    entry.policy = load_policy_file(path)
                    log.warning("policy %s reloaded from %s", entry.policy.name, path)
                except PolicyError as err:
                    log.error("policy file changed but is invalid; keeping the policy in force:\n%s", err)
            return entry.policy
