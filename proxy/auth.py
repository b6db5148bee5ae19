"""Optional bearer-key authentication for the proxy's own API.

Keys are compared in constant time, and every configured key is compared, so
neither the timing nor the order of the key list tells an attacker anything.
"""

from __future__ import annotations

import hmac
from typing import Sequence

from proxy.errors import unauthorized


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def check_key(authorization: str | None, keys: Sequence[bytes]) -> None:
    """Raise 401 unless ``authorization`` carries one of ``keys``; no keys means the proxy is open."""
    if not keys:
        return
    token = (bearer_token(authorization) or "").encode()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(token, key)
    if not matched:
        raise unauthorized()
