"""The portal's demo: every installed pack seeds its demo data, in the order of their `requires`.

`passage serve` runs this on a store that has no records yet, so a newcomer's first page has something
to read, sign in to and publish. The accounts' passwords are generated and written to
`<work_dir>/accounts.txt` (readable by its owner only).

Each store has a demo folder of its own (`demo_folder`): `passage-demo/` beside `passage.duckdb`,
`passage-demo-energy/` beside `energy.duckdb`, `passage-demo-pg-HOST-PORT-DB-SCHEMA/` in the current folder
for a PostgreSQL store. The folder names its store (`STORE_MARK`), and seeding never writes into a folder that
names another store, so one store's demo accounts are never overwritten by another's. The folder holds
passwords: it carries a `.gitignore` of `*`, so git never offers to commit it.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from passage import auth
from passage.errors import UsageError
from passage.store import Store

STORE_MARK = ".passage-store"  # in a demo folder: the identity of the store whose demo it holds
CLI_TOKEN = "cli-token"  # in a DuckDB store's demo folder: the demo admin's API token for the CLI


def store_identity(store: Store) -> str:
    """Which store this is, without secrets: a DuckDB file's real path; a PostgreSQL server, database and
    schema (`postgresql://HOST:PORT/DB#SCHEMA`)."""
    if store.dialect == "duckdb":
        return str(store._lock_key)
    parts = urlsplit(store.url)
    db, schema = store.query("SELECT current_database(), current_schema()")[0]
    return f"postgresql://{parts.hostname or 'localhost'}:{parts.port or 5432}/{db}#{schema}"


def demo_folder(store: Store) -> Path:
    """The store's own demo folder (unless `demo.dir` names one): `passage-demo` beside `passage.duckdb`,
    `passage-demo-NAME` beside `NAME.duckdb`, `passage-demo-pg-HOST-PORT-DB-SCHEMA` for PostgreSQL."""
    if store.dialect == "duckdb" and store.url != ":memory:":
        return duckdb_demo_folder(store.url)
    identity = store_identity(store)
    if identity.startswith("postgresql://"):
        host, rest = identity[len("postgresql://"):].split("/", 1)
        db, schema = rest.split("#", 1)
        return Path(f"passage-demo-pg-{_safe(host.replace(':', '-'))}-{_safe(db)}-{_safe(schema)}")
    return Path("passage-demo")


def chosen_folder(store: Store, settings: Any) -> Path:
    """The demo folder a command writes to: the setting `demo.dir` (or `--dir`) when given, else the store's own."""
    return Path(settings.demo.dir) if settings.origins["demo.dir"] != "default" else demo_folder(store)


def duckdb_demo_folder(path: str | Path) -> Path:
    """The demo folder of the DuckDB store at `path`: `passage-demo` beside `passage.duckdb`, else
    `passage-demo-NAME` beside `NAME.duckdb`."""
    path = Path(path)
    return path.with_name("passage-demo" if path.stem == "passage" else f"passage-demo-{_safe(path.stem)}")


def save_cli_token(store: Store, work_dir: Path, user: str = "admin") -> Path:
    """A demo convenience: an API token for the demo's admin, in the store's demo folder (`cli-token`, readable by
    its owner only), so `passage` commands run through the portal while it holds the store (`passage.cli.remote`
    finds it)."""
    secret = auth.create_token(store, user, "cli (demo)", principal=auth.Principal("demo", "admin"))[1]
    out = Path(work_dir) / CLI_TOKEN
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secret + "\n")
    return out


def cli_token(db: str | Path, work_dir: Path | None = None) -> str | None:
    """The demo's CLI token of the DuckDB store at `db` (in `work_dir`, default its own demo folder), when that
    folder is this store's."""
    folder = Path(work_dir) if work_dir is not None else duckdb_demo_folder(db)
    if folder_store(folder) != os.path.realpath(db):
        return None
    try:
        return (folder / CLI_TOKEN).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def folder_store(work_dir: Path) -> str | None:
    """The identity of the store whose demo `work_dir` holds, or None."""
    try:
        return (Path(work_dir) / STORE_MARK).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def claim_folder(store: Store, work_dir: Path) -> Path:
    """Make `work_dir` this store's demo folder (created, git-ignored); a folder holding another store's demo
    (or accounts of a store it does not name) is refused with a usage error."""
    work_dir = Path(work_dir)
    me = store_identity(store)
    owner = folder_store(work_dir)
    if owner is None and accounts_file(work_dir).exists():
        owner = "a store it does not name"
    if owner is not None and owner != me:
        raise UsageError(f"{work_dir} holds the demo accounts of {owner}, not of this store ({me}): give this "
                         f"store a folder of its own (--dir, setting demo.dir)", code="usage.demo_dir")
    work_dir.mkdir(parents=True, exist_ok=True)
    ignore = work_dir / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Passage's demo folder: generated files and demo passwords, never committed\n*\n",
                          encoding="utf-8")
    (work_dir / STORE_MARK).write_text(me + "\n", encoding="utf-8")
    return work_dir


def own_accounts(store: Store, work_dir: Path) -> Path | None:
    """The accounts file of this store's demo in `work_dir`, or None (none there, or another store's)."""
    out = accounts_file(work_dir)
    return out if out.exists() and folder_store(work_dir) == store_identity(store) else None


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
    work_dir = claim_folder(store, work_dir)
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
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # never readable by others, not even briefly
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("user\trole\tplaces\tpassword\n" + "\n".join(lines) + "\n")
        os.chmod(out, 0o600)
    summary["accounts"] = accounts
    return summary


def accounts_file(work_dir: Path) -> Path:
    return Path(work_dir) / "accounts.txt"
