"""Derive the staff pack's reference data from the annex tables of the 2020 annual report (run once; the output
is committed):

- `reference/nationalities_2020.csv`: the Member States and observers/others of Annex II and Annex III, per
  annex, in the report's order (`year,annex,section,country`; the file's order is the table's order).
- `reference/prior_figures.csv`: the Annex I and nationalities figures of the years before 2020 (Table 4 also
  1995 and 2005), as published (`table,grade,year,measure,value,unit,source_label`).

The figures the report prints in its text (`reference/figures_2020.csv`) are typed from the report with the
exact quote beside each; tests/test_staff.py checks every quote against the report.

Usage: python tools/build_staff_reference.py [ANNEX_DIR]   (default: ../shared/data/seed/annex)
"""

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src/passage/packs/staff/reference"
YEAR = 2020
ANNEXES = ["annex2_general_service", "annex3_professional"]
ANNEX1 = ["annex1_table1", "annex1_table2", "annex1_table3", "annex1_table4", "nationalities"]


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    print(path, len(rows), "rows")


def main(annex_dir: Path) -> None:
    listed = []
    for table in ANNEXES:
        with (annex_dir / f"{table}.csv").open(encoding="utf-8", newline="") as fh:
            listed += [[YEAR, table, r["section"], r["country"]] for r in csv.DictReader(fh)]
    _write(OUT / f"nationalities_{YEAR}.csv", ["year", "annex", "section", "country"], listed)
    prior = []
    for table in ANNEX1:
        with (annex_dir / f"{table}.csv").open(encoding="utf-8", newline="") as fh:
            for r in csv.DictReader(fh):
                year = r["year"]
                if year.isdigit() and int(year) < YEAR:  # "2018-2020" (a change) is computed, not prior
                    prior.append([table, r.get("grade", ""), year, r["measure"], r["value"], r["unit"],
                                  r["source_label"]])
    _write(OUT / "prior_figures.csv", ["table", "grade", "year", "measure", "value", "unit", "source_label"], prior)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared/data/seed/annex")
