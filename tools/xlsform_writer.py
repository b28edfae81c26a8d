"""Writing a pack's XLSForm from Python lists: the one writer every `tools/build_*` script uses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font


def write_xlsform(path: Path, survey_header: Sequence[str], survey: Iterable[Sequence],
                  settings: Sequence, *, choices_header: Sequence[str] = ("list_name", "name", "label"),
                  choices: Iterable[Sequence] | None = None, bold_header: bool = False) -> Path:
    """Sheets survey, choices (only when `choices` is given) and settings (form_title, form_id, version)."""
    wb = Workbook()
    sheets = [("survey", list(survey_header), survey)]
    if choices is not None:
        sheets.append(("choices", list(choices_header), choices))
    sheets.append(("settings", ["form_title", "form_id", "version"], [settings]))
    for i, (title, header, rows) in enumerate(sheets):
        ws = wb.active if i == 0 else wb.create_sheet(title)
        ws.title = title
        ws.append(header)
        for row in rows:
            ws.append(list(row))
        if bold_header:
            for cell in ws[1]:
                cell.font = Font(bold=True)
    wb.save(path)
    return path
