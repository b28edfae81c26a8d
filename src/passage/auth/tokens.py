"""API tokens for scripts: `psg_<token_id>_<secret>`, shown once, stored as sha256.

The token ID is public (it appears in listings and the audit log) and finds the row;
the whole string's hash proves possession. A token acts as its user, with the
user's current role and scopes. It ends for good when it is revoked, when it expires
(`DEFAULT_DAYS` after creation unless the store's default or the creator says otherwise,
at most `MAX_DAYS`), and when its user's password changes or the user is disabled.
Only a signed-in session may create one (the web refuses bearer tokens there).

`kept_token_principal` (the portal's) reuses a checked token's principal for `PRINCIPAL_SECONDS` in this
process (a busy script's requests then cost no statement each); revoking, a new password, disabling the
user or changing their role or places forgets it at once in this process, and other processes see such a
change within that time. `token_principal` itself always asks the store.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from passage.auth.audit import audit, now
from passage.auth.kept import Kept
from passage.auth.principal import Principal
from passage.auth.users import get_principal, make_principal, require_user, user_scopes
from passage.errors import NotFound, UsageError

PREFIX = "psg"
LAST_USED_EVERY = timedelta(minutes=1)  # fewer writes on busy scripts
NAME_LENGTH = 100
DEFAULT_DAYS = 90  # a token's lifetime when neither its creator nor the store says otherwise
MAX_DAYS = 365
DAYS_SETTING = "token_days"  # passage_meta key of the store's default lifetime
PRINCIPAL_SECONDS = 10.0  # how long a checked token's principal is reused in this process
_kept = Kept()  # (store, token hash) -> principal


def forget_tokens(user_name: str | None = None) -> None:
    """Forget the principals kept for `user_name`'s tokens (everyone's with None): they are checked against
    the store again on their next use."""
    _kept.forget(user_name)


def _check_days(days) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise UsageError(f"a token lives 1 to {MAX_DAYS} days, not {days!r}", code="auth.bad_token_days")
    return days


def default_token_days(store) -> int:
    """How many days a new token lives when its creator does not say: the store's setting, else DEFAULT_DAYS."""
    value = store.scalar("SELECT value FROM passage_meta WHERE key = ?", [DAYS_SETTING])
    try:
        return _check_days(int(value)) if value is not None else DEFAULT_DAYS
    except (ValueError, UsageError):
        return DEFAULT_DAYS


