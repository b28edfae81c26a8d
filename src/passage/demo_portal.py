"""The portal's demo: DTM demo records plus boundaries, documents, users and releases.

`passage serve` runs this on a store that has no records yet, so a newcomer's first page
has something to read, sign in to and publish. The accounts' passwords are generated
and written to `<work_dir>/accounts.txt` (readable by its owner only).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Callable

from passage import auth, releases
from passage.demo import run_demo
from passage.store import Store

# user, role, places: an admin, an editor per demo country and a viewer of restricted data in one.
ACCOUNTS = (("admin", "admin", ()), ("editor-nga", "editor", ("NGA",)), ("editor-tcd", "editor", ("TCD",)),
            ("viewer-ssd", "viewer", ("SSD",)))
PUBLISHED = ("NGA", "SSD", "TCD")  # Afghanistan stays unpublished: only its editors and admins see it


def needs_demo(store: Store) -> bool:
    return not store.table_exists("dtm_idps") or not store.scalar("SELECT count(*) FROM dtm_idps")


def seed_portal(store: Store, work_dir: Path, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    from passage.documents.demo import add_demo_documents
    from passage.places.boundaries import import_boundaries
    from passage.places.demo_boundaries import write_demo_boundaries

    say = progress or (lambda msg: None)
    work_dir = Path(work_dir)
    summary = run_demo(store, work_dir, progress=say)
    path = write_demo_boundaries(store, work_dir / "demo-boundaries.geojson")
    import_boundaries(store, path, source="generated for the demo", user="demo")
    say("boundaries imported (generated shapes, not real ones)")
    docs = add_demo_documents(store, work_dir / "documents", user="demo")
    say(f"{len(docs)} demo documents added")
    from passage.travel.demo import load_demo, publish_demo  # travel measures and points of entry (/travel)

    summary["travel"] = {**load_demo(store, work_dir / "travel", progress=say), "releases": publish_demo(store)}
    accounts = {}
    existing = {u["user_name"] for u in auth.list_users(store)}
    for name, role, scopes in ACCOUNTS:
        if name in existing:
            continue
        password = secrets.token_urlsafe(12)
        auth.add_user(store, name, password, role, list(scopes), actor="demo")
        accounts[name] = (role, ", ".join(scopes), password)
    from passage.questionnaire import load_demo_questionnaire  # offices and their questionnaire (/questionnaire)

    accounts.update(load_demo_questionnaire(store)["accounts"])
    from passage.reports.finance import DEMO_CSV, import_finance  # revenue and expenditure (/reports/annual/2020)

    import_finance(store, DEMO_CSV, user="demo")
    from passage.staff.demo import load_demo_register  # made-up staff for the report's staff sections

    say(f"{load_demo_register(store, work_dir / 'staff')} staff in a generated 2020 register")
    if accounts:
        lines = [f"{n}\t{r}\t{s or '-'}\t{p}" for n, (r, s, p) in accounts.items()]
        out = work_dir / "accounts.txt"
        out.write_text("user\trole\tplaces\tpassword\n" + "\n".join(lines) + "\n", encoding="utf-8")
        os.chmod(out, 0o600)
    for iso3 in PUBLISHED:
        releases.publish(store, "dtm_idps", iso3, user="demo", note="demo release")
    summary["accounts"] = accounts
    return summary


def accounts_file(work_dir: Path) -> Path:
    return Path(work_dir) / "accounts.txt"
