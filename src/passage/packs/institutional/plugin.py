"""The institutional pack's hooks: offices, the questionnaire (importer, workflow tables, pages, commands), the
annual report (commands, page), the demo offices, answers and finance figures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from passage.plugins import hookimpl
from passage.web.i18n_names import _noop  # marks the menu's label for the catalogue


@hookimpl
def pack_dir() -> Path:
    return Path(__file__).resolve().parent


@hookimpl
def pack_sections() -> dict[str, type]:
    from passage.packs.institutional.sections import SECTIONS

    return SECTIONS


@hookimpl
def importers() -> dict[str, Callable[[], Any]]:
    from passage.packs.institutional.importer import QuestionnaireImporter

    return {"questionnaire": QuestionnaireImporter}


@hookimpl
def finding_codes() -> dict[str, str]:
    return {
        "institutional.office-code-invalid":
            "An office code is not 2-20 capital letters, digits or hyphens, or is three letters alone",
        "institutional.office-code-taken": "An office code is already the code of a place that is not an office",
        "institutional.office-parent-unknown":
            "An office's parent is not the regional office or headquarters the hierarchy needs",
        "institutional.office-country-unknown": "An office's country is not an ISO 3166 alpha-3 code",
        "institutional.office-unknown": "A questionnaire row names an office that is not in the office list",
        "institutional.questionnaire-workflow":
            "Answers for a questionnaire that is no longer a draft (submitted, approved or locked)",
    }


@hookimpl
def store_tables() -> list[str]:
    return [
        # the questionnaire workflow (workflow.py): the state now, and every change
        """CREATE TABLE IF NOT EXISTS questionnaire_states (
            office_code VARCHAR NOT NULL,
            year INTEGER NOT NULL,
            state VARCHAR NOT NULL,
            record_version INTEGER,
            changed_at TIMESTAMP NOT NULL,
            changed_by VARCHAR,
            PRIMARY KEY (office_code, year)
        )""",
        """CREATE SEQUENCE IF NOT EXISTS questionnaire_event_ids START 1""",
        """CREATE TABLE IF NOT EXISTS questionnaire_history (
            event_id BIGINT PRIMARY KEY,
            office_code VARCHAR NOT NULL,
            year INTEGER NOT NULL,
            action VARCHAR NOT NULL,
            from_state VARCHAR,
            to_state VARCHAR NOT NULL,
            user_name VARCHAR,
            reason VARCHAR,
            record_version INTEGER,
            occurred_at TIMESTAMP NOT NULL
        )""",
    ]


@hookimpl
def cli(main: Any) -> None:
    from passage.packs.institutional import cli as questionnaire_cli
    from passage.packs.institutional.report import cli as report_cli
    from passage.packs.institutional.report import staff_cli  # noqa: F401  (`report staff-tables`, `report check`)

    for group in (questionnaire_cli.offices, questionnaire_cli.questionnaire, report_cli.report):
        main.add_command(group)


@hookimpl
def web_routers() -> list[Any]:
    from passage.packs.institutional.report.web import router as reports
    from passage.packs.institutional.web import api
    from passage.packs.institutional.web import router as questionnaire

    return [questionnaire, api, reports]


def _approves(ctx: Any) -> bool:
    """Whether the signed-in user approves or locks questionnaires (their "my tasks" link)."""
    from passage.packs.institutional.workflow import approves

    try:
        return ctx.cached(("questionnaire-approves",), lambda: approves(ctx.store, ctx.principal))
    except Exception:  # noqa: BLE001 - the menu of an error page (the store failing) must still render
        return False


# The menu: the questionnaire and the annual report (/reports/annual: the latest year's) for signed-in users,
# who read both; "my tasks" for those who approve (a regional office's or headquarters' editors, admins).
PACK_LINKS = [
    {"href": "/questionnaire", "label": _noop("Questionnaire"), "signed_in": True, "prefixes": ["/questionnaire"]},
    {"href": "/questionnaire/tasks", "label": _noop("My tasks"), "signed_in": True,
     "prefixes": ["/questionnaire/tasks"], "show": _approves},
    {"href": "/reports/annual", "label": _noop("Reports"), "signed_in": True, "prefixes": ["/reports"]},
]


@hookimpl
def nav_links() -> list[dict[str, Any]]:
    return PACK_LINKS


@hookimpl
def demo_seed(store: Any, work_dir: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """Offices and their questionnaire (/questionnaire), revenue and expenditure (/reports/annual/2020)."""
    from passage.packs.institutional.demo import ACCOUNTS, load_demo_questionnaire
    from passage.packs.institutional.report.finance import DEMO_CSV, import_finance

    loaded = load_demo_questionnaire(store, accounts=False)
    import_finance(store, DEMO_CSV, user="demo")
    return {"offices": loaded["offices"], "answers": loaded["answers"], "accounts": ACCOUNTS}


@hookimpl
def edit_checks(store: Any, form_id: str, old: dict, new: dict, target: str, report: Any) -> None:
    from passage.packs.institutional.workflow import check_edit

    check_edit(store, form_id, old, new, target, report)
