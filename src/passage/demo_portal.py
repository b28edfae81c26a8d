"""The portal's demo: every installed pack seeds its demo data, in the order of their `requires`.

`passage serve` runs this on a store that has no records yet, so a newcomer's first page has something
to read, sign in to and publish. The accounts' passwords are generated and written to
`<work_dir>/accounts.txt` (readable by its owner only).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from passage import auth
from passage.store import Store


def needs_demo(store: Store) -> bool:
    """A store without any import: nothing for a newcomer to read yet."""
    return not store.scalar("SELECT count(*) FROM imports")


def add_accounts(store: Store, specs: Iterable[tuple[str, str, tuple[str, ...]]], *,
                 actor: str = "demo") -> dict[str, tuple[str, str, str]]:
    """Demo accounts (user, role, places) with generated passwords; users the store has already are kept.
    Seeding is the store's operator's work, audited under the name `actor`."""
    existing = {u["user_name"] for u in auth.list_users(store)}
    made = {}
    for name, role, scopes in specs:
        if name in existing:
            continue
        password = secrets.token_urlsafe(12)
        auth.add_user(store, name, password, role, list(scopes), principal=auth.Principal(actor, "admin"))
        made[name] = (role, ", ".join(scopes), password)
    return made


def seed_portal(store: Store, work_dir: Path, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    from passage.plugins import available_packs, manager

    say = progress or (lambda msg: None)
    work_dir = Path(work_dir)
    accounts = add_accounts(store, [("admin", "admin", ())])
    summary: dict[str, Any] = {}
    for name in available_packs():
        seed = getattr(manager().get_plugin(name), "demo_seed", None)
        if seed is None:
            continue
        part = seed(store=store, work_dir=work_dir, say=say) or {}
        accounts.update(add_accounts(store, part.pop("accounts", ())))
        summary[name] = part
    if accounts:
        lines = [f"{n}\t{r}\t{s or '-'}\t{p}" for n, (r, s, p) in accounts.items()]
        out = accounts_file(work_dir)
        out.write_text("user\trole\tplaces\tpassword\n" + "\n".join(lines) + "\n", encoding="utf-8")
        os.chmod(out, 0o600)
    summary["accounts"] = accounts
    return summary


def accounts_file(work_dir: Path) -> Path:
    return Path(work_dir) / "accounts.txt"
