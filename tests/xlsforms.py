"""XLSForms written for tests: the survey, choices and settings sheets from rows, as a form author types them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from openpyxl import Workbook


def write_xlsform(path: Path, survey: Iterable[Sequence], choices: Iterable[Sequence] = (),
                  settings: dict[str, str] | None = None) -> Path:
    """`survey` and `choices` are rows, their header first (no choices: no choices sheet); `settings` is one
    row of the settings sheet, e.g. {"form_id": "shelter_check", "version": "1"}."""
    wb = Workbook()
    ws = wb.active
    ws.title = "survey"
    for row in survey:
        ws.append(list(row))
    choices = list(choices)
    if choices:
        ch = wb.create_sheet("choices")
        for row in choices:
            ch.append(list(row))
    if settings:
        st = wb.create_sheet("settings")
        st.append(list(settings))
        st.append(list(settings.values()))
    wb.save(path)
    return path
