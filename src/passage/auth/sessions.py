"""Browser sessions: a random token in a cookie, only its sha256 in the store.

A stolen copy of the `sessions` table cannot be replayed. Each session carries
its own CSRF token, which forms echo back and `csrf_matches` checks.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from passage.auth.audit import audit, now
from passage.auth.principal import Principal
from passage.auth.users import get_principal, make_principal, user_scopes

SESSION_HOURS = 12


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
    return make_principal(user_name, role, user_scopes(store, user_name)), csrf


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


def end_user_sessions(store, user_name: str) -> int:
    """End every session of a user (disabled, or a new password); returns how many."""
    n = store.scalar("SELECT count(*) FROM sessions WHERE user_name = ?", [user_name])
    store.execute("DELETE FROM sessions WHERE user_name = ?", [user_name])
    return int(n or 0)
