"""API tokens for scripts: `psg_<token_id>_<secret>`, shown once, stored as sha256.

The token ID is public (it appears in listings and the audit log) and finds the row;
the whole string's hash proves possession. A token acts as its user, with the
user's current role and scopes; it stops working when revoked or the user is disabled.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from passage.auth.audit import audit, now
from passage.auth.principal import Principal
from passage.auth.users import make_principal, require_user, user_scopes
from passage.errors import NotFound, UsageError

PREFIX = "psg"
LAST_USED_EVERY = timedelta(minutes=1)  # fewer writes on busy scripts
NAME_LENGTH = 100


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(store, user_name: str, name: str, *, actor: str | None = None) -> tuple[str, str]:
    """A new token: (token_id, the secret to show once). NotFound for an unknown user."""
    name = (name or "").strip()
    if not name or len(name) > NAME_LENGTH:
        raise UsageError(f"a token needs a name of 1-{NAME_LENGTH} characters (e.g. 'laptop')",
                         code="auth.bad_token_name")
    token_id = secrets.token_hex(8)
    secret = f"{PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
    with store.transaction():
        require_user(store, user_name)
        store.execute(
            "INSERT INTO api_tokens (token_id, user_name, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
            [token_id, user_name, name, _hash(secret), now()])
        audit(store, actor, "token.create", target=user_name, detail={"token_id": token_id, "name": name})
    return token_id, secret


def list_tokens(store, user_name: str) -> list[dict]:
    """A user's tokens, oldest first, revoked ones included (never the hash)."""
    require_user(store, user_name)
    names, rows = store.columns(
        "SELECT token_id, name, created_at, last_used_at, revoked_at FROM api_tokens WHERE user_name = ? "
        "ORDER BY created_at, token_id", [user_name])
    return [dict(zip(names, r)) for r in rows]


def revoke_token(store, user_name: str, token_id: str, *, actor: str | None = None) -> None:
    """Revoke for good. NotFound if the user has no such token; revoking twice changes nothing."""
    with store.transaction():
        rows = store.query("SELECT revoked_at FROM api_tokens WHERE token_id = ? AND user_name = ?",
                           [token_id, user_name])
        if not rows:
            raise NotFound(f"user {user_name!r} has no token {token_id!r}")
        if rows[0][0] is not None:
            return
        store.execute("UPDATE api_tokens SET revoked_at = ? WHERE token_id = ?", [now(), token_id])
        audit(store, actor, "token.revoke", target=user_name, detail={"token_id": token_id})


def parse_token(bearer_secret: str) -> str | None:
    """The token ID of a well-formed `psg_<id>_<secret>`, else None."""
    if not isinstance(bearer_secret, str):
        return None
    parts = bearer_secret.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def token_principal(store, bearer_secret: str) -> Principal | None:
    """The principal a bearer token acts as; None if malformed, unknown, revoked, or its user is disabled."""
    token_id = parse_token(bearer_secret)
    if token_id is None:
        return None
    rows = store.query(
        "SELECT t.token_hash, t.last_used_at, u.user_name, u.role FROM api_tokens t "
        "JOIN users u ON u.user_name = t.user_name "
        "WHERE t.token_id = ? AND t.revoked_at IS NULL AND NOT u.disabled", [token_id])
    if not rows:
        return None
    token_hash, last_used_at, user_name, role = rows[0]
    if not hmac.compare_digest(token_hash.encode(), _hash(bearer_secret.strip()).encode()):
        return None
    current = now()
    if last_used_at is None or current - last_used_at >= LAST_USED_EVERY:
        try:
            store.execute("UPDATE api_tokens SET last_used_at = ? WHERE token_id = ?", [current, token_id])
        except Exception:  # noqa: BLE001 - a parallel request with the same token wrote it first; bookkeeping only
            pass
    return make_principal(user_name, role, user_scopes(store, user_name))
