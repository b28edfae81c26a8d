"""A record's place follows its admin level as a number: `02` or `+2` is level 2 (the integer check accepts both),
so the record is placed at its admin 2 code, not at its country."""

from __future__ import annotations

import csv

import pytest

from dtm_rows import NGA, api_rows
from passage.ingest import import_files
from passage.packs.dtm.importer import COLUMNS


def _write(path, rows):
    cols = list(COLUMNS)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        w.writerow([COLUMNS[c][1] for c in cols])
        for r in rows:
            w.writerow(["" if r.get(c) is None else r.get(c) for c in cols])
    return path


@pytest.mark.parametrize("level", ["02", "+2", " 2"])
def test_an_admin_level_written_otherwise_places_the_record_at_its_level(store, tmp_path, level):
    rows = api_rows("NGA", NGA)
    for r in rows:
        r["adminLevel"] = 2 if r["admin2Pcode"] else 1 if r["admin1Pcode"] else 0
    rows[6]["adminLevel"] = level  # file line 9: Abadam (NG008001), in Borno
    rows[6]["admin2Name"] = "Abadam"
    result = import_files(store, "dtm", [_write(tmp_path / "nga.csv", rows)])
    assert result.status == "committed", result.report.findings
    placed = store.query("SELECT admin_level, _place_code FROM dtm_idps WHERE _source_row = 9")
    assert placed == [(2, "NG008001")]
    assert store.scalar("SELECT count(*) FROM dtm_idps WHERE admin_level = 2 AND _place_code = 'NGA'") == 0
