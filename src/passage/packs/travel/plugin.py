"""The travel pack's hooks: tracker importers, finding codes, `passage travel`, /travel pages, the demo."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from passage.plugins import hookimpl
from passage.web.i18n_names import _noop  # marks the menu's label for the catalogue

HERE = Path(__file__).resolve().parent


@hookimpl
def pack_dir() -> Path:
    return HERE


@hookimpl
def pack_sections() -> dict[str, type]:
    from passage.packs.travel.sections import SECTIONS

    return SECTIONS


@hookimpl
def importers() -> dict[str, Callable[[], Any]]:
    from passage.packs.travel.importers.acaps import AcapsImporter
    from passage.packs.travel.importers.cobap import CobapImporter
    from passage.packs.travel.importers.oxcgrt import OxcgrtImporter

    return {"oxcgrt": OxcgrtImporter, "cobap": CobapImporter, "acaps": AcapsImporter,
            # COBAP files whose dates no value tells the order of (every part <= 12): the order given
            "cobap-dmy": partial(CobapImporter, date_order="dmy"),
            "cobap-mdy": partial(CobapImporter, date_order="mdy")}


@hookimpl
def finding_codes() -> dict[str, str]:
    return {
        "travel.date-missing": "A required date is empty",
        "travel.date-invalid": "A date cell cannot be read as a date of the file's format",
        "travel.date-column-invalid": "A column header that should be a date is not one",
        "travel.date-order-ambiguous": "Every date of the file fits both day-first and month-first orders",
        "travel.date-order-mixed": "The file's dates are written both day-first and month-first",
        "travel.date-in-force-missing": "A measure has no date in force: kept, never counted as in force",
        "travel.date-lifted-before-in-force": "A measure is lifted before it comes into force",
        "travel.level-out-of-range": "The level is a number outside 0 to 4",
        "travel.level-not-number": "The level is not a number",
        "travel.country-code-nonstandard": "The country code is not ISO 3166 alpha-3; kept as the provider gives it",
        "travel.category-unmapped": "The provider's value maps to no IOM category; kept as the native value",
        "travel.native-value-unknown": "A coded value is not one the provider's format defines",
    }


@hookimpl
def cli(main: Any) -> None:
    from passage.packs.travel.cli import travel

    main.add_command(travel)


@hookimpl
def web_routers() -> list[Any]:
    from passage.packs.travel.web import router

    return [router]


@hookimpl
def nav_links() -> list[dict[str, Any]]:
    return [{"href": "/travel", "label": _noop("Travel"), "signed_in": False, "prefixes": ["/travel"]}]


@hookimpl
def demo_seed(store: Any, work_dir: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """Travel measures and points of entry (/travel): the real OxCGRT subset and generated measures and PoEs."""
    from passage.packs.travel.demo import load_demo, publish_demo

    return {**load_demo(store, work_dir / "travel", progress=say), "releases": publish_demo(store)}
