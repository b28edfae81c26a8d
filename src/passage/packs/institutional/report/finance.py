"""The `finance` input: revenue and expenditure by year, with their source, for the annual report.

A small XLSForm (`packs/institutional/forms/finance.xlsx`, written by tools/build_finance_form.py)
filled as a CSV and imported with the ordinary `xlsform-data` importer, so the figures get the same
validation, versions and provenance as any record. Each row's `_uuid` (e.g. `finance-2020`) is its
record id: a corrected file is imported with `update=True` and the year's record gets a new version.
`DEMO_CSV` holds the 2020 report's own figures, cited row by row.
"""

from __future__ import annotations

from pathlib import Path

from passage.store import Store

FORM = Path(__file__).resolve().parents[1] / "forms" / "finance.xlsx"
DEMO_CSV = FORM.with_name("finance-demo.csv")


def install_finance_form(store: Store) -> bool:
    from passage.forms import compile_xlsform, install_form

    return install_form(store, compile_xlsform(FORM))


def import_finance(store: Store, path: Path, *, user: str | None = None, update: bool = False):
    """Install the form if needed and import a finance CSV/XLSX (an `ImportResult`, as `import_files` gives)."""
    from passage.ingest import import_files

    install_finance_form(store)
    return import_files(store, "xlsform-data", [Path(path)], form_id="finance", user=user, update=update)
