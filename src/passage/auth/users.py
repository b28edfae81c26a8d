"""Users: names, roles, place scopes, passwords; signing in.

Every change is audited in the same transaction as the change itself. Roles:
`admin` (everything, no scopes), `editor` (changes data within its scopes),
`viewer` (sees unpublished data within its scopes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from passage.auth import ratelimit
from passage.auth.audit import audit, now
from passage.auth.passwords import (
    burn_verify_time,
    hash_password,
    needs_rehash,
    rehash_password,
    verify_password,
)
from passage.auth.principal import OPERATOR_NAME, ROLES, Principal
from passage.errors import AuthError, NotFound, UsageError

USER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TEXT_LENGTH = 200


def check_user_name(user_name: str) -> str:
    if not isinstance(user_name, str) or not USER_NAME.match(user_name):
        raise UsageError(f"bad user name {user_name!r}: 2-64 characters of a-z, 0-9, '.', '_', '-', "
                         "starting with a letter or digit", code="auth.bad_user_name")
    if user_name == OPERATOR_NAME:
        raise UsageError(f"{OPERATOR_NAME!r} is the name the audit log gives the store's operator (the CLI "
                         "without --user): choose another", code="auth.bad_user_name")
    return user_name


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise UsageError(f"unknown role {role!r}; one of: {', '.join(ROLES)}", code="auth.bad_role")
    return role


def _scopes(store, role: str, scopes: Iterable[str]) -> list[str]:
    """Scopes normalised, checked against `places`, and consistent with the role."""
    codes = sorted({str(s).strip().upper() for s in scopes if str(s).strip()})
    if role == "admin":
        if codes:
            raise UsageError("admins cover every place: give no scopes", code="auth.admin_scopes")
        return []
    if not codes:
        raise UsageError(f"a {role} needs at least one scope (an ISO3 country or a P-code)", code="auth.no_scope")
    from passage.places.bundled import ensure_places

    ensure_places(store)  # a new store's first editor may come before its first import
    marks = ", ".join("?" for _ in codes)
    known = {r[0] for r in store.query(f"SELECT code FROM places WHERE code IN ({marks})", codes)}
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise NotFound(f"unknown place code(s): {', '.join(unknown)}")
    return codes


def _text(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > TEXT_LENGTH:
        raise UsageError(f"{what} is longer than {TEXT_LENGTH} characters", code="auth.bad_value")
    return value or None


def _email(value: str | None) -> str | None:
    value = _text(value, "email")
    if value is not None and not EMAIL.match(value):
        raise UsageError(f"not an email address: {value!r}", code="auth.bad_email")
    return value


def _row(store, user_name: str) -> dict | None:
    names, rows = store.columns(
        "SELECT user_name, display_name, email, password_hash, role, disabled, created_at FROM users "
        "WHERE user_name = ?", [user_name])
    return dict(zip(names, rows[0])) if rows else None


def require_user(store, user_name: str) -> dict:
    row = _row(store, user_name)
    if row is None:
        raise NotFound(f"no user named {user_name!r}")
    return row


def user_scopes(store, user_name: str) -> list[str]:
    return [r[0] for r in store.query(
        "SELECT place_code FROM user_scopes WHERE user_name = ? ORDER BY place_code", [user_name])]


def _set_scopes(store, user_name: str, scopes: list[str]) -> None:
    store.execute("DELETE FROM user_scopes WHERE user_name = ?", [user_name])
    for code in scopes:
        store.execute("INSERT INTO user_scopes (user_name, place_code) VALUES (?, ?)", [user_name, code])


def make_principal(user_name: str, role: str, scopes: Iterable[str]) -> Principal:
    return Principal(user_name, role, frozenset() if role == "admin" else frozenset(scopes))


def add_user(store, user_name: str, password: str, role: str, scopes: Iterable[str] = (), *,
             display_name: str | None = None, email: str | None = None, principal: Principal | None = None) -> None:
    """Create a user (admins; `principal=None` is the store's operator). Raises UsageError (bad name, weak
    password, role, duplicate) or NotFound (scopes)."""
    actor = _administer(principal)
    check_user_name(user_name)
    _check_role(role)
    codes = _scopes(store, role, scopes)
    display_name, email = _text(display_name, "display name"), _email(email)
    password_hash = hash_password(password)
    with store.transaction():
        if _row(store, user_name) is not None:
            raise UsageError(f"user {user_name!r} exists already", code="auth.user_exists")
        store.execute(
            "INSERT INTO users (user_name, display_name, email, password_hash, role, disabled, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", [user_name, display_name, email, password_hash, role, False, now()])
        _set_scopes(store, user_name, codes)
        audit(store, actor, "user.add", target=user_name,
              detail={k: v for k, v in {"role": role, "scopes": codes, "display_name": display_name,
                                        "email": email}.items() if v is not None})


def _administer(principal: Principal | None) -> str | None:
    """The name audited for an admin's change, once `principal` may administer the store."""
    from passage.access import STORE, acting

    return acting(principal, "administer", STORE).user_name


