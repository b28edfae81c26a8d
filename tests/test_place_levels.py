"""A record's place follows its admin level as a number: `02` or `+2` is level 2 (the integer check accepts both),
so the record is placed at its admin 2 code, not at its country."""

from __future__ import annotations

import pytest

from dtm_rows import NGA, api_rows, write_csv
from passage.ingest import import_files


@pytest.mark.parametrize("level", ["02", "+2", " 2"])
def test_an_admin_level_written_otherwise_places_the_record_at_its_level(store, tmp_path, level):
    rows = api_rows("NGA", NGA)  # the other rows' level follows from their codes (write_csv)
    rows[6]["adminLevel"] = level  # file line 9: Abadam (NG008001), in Borno
    result = import_files(store, "dtm", [write_csv(tmp_path / "nga.csv", rows)])
    assert result.status == "committed", result.report.findings
    placed = store.query("SELECT admin_level, _place_code FROM dtm_idps WHERE _source_row = 9")
    assert placed == [(2, "NG008001")]
    assert store.scalar("SELECT count(*) FROM dtm_idps WHERE admin_level = 2 AND _place_code = 'NGA'") == 0
