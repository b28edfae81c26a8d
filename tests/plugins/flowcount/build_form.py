"""Writes passage_flowcount/forms/fmp_count.xlsx, the toy pack's XLSForm (run again after editing it)."""

from pathlib import Path

from openpyxl import Workbook

SURVEY = [
    ("type", "name", "label", "required", "constraint", "constraint_message"),
    ("text", "fmp_code", "Flow monitoring point", "yes", "regex(., '^FMP-[A-Z]{3}-[0-9]{2}$')",
     "FMP-ISO-NN, e.g. FMP-NGA-01"),
    ("text", "country_code", "Country (ISO 3166 alpha-3)", "yes", "", ""),
    ("date", "count_date", "Day counted", "yes", "", ""),
    ("select_one direction", "direction", "Direction", "yes", "", ""),
    ("integer", "persons", "Persons counted", "yes", ". >= 0", "a count is never negative"),
    ("integer", "minors", "Of whom minors", "no", ". >= 0", "a count is never negative"),
]
CHOICES = [("list_name", "name", "label"), ("direction", "in", "Entering"), ("direction", "out", "Leaving")]
SETTINGS = [("form_id", "version", "form_title"), ("fmp_count", "2026120501", "Flow monitoring point counts")]

wb = Workbook()
for title, rows in (("survey", SURVEY), ("choices", CHOICES), ("settings", SETTINGS)):
    ws = wb.active if title == "survey" else wb.create_sheet(title)
    ws.title = title
    for row in rows:
        ws.append(list(row))
out = Path(__file__).parent / "passage_flowcount" / "forms" / "fmp_count.xlsx"
wb.save(out)
print(out)