def _other_enabled_admins(store, user_name: str) -> int:
    return store.scalar("SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled AND user_name <> ?",
                        [user_name])


def update_user(store, user_name: str, *, role: str | None = None, scopes: Iterable[str] | None = None,
                display_name: str | None = None, email: str | None = None, disabled: bool | None = None,
                principal: Principal | None = None) -> None:
    """Change what is given (admins); `scopes` replaces the scopes. Becoming admin drops scopes.

    Disabling a user ends their sessions and revokes their API tokens for good (enabling them again
    brings neither back).
    The last enabled admin can be neither demoted nor disabled.
    """
    actor = _administer(principal)
    with store.transaction():
        row = require_user(store, user_name)
        old_scopes = user_scopes(store, user_name)
        new_role = _check_role(role) if role is not None else row["role"]
        if scopes is not None:
            new_scopes = _scopes(store, new_role, scopes)
        else:
            new_scopes = _scopes(store, new_role, [] if new_role == "admin" else old_scopes)
        changes: dict[str, dict] = {}

        def note(field: str, old, new) -> None:
            if old != new:
                changes[field] = {"from": old, "to": new}

        note("role", row["role"], new_role)
        note("scopes", old_scopes, new_scopes)
        if display_name is not None:
            note("display_name", row["display_name"], _text(display_name, "display name"))
        if email is not None:
            note("email", row["email"], _email(email))
        if disabled is not None:
            note("disabled", bool(row["disabled"]), bool(disabled))
        if not changes:
            return
        losing_admin = row["role"] == "admin" and not row["disabled"] and (
            new_role != "admin" or changes.get("disabled", {}).get("to") is True)
        if losing_admin and _other_enabled_admins(store, user_name) == 0:
            raise UsageError(f"{user_name!r} is the last enabled admin; make another admin first",
                             code="auth.last_admin")
        sets, params = [], []
        for field in ("role", "display_name", "email", "disabled"):
            if field in changes:
                sets.append(f"{field} = ?")
                params.append(changes[field]["to"])
        if sets:
            store.execute(f"UPDATE users SET {', '.join(sets)} WHERE user_name = ?", params + [user_name])
        if "scopes" in changes:
            _set_scopes(store, user_name, new_scopes)
        audit(store, actor, "user.update", target=user_name, detail=changes)
        if changes.get("disabled", {}).get("to") is True:
            from passage.auth.sessions import end_user_sessions
            from passage.auth.tokens import revoke_user_tokens

            end_user_sessions(store, user_name)
            revoke_user_tokens(store, user_name, reason="disabled", principal=principal)
    from passage.auth.sessions import forget_sessions
    from passage.auth.tokens import forget_tokens

    forget_tokens(user_name)  # a token's kept principal has the old role, places or state
    forget_sessions(user_name)  # and so has a session's


