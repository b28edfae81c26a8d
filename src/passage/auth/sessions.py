"""Browser sessions: a random token in a cookie, only its sha256 in the store.

A stolen copy of the `sessions` table cannot be replayed. Each session carries
its own CSRF token, which forms echo back and `csrf_matches` checks.

`kept_session_principal` (the portal's) reuses a checked session's principal and CSRF token for
`PRINCIPAL_SECONDS` in this process, as `passage.auth.tokens` does for tokens: signing out, ending a user's
sessions (disabled, a new password) and changing their role or places forget it at once in this process;
other processes see such a change within that time. `session_principal` itself always asks the store.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from passage.auth.audit import audit, now
from passage.auth.kept import Kept
from passage.auth.principal import Principal
from passage.auth.users import get_principal, make_principal, user_scopes

SESSION_HOURS = 12
PRINCIPAL_SECONDS = 10.0  # how long a checked session's principal is reused in this process
_kept = Kept()  # (store, session hash) -> (principal, CSRF token)


def forget_sessions(user_name: str | None = None) -> None:
    """Forget the principals kept for `user_name`'s sessions (everyone's with None): they are checked against
    the store again on their next use."""
    _kept.forget(user_name)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_session(store, user_name: str, *, ip: str | None = None) -> tuple[str, str]:
    """Start a session for an enabled user: (token for the cookie, CSRF token). Prunes expired sessions."""
    get_principal(store, user_name)  # NotFound / auth.disabled
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    created = now()
    with store.transaction():
        store.execute("DELETE FROM sessions WHERE expires_at <= ?", [created])
        store.execute(
            "INSERT INTO sessions (session_hash, user_name, csrf_token, created_at, expires_at, ip) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [_hash(token), user_name, csrf, created, created + timedelta(hours=SESSION_HOURS), ip])
    return token, csrf


def session_principal(store, token: str) -> tuple[Principal, str] | None:
    """(principal, CSRF token) for a live session; None if unknown, expired (then deleted) or the user is disabled."""
    if not token or not isinstance(token, str):
        return None
    session_hash = _hash(token)
    rows = store.query(
        "SELECT s.user_name, s.csrf_token, s.expires_at, u.role, u.disabled FROM sessions s "
        "JOIN users u ON u.user_name = s.user_name WHERE s.session_hash = ?", [session_hash])
    if not rows:
        return None
    user_name, csrf, expires_at, role, disabled = rows[0]
    if expires_at <= now():
        store.execute("DELETE FROM sessions WHERE session_hash = ?", [session_hash])
        return None
    if disabled:
        return None
    principal = make_principal(user_name, role, user_scopes(store, user_name))
    _kept.keep(store.url, session_hash, (principal, csrf), user_name,
               min(PRINCIPAL_SECONDS, (expires_at - now()).total_seconds()))
    return principal, csrf


def known_session_principal(store_url: str, token: str) -> tuple[Principal, str] | None:
    """(principal, CSRF token) of a session checked on the store at `store_url` less than `PRINCIPAL_SECONDS`
    ago (and not forgotten since), without asking the store; None when there is none."""
    if not token or not isinstance(token, str):
        return None
    return _kept.get(store_url, _hash(token))


def kept_session_principal(store, token: str) -> tuple[Principal, str] | None:
    """`session_principal`, reusing what a session checked less than `PRINCIPAL_SECONDS` ago resolved to."""
    return known_session_principal(store.url, token) or session_principal(store, token)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of a session's CSRF token with the one a form sent."""
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected).encode(), str(given).encode())


def end_session(store, token: str, *, ip: str | None = None) -> None:
    """Sign out: forget the session (unknown tokens are ignored)."""
    if not token or not isinstance(token, str):
        return
    session_hash = _hash(token)
    with store.transaction():
        user_name = store.scalar("SELECT user_name FROM sessions WHERE session_hash = ?", [session_hash])
        if user_name is None:
            return
        store.execute("DELETE FROM sessions WHERE session_hash = ?", [session_hash])
        audit(store, user_name, "auth.sign_out", target=user_name, ip=ip)
    _kept.forget(digest=session_hash)


def end_user_sessions(store, user_name: str) -> int:
    """End every session of a user (disabled, or a new password); returns how many."""
    n = store.scalar("SELECT count(*) FROM sessions WHERE user_name = ?", [user_name])
    store.execute("DELETE FROM sessions WHERE user_name = ?", [user_name])
    forget_sessions(user_name)
    return int(n or 0)