def set_default_token_days(store, days: int, *, principal: Principal | None = None) -> None:
    """Set the store's default token lifetime (1 to MAX_DAYS days; admins); tokens made before keep their
    expiry."""
    from passage.access import STORE, acting

    actor = acting(principal, "administer", STORE).user_name
    days = _check_days(days)
    with store.transaction():
        old = default_token_days(store)
        store.execute("DELETE FROM passage_meta WHERE key = ?", [DAYS_SETTING])
        store.execute("INSERT INTO passage_meta (key, value) VALUES (?, ?)", [DAYS_SETTING, str(days)])
        if old != days:
            audit(store, actor, "settings.token_days", detail={"from": old, "to": days})


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(store, user_name: str, name: str, *, days: int | None = None,
                 principal: Principal | None = None) -> tuple[str, str]:
    """A new token: (token_id, the secret to show once), expiring after `days` (default: the store's).
    Users make their own tokens, admins anyone's (`principal=None`: the store's operator).

    NotFound for an unknown user; AuthError `auth.disabled` for a disabled one.
    """
    actor = _managing(principal, user_name)
    name = (name or "").strip()
    if not name or len(name) > NAME_LENGTH:
        raise UsageError(f"a token needs a name of 1-{NAME_LENGTH} characters (e.g. 'laptop')",
                         code="auth.bad_token_name")
    token_id = secrets.token_hex(8)
    secret = f"{PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
    with store.transaction():
        get_principal(store, user_name)  # NotFound / auth.disabled
        days = _check_days(days) if days is not None else default_token_days(store)
        created = now()
        store.execute(
            "INSERT INTO api_tokens (token_id, user_name, name, token_hash, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [token_id, user_name, name, _hash(secret), created, created + timedelta(days=days)])
        audit(store, actor, "token.create", target=user_name,
              detail={"token_id": token_id, "name": name, "days": days})
    return token_id, secret


def _managing(principal: Principal | None, user_name: str) -> str | None:
    """The name audited for a change to `user_name`'s tokens, once `principal` may make it."""
    from passage.access import Account, acting

    return acting(principal, "manage-tokens", Account(user_name)).user_name


def _status(revoked_at, expires_at, current) -> str:
    if revoked_at is not None:
        return "revoked"
    return "expired" if expires_at <= current else "active"


def list_tokens(store, user_name: str) -> list[dict]:
    """A user's tokens, oldest first, revoked and expired ones included (never the hash), each with
    `expires_at` and `status` (active, expired or revoked)."""
    require_user(store, user_name)
    names, rows = store.columns(
        "SELECT token_id, name, created_at, expires_at, last_used_at, revoked_at FROM api_tokens "
        "WHERE user_name = ? ORDER BY created_at, token_id", [user_name])
    current = now()
    out = []
    for row in rows:
        token = dict(zip(names, row))
        token["status"] = _status(token["revoked_at"], token["expires_at"], current)
        out.append(token)
    return out


def all_tokens(store, *, user_name: str | None = None, status: str | None = None,
               principal: Principal | None = None) -> list[dict]:
    """Every user's tokens (admins), newest first, each with `user_name` and `status` (never the hash);
    `user_name` and `status` (active, expired, revoked) narrow the list."""
    from passage.auth.users import _administer

    _administer(principal)
    if status is not None and status not in ("active", "expired", "revoked"):
        raise UsageError("status must be one of active, expired, revoked", code="usage.option")
    where, params = ("WHERE user_name = ? ", [user_name]) if user_name else ("", [])
    names, rows = store.columns(
        "SELECT token_id, user_name, name, created_at, expires_at, last_used_at, revoked_at FROM api_tokens "
        f"{where}ORDER BY created_at DESC, token_id", params)
    current = now()
    out = []
    for row in rows:
        token = dict(zip(names, row))
        token["status"] = _status(token["revoked_at"], token["expires_at"], current)
        if status is None or token["status"] == status:
            out.append(token)
    return out


def revoke_token(store, user_name: str, token_id: str, *, principal: Principal | None = None) -> None:
    """Revoke for good (the token's user, admins). NotFound if the user has no such token; revoking twice
    changes nothing."""
    actor = _managing(principal, user_name)
    with store.transaction():
        rows = store.query("SELECT revoked_at FROM api_tokens WHERE token_id = ? AND user_name = ?",
                           [token_id, user_name])
        if not rows:
            raise NotFound(f"user {user_name!r} has no token {token_id!r}")
        if rows[0][0] is not None:
            return
        store.execute("UPDATE api_tokens SET revoked_at = ? WHERE token_id = ?", [now(), token_id])
        audit(store, actor, "token.revoke", target=user_name, detail={"token_id": token_id})
    forget_tokens(user_name)


def revoke_user_tokens(store, user_name: str, *, reason: str, principal: Principal | None = None) -> int:
    """Revoke every live token of a user (a new password, a disabled account); each is audited as
    `token.revoke` with the reason. Returns how many."""
    actor = _managing(principal, user_name)
    current = now()
    with store.transaction():
        ids = [r[0] for r in store.query(
            "SELECT token_id FROM api_tokens WHERE user_name = ? AND revoked_at IS NULL AND expires_at > ? "
            "ORDER BY token_id", [user_name, current])]
        for token_id in ids:
            store.execute("UPDATE api_tokens SET revoked_at = ? WHERE token_id = ?", [current, token_id])
            audit(store, actor, "token.revoke", target=user_name, detail={"token_id": token_id, "reason": reason})
    forget_tokens(user_name)
    return len(ids)


def parse_token(bearer_secret: str) -> str | None:
    """The token ID of a well-formed `psg_<id>_<secret>`, else None."""
    if not isinstance(bearer_secret, str):
        return None
    parts = bearer_secret.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def token_principal(store, bearer_secret: str) -> Principal | None:
    """The principal a bearer token acts as; None if malformed, unknown, revoked, expired, or its user is disabled."""
    token_id = parse_token(bearer_secret)
    if token_id is None:
        return None
    digest = _hash(bearer_secret.strip())
    current = now()
    rows = store.query(
        "SELECT t.token_hash, t.last_used_at, u.user_name, u.role, t.expires_at FROM api_tokens t "
        "JOIN users u ON u.user_name = t.user_name "
        "WHERE t.token_id = ? AND t.revoked_at IS NULL AND t.expires_at > ? AND NOT u.disabled",
        [token_id, current])
    if not rows:
        return None
    token_hash, last_used_at, user_name, role, expires_at = rows[0]
    if not hmac.compare_digest(token_hash.encode(), digest.encode()):
        return None
    if last_used_at is None or current - last_used_at >= LAST_USED_EVERY:
        try:
            store.execute("UPDATE api_tokens SET last_used_at = ? WHERE token_id = ?", [current, token_id])
        except Exception:  # noqa: BLE001 - a parallel request with the same token wrote it first; bookkeeping only
            pass
    principal = make_principal(user_name, role, user_scopes(store, user_name))
    _kept.keep(store.url, digest, principal, user_name, min(PRINCIPAL_SECONDS, (expires_at - current).total_seconds()))
    return principal


def known_token_principal(store_url: str, bearer_secret: str) -> Principal | None:
    """The principal of a token checked on the store at `store_url` less than `PRINCIPAL_SECONDS` ago (and not
    forgotten since: `forget_tokens`), without asking the store; None when there is none."""
    if parse_token(bearer_secret) is None:
        return None
    return _kept.get(store_url, _hash(bearer_secret.strip()))


def kept_token_principal(store, bearer_secret: str) -> Principal | None:
    """`token_principal`, reusing the principal of a token checked less than `PRINCIPAL_SECONDS` ago."""
    return known_token_principal(store.url, bearer_secret) or token_principal(store, bearer_secret)
