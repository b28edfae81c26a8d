"""The flowcount pack's hooks: its importer, its row check and finding code, its page."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from passage.checks import Batch, q
from passage.plugins import hookimpl

MINORS_OVER_PERSONS = "flowcount.minors-over-persons"


@hookimpl
def pack_dir() -> Path:
    return Path(__file__).resolve().parent


@hookimpl
def importers() -> dict[str, Callable[[], Any]]:
    from passage_flowcount.importer import FlowCountImporter

    return {"fmp-csv": FlowCountImporter}


@hookimpl
def finding_codes() -> dict[str, str]:
    return {MINORS_OVER_PERSONS: "More minors than people counted at the point that day"}


def minors_within_persons(batch: Batch, spec: dict[str, str]) -> None:
    minors, persons = q(spec["minors"]), q(spec["persons"])
    batch.add(MINORS_OVER_PERSONS, f"TRY_CAST({minors} AS BIGINT) > TRY_CAST({persons} AS BIGINT)",
              f"{spec['minors']} is more than {spec['persons']}", column=spec["minors"], value=minors)


@hookimpl
def row_checks() -> dict[str, Callable[[Batch, Any], None]]:
    return {"minors_within_persons": minors_within_persons}


@hookimpl
def pack_sections() -> dict[str, type]:
    from pydantic import BaseModel, ConfigDict

    class MinorsWithinPersons(BaseModel):
        model_config = ConfigDict(extra="forbid")
        minors: str
        persons: str

    class Checks(BaseModel):
        model_config = ConfigDict(extra="forbid")
        minors_within_persons: MinorsWithinPersons | None = None

    return {"records.checks": Checks}


@hookimpl
def web_routers() -> list[Any]:
    from passage_flowcount.web import router

    return [router]


@hookimpl
def nav_links() -> list[dict[str, Any]]:
    return [{"href": "/flows", "label": "Flows", "signed_in": False, "prefixes": ["/flows"]}]
