"""Write the staff pack's XLSForms (run after editing the lists below or the pack's `annexes`; the .xlsx are
committed): `staff_member`, one row of a year-end staff register, and `staff_nationality`, one line of the
list of Member States and observers/others the annexes are laid out by."""

from pathlib import Path

import yaml
from xlsform_writer import write_xlsform

PACK = Path(__file__).resolve().parents[1] / "src/passage/packs/staff"
HEAD = ["type", "name", "label", "required", "constraint", "constraint_message", "relevant", "hint"]

MEMBER = [
    ("integer", "year", "Year (staff at the end of it)", "yes", ". >= 1900 and . <= 2100", "A year", "", ""),
    ("text", "register", "Register snapshot", "yes", "", "", "",
     "Set by the importer: the sha256 of the imported file(s); the latest snapshot of a year makes its tables"),
    ("text", "staff_id", "Staff ID", "yes", "", "", "", "Unique within a register"),
    ("select_one category", "category", "Category", "yes", "", "", "", "Annex II or Annex III"),
    ("select_one grade", "grade", "Grade", "yes", "", "", "", "Must be a grade of the category (checked at import)"),
    ("text", "nationality", "Nationality", "yes", "", "", "",
     "A country as the nationality list names it (Other for any not listed)"),
    ("select_one group", "nationality_group", "Nationality group", "yes", "", "", "", ""),
    ("select_one sex", "sex", "Sex", "yes", "", "", "", ""),
    ("select_one appointment", "appointment_type", "Appointment type", "", "", "", "", ""),
]
NATIONALITY = [
    ("integer", "year", "Year the list applies from", "yes", ". >= 1900 and . <= 2100", "A year", "", ""),
    ("text", "list", "List snapshot", "yes", "", "", "", "Set by the importer: the sha256 of the imported file(s)"),
    ("select_one annex", "annex", "Annex table", "yes", "", "", "", ""),
    ("select_one group", "section", "Section", "yes", "", "", "", ""),
    ("text", "country", "Country", "yes", "", "", "", "As printed in the report"),
    ("integer", "position", "Position in the table", "yes", ". >= 1", "From 1", "", "The line's row in the file"),
]


def _choices(spec: dict) -> list[tuple[str, str, str]]:
    annexes = spec["annexes"]
    out = [("category", a["category"], a["category"]) for a in annexes.values()]
    seen: list[str] = []
    for a in annexes.values():
        seen += [g for g in a["grades"] if g not in seen]
    out += [("grade", g, g) for g in seen]
    out += [("group", "member", "Member State"), ("group", "observer_other", "Observer State, non-member State or other")]
    out += [("sex", "F", "Female"), ("sex", "M", "Male")]
    out += [("appointment", "international", "International"), ("appointment", "national", "National")]
    out += [("annex", name, f"{name}: {a['category']}") for name, a in annexes.items()]
    return out


def _write(name: str, title: str, survey: list[tuple], choices: list[tuple], lists: set[str]) -> Path:
    return write_xlsform(PACK / "forms" / f"{name}.xlsx", HEAD, survey, [title, name, "2020.1"],
                         choices=[row for row in choices if row[0] in lists])


def main() -> None:
    spec = yaml.safe_load((PACK / "pack.yaml").read_text(encoding="utf-8"))
    choices = _choices(spec)
    print(_write("staff_member", "Staff register: one staff member at year end", MEMBER, choices,
                 {"category", "grade", "group", "sex", "appointment"}))
    print(_write("staff_nationality", "Nationality list: Member States and observers/others per annex",
                 NATIONALITY, choices, {"annex", "group"}))


if __name__ == "__main__":
    main()
