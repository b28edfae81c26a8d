"""One way to reject: import verbs return their report (an `Outcome`), never raise for bad input; the CLI turns a
rejected outcome into exit code 1 with the report on stderr, through one helper (`passage.cli.render.accepted`)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from passage.findings import Outcome, Report, expect_accepted
from passage.places import import_lengths, import_pcodes

PCODE_HEADER = "Location,Admin Level,P-Code,Name,Parent P-Code,Valid from date\n#country,#adm,#pcode,#name,#parent,#date\n"
LENGTH_HEADER = ("Location,Country Length,Admin 1 Length,Admin 2 Length,Admin 3 Length\n"
                 "#country,#length,#length+adm1,#length+adm2,#length+adm3\n")


def places(store) -> list[tuple]:
    return store.query("SELECT code, name FROM places WHERE level > 0 ORDER BY code")


def lengths(store) -> list[tuple]:
    return store.query("SELECT * FROM pcode_lengths ORDER BY 1")


def test_a_bad_pcode_table_is_a_located_report_and_changes_nothing(store, tmp_path):
    before = places(store)
    missing = tmp_path / "no-name.csv"
    missing.write_text("Location,Admin Level,P-Code\n#country,#adm,#pcode\nNGA,1,NG001\n", encoding="utf-8")
    outcome = import_pcodes(store, missing)
    assert not outcome.ok and outcome.value is None
    assert {(f.row, f.column, f.code) for f in outcome.report.errors} == {
        (1, "Name", "column-missing"), (1, "Parent P-Code", "column-missing"), (1, "Valid from date", "column-missing")}

    level = tmp_path / "level.csv"
    level.write_text(PCODE_HEADER + "NGA,1,NG001,Abia,NGA,\nNGA,one,NG002,Adamawa,NGA,\n", encoding="utf-8")
    outcome = import_pcodes(store, level)
    assert outcome.report.flat() == [(4, "Admin Level", "type-integer")]
    assert places(store) == before

    good = tmp_path / "good.csv"
    good.write_text(PCODE_HEADER + "NGA,1,NG001,Abia (new name),NGA,\n", encoding="utf-8")
    outcome = import_pcodes(store, good)
    assert outcome.ok and outcome.value == 1
    assert ("NG001", "Abia (new name)") in places(store)


def test_a_length_that_is_no_number_is_a_finding_not_a_crash(store, tmp_path):
    before = lengths(store)
    path = tmp_path / "lengths.csv"
    path.write_text(LENGTH_HEADER + "NGA,2,3,6,\nTCD,three,4,6,\n", encoding="utf-8")
    outcome = import_lengths(store, path)
    assert not outcome.ok
    (finding,) = outcome.report.errors
    assert (finding.row, finding.column, finding.code, finding.value) == (4, "Country Length", "type-integer", "three")
    assert lengths(store) == before


def test_expect_accepted_is_for_passages_own_input():
    report = Report()
    assert expect_accepted(Outcome(report, 3), "a packaged table").value == 3
    from passage.findings import Finding

    report.add(Finding("file-empty", "no header", file="pcodes.csv"))
    with pytest.raises(RuntimeError, match="a packaged table was rejected: rejected: 1 errors"):
        expect_accepted(Outcome(report), "a packaged table")


# ---- the CLI: exit code 1 and the report on stderr, for every import verb ----------------------------------

@pytest.fixture
def run(store_path):
    from passage.cli import main

    return lambda *args: CliRunner().invoke(main, ["--db", str(store_path), "-q", *args])


def test_places_import_rejected_exits_1_with_the_report(run, tmp_path):
    bad = tmp_path / "pcodes.csv"
    bad.write_text("Location,Admin Level\n#country,#adm\n", encoding="utf-8")
    result = run("places", "import", str(bad))
    assert result.exit_code == 1
    assert "Rejected: 4 error(s); nothing was imported." in result.stderr and "column-missing" in result.stderr

    good = tmp_path / "good.csv"
    good.write_text(PCODE_HEADER + "NGA,1,NG001,Abia,NGA,\n", encoding="utf-8")
    bad_lengths = tmp_path / "lengths.csv"
    bad_lengths.write_text(LENGTH_HEADER + "NGA,two,3,6,\n", encoding="utf-8")
    result = run("places", "import", str(good), "--lengths", str(bad_lengths))
    assert result.exit_code == 1 and "1 P-codes imported" in result.stdout and "type-integer" in result.stderr


def test_boundaries_import_rejected_exits_1_with_the_report(run, tmp_path):
    bad = tmp_path / "shapes.geojson"
    bad.write_text(json.dumps({"type": "Feature"}), encoding="utf-8")
    result = run("import", "boundaries", str(bad))
    assert result.exit_code == 1
    assert "nothing was imported" in result.stderr and "boundary.not_geojson" in result.stderr
    assert "shapes.geojson" in result.stderr


def test_offices_import_rejected_exits_1_with_the_pack_code(run, tmp_path):
    bad = tmp_path / "offices.csv"
    bad.write_text("code,name,kind,parent,iso3\nHQ,Headquarters,hq,,CHE\nRO-X,Region X,regional,HQ,XXX\n",
                   encoding="utf-8")
    result = run("offices", "import", str(bad))
    assert result.exit_code == 1
    assert "institutional.office-country-unknown" in result.stderr
    assert run("offices", "list").stdout.count("RO-X") == 0


# ---- user mistakes are usage errors with a code, never a bare ValueError --------------------------------------

def test_two_form_ids_that_would_share_a_record_table_are_a_usage_error(run, tmp_path):
    """`site-visit` installs (its table is rec_site_visit); `site_visit` would share that table: refused."""
    import openpyxl

    for form_id in ("site-visit", "site_visit"):
        wb = openpyxl.Workbook()
        wb.active.title = "survey"
        wb.active.append(["type", "name", "label"])
        wb.active.append(["integer", "households", "Households"])
        settings = wb.create_sheet("settings")
        settings.append(["form_id", "version"])
        settings.append([form_id, "1"])
        wb.save(tmp_path / f"{form_id}.xlsx")
    assert run("forms", "install", str(tmp_path / "site-visit.xlsx")).exit_code == 0
    result = run("forms", "install", str(tmp_path / "site_visit.xlsx"))
    assert result.exit_code == 2
    assert "form id 'site_visit' would share the record table rec_site_visit with the installed form 'site-visit'" \
        in result.stderr


def test_writing_without_an_output_file_or_in_an_unknown_format_is_a_usage_error(tmp_path):
    import pyarrow as pa

    from passage.errors import UsageError
    from passage.publish import write
    from passage.publish.tables import PublishedTable

    table = PublishedTable("counts", "Counts", pa.table({"n": [1, 2]}))
    for fmt, path, code in (("xlsx", None, "usage.output"), ("docx", tmp_path / "counts.docx", "usage.format")):
        with pytest.raises(UsageError) as exc:
            write(table, fmt, path)
        assert exc.value.code == code
