"""What the scan of a CSV file (while it is hashed) rules out for every cell at once: a NUL byte, a cell over the
length limit. The per-cell tests are then left out of the checks' one scan; where the file has either, they
run and find it, located, as before."""

from __future__ import annotations

import pytest
from dtm_rows import NGA, api_rows, write_csv, write_json

from passage.checks.form_rules import MAX_CELL_CHARS
from passage.ingest import csvscan, import_files
from passage.ingest.files import describe
from passage.ingest.importer import cell_facts
from passage.plugins import install_pack


@pytest.fixture
def dtm_store(store):
    install_pack(store, "dtm")
    return store


def test_scan_finds_nul_and_longest_record_across_blocks():
    text = b"a,b\r\n" + b"x" * 37 + b",1\n" + b"short,\0\n" + b"last,no-newline"
    for size in (1, 3, 7, len(text)):  # records and the NUL split across blocks
        s = csvscan.Scanner()
        for i in range(0, len(text), size):
            s.feed(text[i:i + size])
        shape = s.result()
        assert shape.nul is True
        assert shape.records.longest == 39  # the CR before an LF is the line end's, not the record's
        assert shape.records.count == 4
    clean = csvscan.Scanner()
    clean.feed(text.replace(b"\0", b"0"))
    assert clean.result().nul is False


def test_facts_are_given_only_for_csv_cells(tmp_path):
    csv_file = describe(write_csv(tmp_path / "nga.csv", api_rows("NGA", NGA)))
    facts = cell_facts([csv_file])
    assert facts["nul_free"] is True
    assert 0 < facts["line_bytes_at_most"] < 300
    assert cell_facts([]) == {}


def test_clean_csv_imports_with_the_tests_left_out(dtm_store, tmp_path):
    result = import_files(dtm_store, "dtm", [write_csv(tmp_path / "nga.csv", api_rows("NGA", NGA))])
    assert result.status == "committed", result.report.flat()
    assert result.inserted == len(NGA)


def test_nul_byte_in_a_csv_cell_is_still_found(dtm_store, tmp_path):
    rows = api_rows("NGA", NGA)
    rows[3]["admin1Name"] = "Bor\0no"
    path = write_csv(tmp_path / "nga.csv", rows)
    assert describe(path).shape.nul
    result = import_files(dtm_store, "dtm", [path])
    assert result.status == "rejected"
    found = [(f.code, f.row) for f in result.report.errors if f.code == "encoding"]
    assert found == [("encoding", 6)]  # header, HXL row, then the fourth data row
    assert dtm_store.scalar("SELECT count(*) FROM rec_dtm_idps") == 0


@pytest.mark.parametrize("size", [MAX_CELL_CHARS + 1, 3 * MAX_CELL_CHARS])
def test_cell_over_the_limit_in_a_csv_is_still_found(dtm_store, tmp_path, size):
    """Below the 1 MiB line limit (which the scan reports before parsing), above the cell limit."""
    rows = api_rows("NGA", NGA)
    rows[2]["operation"] = "x" * size
    result = import_files(dtm_store, "dtm", [write_csv(tmp_path / "nga.csv", rows)])
    assert result.status == "rejected"
    assert [(f.code, f.row) for f in result.report.errors if f.code == "cell-too-long"] == [("cell-too-long", 5)]


def test_line_near_the_limit_keeps_the_test(dtm_store, tmp_path):
    """A line longer than half the cell limit keeps the per-cell test (a cell may grow when normalised); a cell
    just under the limit passes it."""
    rows = api_rows("NGA", NGA)
    rows[2]["operation"] = "x" * (MAX_CELL_CHARS - 10)
    result = import_files(dtm_store, "dtm", [write_csv(tmp_path / "nga.csv", rows)])
    assert result.status == "committed", result.report.flat()


def test_nul_escaped_in_json_is_found(dtm_store, tmp_path):
    """A JSON string spells a NUL as an escape: no NUL byte in the file, so JSON cells get no facts."""
    rows = api_rows("NGA", NGA)
    rows[1]["operation"] = "Nigeria\u0000North-East"
    path = write_json(tmp_path / "nga.json", rows)
    assert b"\0" not in path.read_bytes()
    result = import_files(dtm_store, "dtm", [path])
    assert result.status == "rejected"
    assert [f.code for f in result.report.errors] == ["encoding"]
