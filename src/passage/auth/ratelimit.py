"""Sign-in throttling, kept in the store so it holds across processes and workers.

Only failed sign-ins count, under two kinds of key:

- **one user at one address** (`user:<name>|ip:<address>`): the first `free_failures` failures cost
  nothing (typos); after that every attempt waits `base_delay × 2^(failures − free_failures)` seconds
  after the last failure, at most `max_delay`. A success from that address, a new password or an
  administrator's unlock clears it; failures older than `pair_window` are forgotten. Someone guessing one
  account from one address slows down exponentially, and the account's owner signing in from any other
  address is not held up at all.
- **one address** (`ip:<address>`): a high ceiling, `address_max_failures` failures within
  `address_window`, against one address trying many names. Refusal lifts when the oldest counted failure
  leaves the window.

Refused attempts are not counted, so hammering during a wait does not lengthen it. A refusal is
`AuthError("auth.rate_limited")` with `retry_after` in seconds, which the web answers as 429 with a
`Retry-After` header. Pass another `Policy` to change the numbers (tests use short ones).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from passage.auth.audit import now
from passage.errors import AuthError

KEY_LENGTH = 200  # keys come from whatever a client sends


@dataclass(frozen=True)
class Policy:
    free_failures: int = 5
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    pair_window: timedelta = timedelta(hours=24)
    address_max_failures: int = 100
    address_window: timedelta = timedelta(minutes=15)

    def delay(self, failures: int) -> timedelta:
        """How long to wait after the last of `failures` failures of one user at one address."""
        if failures < self.free_failures:
            return timedelta(0)
        steps = failures - self.free_failures
        if steps >= 40:  # 2**40 × any sensible base is past any ceiling
            return self.max_delay
        return min(self.base_delay * (2 ** steps), self.max_delay)


POLICY = Policy()


def pair_key(user_name: str, ip: str | None) -> str:
    return f"user:{user_name}|ip:{ip or ''}"[:KEY_LENGTH]


def ip_key(ip: str) -> str:
    return f"ip:{ip}"[:KEY_LENGTH]


def _user_prefix(user_name: str) -> str:
    return f"user:{user_name}|"


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


def pair_retry_after(store, user_name: str, ip: str | None, *, policy: Policy = POLICY,
                     at: datetime | None = None) -> int | None:
    """Seconds until this user may try again from this address; None when they may try now."""
    current = at or now()
    failures, last = store.query(
        "SELECT count(*), max(occurred_at) FROM login_attempts WHERE key = ? AND NOT ok AND occurred_at > ?",
        [pair_key(user_name, ip), current - policy.pair_window])[0]
    if not failures:
        return None
    wait = last + policy.delay(int(failures)) - current
    return _seconds(wait) if wait > timedelta(0) else None


def address_retry_after(store, ip: str | None, *, policy: Policy = POLICY, at: datetime | None = None) -> int | None:
    """Seconds until this address may try again (its ceiling); None when it may try now."""
    if not ip:
        return None
    current = at or now()
    limit = policy.address_max_failures
    rows = store.query(
        "SELECT occurred_at FROM login_attempts WHERE key = ? AND NOT ok AND occurred_at > ? "
        "ORDER BY occurred_at DESC LIMIT ?", [ip_key(ip), current - policy.address_window, limit])
    if len(rows) < limit:
        return None
    # The ceiling lifts when the limit-th most recent failure leaves the window.
    return _seconds(rows[-1][0] + policy.address_window - current)


def check(store, user_name: str, ip: str | None, *, policy: Policy = POLICY) -> None:
    """Raise `auth.rate_limited` (with `retry_after`) when this user at this address, or the address, must wait."""
    current = now()
    waits = [w for w in (pair_retry_after(store, user_name, ip, policy=policy, at=current),
                         address_retry_after(store, ip, policy=policy, at=current)) if w is not None]
    if waits:
        wait = max(waits)
        raise AuthError(f"too many failed sign-ins; try again in {wait} seconds", code="auth.rate_limited",
                        retry_after=wait)


def record(store, user_name: str, ip: str | None, ok: bool, *, policy: Policy = POLICY) -> None:
    """Note an attempt: a failure counts for the user at this address and for the address; a success clears
    the user's failures at this address. Rows older than either window are pruned."""
    current = now()
    with store.transaction():
        store.execute("DELETE FROM login_attempts WHERE occurred_at < ?",
                      [current - max(policy.pair_window, policy.address_window)])
        if ok:
            store.execute("DELETE FROM login_attempts WHERE key = ? AND NOT ok", [pair_key(user_name, ip)])
            return
        for key in [pair_key(user_name, ip)] + ([ip_key(ip)] if ip else []):
            store.execute("INSERT INTO login_attempts (key, occurred_at, ok) VALUES (?, ?, false)", [key, current])


def clear(store, user_name: str) -> int:
    """Forget a user's failures at every address (an administrator's unlock, or a new password); returns
    how many were forgotten. The addresses' own counts stay: they are about the address, not the user."""
    prefix = _user_prefix(user_name)
    where = "NOT ok AND (key = ? OR substr(key, 1, ?) = ?)"
    params = [f"user:{user_name}", len(prefix), prefix]  # `user:<name>` alone: stores from before addresses
    n = store.scalar(f"SELECT count(*) FROM login_attempts WHERE {where}", params)
    store.execute(f"DELETE FROM login_attempts WHERE {where}", params)
    return int(n or 0)


def failures_by_user(store, *, policy: Policy = POLICY) -> dict[str, dict]:
    """Users with counted failures: {name: {"failures", "addresses", "last_failure"}} (for the admin page)."""
    rows = store.query(
        "SELECT key, count(*), max(occurred_at) FROM login_attempts WHERE NOT ok AND occurred_at > ? "
        "AND substr(key, 1, 5) = 'user:' GROUP BY key", [now() - policy.pair_window])
    out: dict[str, dict] = {}
    for key, n, last in rows:
        name = key[5:].split("|ip:", 1)[0]
        entry = out.setdefault(name, {"failures": 0, "addresses": 0, "last_failure": last})
        entry["failures"] += int(n)
        entry["addresses"] += 1
        entry["last_failure"] = max(entry["last_failure"], last)
    return out
