"""Sign-in rate limiting, kept in the store so it holds across processes and workers.

Failures are counted per key (`user:<name>`, `ip:<addr>`) within a sliding window.
Once a key has MAX_FAILURES failures in the window, further attempts are refused
before any password is checked, until the oldest of those failures leaves the window.
Refused attempts are not counted, so a lock-out ends WINDOW_MINUTES after the last
real failure at the latest.
"""

from __future__ import annotations

import math
from datetime import timedelta

from passage.auth.audit import now
from passage.errors import AuthError

WINDOW_MINUTES = 15
MAX_FAILURES = {"user": 5, "ip": 20}
KEY_LENGTH = 200  # keys come from whatever a client sends


def user_key(user_name: str) -> str:
    return f"user:{user_name}"[:KEY_LENGTH]


def ip_key(ip: str) -> str:
    return f"ip:{ip}"[:KEY_LENGTH]


def keys_for(user_name: str, ip: str | None) -> list[str]:
    return [user_key(user_name)] + ([ip_key(ip)] if ip else [])


def _limit(key: str) -> int:
    return MAX_FAILURES[key.split(":", 1)[0]]


def retry_after(store, key: str) -> int | None:
    """Seconds until `key` may try again; None when it may try now."""
    limit = _limit(key)
    current = now()
    window = timedelta(minutes=WINDOW_MINUTES)
    rows = store.query(
        "SELECT occurred_at FROM login_attempts WHERE key = ? AND NOT ok AND occurred_at > ? "
        "ORDER BY occurred_at DESC LIMIT ?", [key, current - window, limit])
    if len(rows) < limit:
        return None
    # The block lifts when the limit-th most recent failure leaves the window.
    wait = (rows[-1][0] + window - current).total_seconds()
    return max(1, math.ceil(wait))


def check(store, keys: list[str]) -> None:
    """Raise `auth.rate_limited` when any key has used up its failures."""
    waits = [w for w in (retry_after(store, k) for k in keys) if w is not None]
    if waits:
        wait = max(waits)
        raise AuthError(f"too many failed sign-ins; try again in {wait} seconds", code="auth.rate_limited",
                        retry_after=wait)


def record(store, keys: list[str], ok: bool) -> None:
    """Note an attempt; a success clears the failures of the `user:` key. Old rows are pruned."""
    current = now()
    with store.transaction():
        store.execute("DELETE FROM login_attempts WHERE occurred_at < ?",
                      [current - timedelta(minutes=WINDOW_MINUTES)])
        if ok:
            for key in keys:
                if key.startswith("user:"):
                    store.execute("DELETE FROM login_attempts WHERE key = ? AND NOT ok", [key])
        for key in keys:
            store.execute("INSERT INTO login_attempts (key, occurred_at, ok) VALUES (?, ?, ?)", [key, current, ok])


def clear(store, user_name: str) -> None:
    """Lift a user's lock-out (an administrator's reset, or a new password)."""
    store.execute("DELETE FROM login_attempts WHERE key = ? AND NOT ok", [user_key(user_name)])
