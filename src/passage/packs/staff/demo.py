"""A generated staff register for the portal's demo, so the annual report's staff sections have data.

The people are made up: nationalities drawn from the pack's nationality list with a skewed distribution,
grades and sex by fixed weights, about the report's 2020 headcounts. The file says so in its name, and the
figures it gives are not the organisation's.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from passage.packs.staff.reference import annexes, pack_nationality_list
from passage.store import Store

COLUMNS = ["staff_id", "category", "grade", "nationality", "nationality_group", "sex", "appointment_type"]
HEADCOUNT = {"annex2_general_service": 14_069, "annex3_professional": 2_185}
APPOINTMENT = {"annex2_general_service": "national", "annex3_professional": "international"}
GRADE_WEIGHTS = {  # most people sit in the middle grades; directors and E grades are few
    "G-1": 2, "G-1A": 0.2, "G-1B": 0.2, "G-2": 6, "G-3": 7, "G-4": 18, "G-5": 16, "G-6": 8, "G-7": 3, "G-8": 0.5,
    "NO-A": 5, "NO-B": 3, "NO-C": 1, "NO-D": 0.2, "UG": 30,
    "E-1": 0.05, "E-2": 0.05, "D-2": 1, "D-1": 2, "P-5": 6, "P-4": 14, "P-3": 27, "P-2": 27, "P-1": 2,
}
WOMEN = {"annex2_general_service": 0.47, "annex3_professional": 0.49}


def write_demo_register(path: Path, year: int = 2020, seed: int = 2020) -> Path:
    """Write a register CSV of made-up people (the name carries the year, as the importer expects)."""
    rng = random.Random(seed)
    nat = pack_nationality_list()
    rows, n = [], 0
    for table, spec in annexes().items():
        countries = nat.tables[table]
        weights = [rng.paretovariate(1.2) for _ in countries]  # a few countries hold many staff
        grades = spec["grades"]
        for _ in range(HEADCOUNT[table]):
            section, country = rng.choices(countries, weights)[0]
            n += 1
            rows.append((f"D{n:06d}", spec["category"], rng.choices(grades, [GRADE_WEIGHTS[g] for g in grades])[0],
                         country, section, "F" if rng.random() < WOMEN[table] else "M", APPOINTMENT[table]))
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows(rows)
    return path


def load_demo_register(store: Store, work_dir: Path, year: int = 2020) -> int:
    """Generate and import the demo register; returns the people imported."""
    from passage.ingest import import_files

    work_dir.mkdir(parents=True, exist_ok=True)
    path = write_demo_register(work_dir / f"generated_staff_register_{year}.csv", year)
    result = import_files(store, "staff-register", [path], user="demo")
    return result.inserted
