"""Write the `finance` XLSForm: revenue and expenditure by year, for the annual report.

Run after editing the lists below; the .xlsx is committed
(src/passage/packs/institutional/forms/finance.xlsx).
"""

from pathlib import Path

from xlsform_writer import write_xlsform

SURVEY = [
    # type, name, label, required, constraint, constraint_message, hint
    ("integer", "year", "Financial year", "yes", ". >= 1950 and . <= 2100", "A year", ""),
    ("decimal", "revenue_usd_million", "Total combined revenue (USD million)", "", ". >= 0", "Not negative",
     "Assessed contributions, voluntary contributions and other income"),
    ("decimal", "expenditure_usd_million", "Total expenditure (USD million)", "", ". >= 0", "Not negative",
     "Combined total expenses of the year"),
    ("text", "source", "Source", "yes", "", "",
     "Where the figures come from: audited financial statements, report and paragraph"),
    ("text", "note", "Note", "", "", "", "e.g. how a figure was derived"),
]


def main() -> None:
    out = Path(__file__).resolve().parents[1] / "src/passage/packs/institutional/forms/finance.xlsx"
    write_xlsform(out, ["type", "name", "label", "required", "constraint", "constraint_message", "hint"], SURVEY,
                  ["Revenue and expenditure by year", "finance", "2020.1"])
    print(out)


if __name__ == "__main__":
    main()