def set_password(store, user_name: str, password: str, *, principal: Principal | None = None) -> None:
    """Replace a password (admins). Ends the user's sessions, revokes their API tokens and lifts any sign-in
    throttle."""
    actor = _administer(principal)
    password_hash = hash_password(password)
    with store.transaction():
        require_user(store, user_name)
        store.execute("UPDATE users SET password_hash = ? WHERE user_name = ?", [password_hash, user_name])
        from passage.auth.sessions import end_user_sessions
        from passage.auth.tokens import revoke_user_tokens

        ended = end_user_sessions(store, user_name)
        ratelimit.clear(store, user_name)
        audit(store, actor, "user.password", target=user_name, detail={"sessions_ended": ended})
        revoke_user_tokens(store, user_name, reason="password", principal=principal)


def unlock_user(store, user_name: str, *, principal: Principal | None = None) -> int:
    """Lift a user's sign-in throttle at every address (an administrator's reset); returns the failures
    forgotten. Audited as `user.unlock`, even when there was nothing to lift."""
    actor = _administer(principal)
    with store.transaction():
        require_user(store, user_name)
        cleared = ratelimit.clear(store, user_name)
        audit(store, actor, "user.unlock", target=user_name, detail={"failures_cleared": cleared})
    return cleared


def list_users(store) -> list[dict]:
    names, rows = store.columns(
        "SELECT user_name, display_name, email, role, disabled, created_at FROM users ORDER BY user_name")
    scopes: dict[str, list[str]] = {}
    for name, code in store.query("SELECT user_name, place_code FROM user_scopes ORDER BY user_name, place_code"):
        scopes.setdefault(name, []).append(code)
    out = []
    for row in rows:
        user = dict(zip(names, row))
        user["disabled"] = bool(user["disabled"])
        user["scopes"] = scopes.get(user["user_name"], [])
        out.append(user)
    return out


def get_principal(store, user_name: str) -> Principal:
    """The principal of an enabled user. NotFound if none; AuthError `auth.disabled` if disabled."""
    row = require_user(store, user_name)
    if row["disabled"]:
        raise AuthError(f"user {user_name!r} is disabled", code="auth.disabled")
    return make_principal(user_name, row["role"], user_scopes(store, user_name))


def authenticate(store, user_name: str, password: str, *, ip: str | None = None,
                 policy: ratelimit.Policy = ratelimit.POLICY) -> Principal:
    """Check a user name and password; throttled per user at each address, with a ceiling per address
    (see `passage.auth.ratelimit`).

    Unknown users take as long to refuse as wrong passwords, and get the same answer.
    A disabled user is told so only after giving the right password.
    """
    name = (user_name or "").strip().lower() if isinstance(user_name, str) else ""
    password = password if isinstance(password, str) else ""
    try:
        ratelimit.check(store, name, ip, policy=policy)
    except AuthError:
        known = name if name and _row(store, name) is not None else None
        audit(store, None, "auth.sign_in_failed", target=known, ip=ip, detail={"reason": "rate_limited"})
        raise
    row = _row(store, name) if name else None

    def fail(reason: str, message: str, code: str) -> AuthError:
        with store.transaction():
            ratelimit.record(store, name, ip, ok=False, policy=policy)
            # An unknown name may be a password typed in the wrong box: it is not written to the log.
            audit(store, None, "auth.sign_in_failed", target=name if row else None, ip=ip,
                  detail={"reason": reason})
        return AuthError(message, code=code)

    if row is None:
        burn_verify_time(password)
        raise fail("unknown_user", "wrong user name or password", "auth.invalid")
    if not verify_password(row["password_hash"], password):
        raise fail("wrong_password", "wrong user name or password", "auth.invalid")
    if row["disabled"]:
        raise fail("disabled", "this account is disabled", "auth.disabled")
    with store.transaction():
        if needs_rehash(row["password_hash"]):
            store.execute("UPDATE users SET password_hash = ? WHERE user_name = ?",
                          [rehash_password(password), name])
        ratelimit.record(store, name, ip, ok=True, policy=policy)
        audit(store, name, "auth.sign_in", target=name, ip=ip)
    return make_principal(name, row["role"], user_scopes(store, name))
