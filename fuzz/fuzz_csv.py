"""Fuzz the CSV readers' parse-and-stage step: DTM's HDX CSV (`dtm`) and KoboToolbox's CSV export
(`xlsform-data`, the household survey form), each input staged by both.

    .venv/bin/python fuzz/fuzz_csv.py -max_total_time=60 /tmp/corpus-csv

Seeds: the bad-file corpus's CSV cases (tests/bad_files/make.py) and the Kobo CSV export fixture.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h

KOBO = h.TESTS / "fixtures" / "xlsform"


def seeds() -> dict[str, bytes]:
    make = h.bad_files()
    return {"base.csv": make.base_csv(), "kobo-export.csv": (KOBO / "export.csv").read_bytes(),
            "points.csv": (h.TESTS / "fixtures" / "xlsform_corpus" / "field" / "points.csv").read_bytes()} \
        | h.seeds_from_corpus(".csv")


def setup() -> None:
    h.store(packs=("dtm",), xlsforms=(KOBO / "household_survey.xlsx",))


def one_input(data: bytes) -> None:
    path = h.write_input(data, "fuzz.csv")
    h.stage("dtm", path)
    h.stage("xlsform-data", path, form_id="household_survey")


if __name__ == "__main__":
    h.run(seeds, one_input, setup)
