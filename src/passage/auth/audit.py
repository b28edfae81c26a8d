"""The audit log: who changed what, when and from where. Append-only.

`detail` is JSON with sorted keys; passwords and secrets never go in it (keys that
would carry one are refused, so a mistake fails loudly instead of leaking).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

SECRET_KEYS = frozenset({"password", "password_hash", "secret", "token_hash", "session", "session_hash",
                         "csrf", "csrf_token"})


def now() -> datetime:
    """Naive UTC, as every timestamp in the store."""
    return datetime.now(UTC).replace(tzinfo=None)


def _secret_keys(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if str(k).lower() in SECRET_KEYS:
                found.add(str(k))
            found |= _secret_keys(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            found |= _secret_keys(v)
    return found


def audit(store, user_name: str | None, action: str, *, target: str | None = None, import_id: int | None = None,
          ip: str | None = None, detail: dict | None = None) -> None:
    """Append one entry. `user_name` is who acted (None: the system or an unknown caller)."""
    if not action:
        raise ValueError("an audit entry needs an action")
    if detail is not None:
        leaked = _secret_keys(detail)
        if leaked:
            raise ValueError(f"audit detail must not carry secrets: {sorted(leaked)}")
    text = None if detail is None else json.dumps(detail, sort_keys=True, default=str)
    store.execute(
        "INSERT INTO audit_log (audit_id, occurred_at, user_name, action, target, import_id, ip, detail) "
        "VALUES (nextval('audit_ids'), ?, ?, ?, ?, ?, ?, ?)",
        [now(), user_name, action, target, import_id, ip, text])


def audit_entries(store, *, limit: int = 100, user_name: str | None = None, action: str | None = None,
                  before_id: int | None = None) -> list[dict]:
    """Newest first. Page back with `before_id` = the smallest audit_id already seen.

    `action` matches exactly, or as a prefix when it ends with `.` or `*` (`user.` → every user action).
    """
    where, params = [], []
    if user_name is not None:
        where.append("user_name = ?")
        params.append(user_name)
    if action:
        if action.endswith(("*", ".")):
            prefix = action.rstrip("*")
            where.append("substr(action, 1, ?) = ?")
            params += [len(prefix), prefix]
        else:
            where.append("action = ?")
            params.append(action)
    if before_id is not None:
        where.append("audit_id < ?")
        params.append(int(before_id))
    sql = "SELECT audit_id, occurred_at, user_name, action, target, import_id, ip, detail FROM audit_log"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY audit_id DESC LIMIT ?"
    params.append(max(0, int(limit)))
    names, rows = store.columns(sql, params)
    out = []
    for row in rows:
        entry = dict(zip(names, row))
        entry["detail"] = json.loads(entry["detail"]) if entry["detail"] else None
        out.append(entry)
    return out
