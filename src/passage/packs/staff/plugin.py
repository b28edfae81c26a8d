"""The staff pack's hooks: the register and nationality-list importers, finding codes, a demo register."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from passage.plugins import hookimpl


@hookimpl
def pack_dir() -> Path:
    return Path(__file__).resolve().parent


@hookimpl
def pack_sections() -> dict[str, type]:
    from passage.packs.staff.sections import SECTIONS

    return SECTIONS


@hookimpl
def importers() -> dict[str, Callable[[], Any]]:
    from passage.packs.staff.importers.nationality_list import NationalityListImporter
    from passage.packs.staff.importers.staff_register import StaffRegisterImporter

    return {"staff-register": StaffRegisterImporter, "nationality-list": NationalityListImporter}


@hookimpl
def finding_codes() -> dict[str, str]:
    return {
        "staff.year_missing": "A staff register or nationality list gives no year (no year column, no --year, "
                              "no year in the file name)",
        "staff.grade_category": "The grade is not a grade of the staff member's category",
        "staff.nationality_unlisted": "The nationality is not in the nationality list under the row's category "
                                      "and group",
        "staff.list_annex_missing": "A nationality list names no country for one of the staff annexes",
    }


@hookimpl
def demo_seed(store: Any, work_dir: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """Made-up staff for the annual report's staff sections."""
    from passage.packs.staff.demo import load_demo_register

    people = load_demo_register(store, work_dir / "staff")
    say(f"{people} staff in a generated 2020 register")
    return {"people": people}


@hookimpl
def store_migrations() -> list[Any]:
    from passage.store.migrations import numbered

    return numbered("passage.packs.staff.migrations", "staff")
