"""The DTM pack's hooks: its importer, finding codes, `passage demo`, the demo seed, HAPI's table, the headline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from passage.plugins import hookimpl

# The demo accounts: an editor per demo country and a viewer of restricted data in one.
ACCOUNTS = (("editor-nga", "editor", ("NGA",)), ("editor-tcd", "editor", ("TCD",)), ("viewer-ssd", "viewer", ("SSD",)))
PUBLISHED = ("NGA", "SSD", "TCD")  # Afghanistan stays unpublished: only its editors and admins see it


@hookimpl
def pack_dir() -> Path:
    return Path(__file__).resolve().parent


@hookimpl
def importers() -> dict[str, Callable[[], Any]]:
    from passage.packs.dtm.importer import DtmImporter

    return {"dtm": DtmImporter}


@hookimpl
def finding_codes() -> dict[str, str]:
    return {
        "dtm.api-unsuccessful": "The API response says it did not succeed",
        "dtm.api-count-mismatch": "The API response's totalRecordsCount differs from the rows it holds",
    }


@hookimpl
def cli(main: Any) -> None:
    from passage.packs.dtm.cli import demo_cmd

    main.add_command(demo_cmd)


@hookimpl
def published_tables() -> dict[str, tuple[str, Callable[..., Any]]]:
    from passage.packs.dtm.hapi import hapi_idps

    return {"hapi-idps": ("HDX HAPI: IDPs by admin area, operation and round",
                          lambda store, relation: hapi_idps(store, relation("dtm_idps")))}


@hookimpl
def headline(store: Any, principal: Any) -> dict[str, Any] | None:
    from passage.access import allowed, readable
    from passage.packs.dtm.demo import headline as compute
    from passage.releases import dataset_for_form

    ds = dataset_for_form(store, "dtm_idps")
    if ds is None or not store.table_exists("dtm_idps") or not allowed(principal, "read-dataset", ds):
        return None
    figures = compute(store, readable(store, principal, ds))
    return {"template": "dtm_headline.html", **figures} if figures["by_country"] else None


@hookimpl
def demo_seed(store: Any, work_dir: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """DTM-shaped records over real P-codes, documents, an editor per country. The maps draw the bundled
    Natural Earth admin-1 shapes (`passage.places.natural_earth`) and admin-2 areas as circles: no shapes
    are imported or invented for the demo."""
    from passage import releases
    from passage.packs.dtm.demo import run_demo
    from passage.packs.dtm.demo_documents import add_demo_documents

    summary = run_demo(store, work_dir, progress=say)
    docs = add_demo_documents(store, work_dir / "documents", user="demo")
    say(f"{len(docs)} demo documents added")
    for iso3 in PUBLISHED:
        releases.publish(store, "dtm_idps", iso3, user="demo", note="demo release")
    return {**summary, "accounts": ACCOUNTS}


@hookimpl
def store_migrations() -> list[Any]:
    from passage.store.migrations import numbered

    return numbered("passage.packs.dtm.migrations", "dtm")
