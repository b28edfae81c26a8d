"""The travel pack and its importers: oxcgrt, cobap, acaps.

Known answers are computed in the tests with csv / openpyxl / zipfile over the same files, or were looked up
in the real files by hand (said where).
"""

from __future__ import annotations

import csv
import re
import sys
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from cli_run import passage_cli
from passage.ingest import import_files
from passage.plugins import install_pack, load_pack
from travel_fixtures import COBAP_COLUMNS, cobap_rows, oxcgrt_long, write_cobap

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
OXCGRT = SHARED / "oxcgrt" / "c8_internationaltravel_subset.csv"
ACAPS = SHARED / "acaps" / "acaps_covid19_government_measures_dataset.xlsx"
MISSING = {"", "na", "nan", "."}


def count(store, form: str) -> int:
    return store.scalar(f"SELECT count(*) FROM rec_{form}")


def rejected(store, kind: str, path: Path, form: str) -> list[tuple]:
    """Import a bad file: it must be rejected with the store unchanged; returns (row, column, code) triples."""
    install_pack(store, "travel")
    before = count(store, form)
    result = import_files(store, kind, [path])
    assert result.status == "rejected", result.report.summary()
    assert count(store, form) == before
    return [(f.row, f.column, f.code) for f in result.report.errors]


# --------------------------------------------------------------------------- the pack


def test_pack_installs_its_forms(store):
    pack = install_pack(store, "travel")
    assert sorted(pack.forms) == ["poe", "poe_assessment", "travel_level", "travel_measure"]
    for form in pack.forms:
        assert store.scalar(f"SELECT count(*) FROM {form}") == 0
    measure = pack.forms["travel_measure"]
    assert measure.field("subcategory").choices[:2] == ["complete_closure", "border_closure"]
    assert measure.field("action").choices == ["introduce", "phase_out"]
    assert pack.records["travel_level"]["key"] == ["source", "iso3", "indicator", "date"]
    assert pack.records["poe_assessment"]["key"] == ["poe_code", "assessment_date"]


def test_committed_forms_match_their_builder():
    sys.path.insert(0, str(ROOT / "tools"))
    import build_travel_forms

    pack = load_pack("travel")
    for form_id, _, survey, choices in build_travel_forms.FORMS:
        assert [f.name for f in pack.forms[form_id].fields] == [row[1] for row in survey]
        wb = openpyxl.load_workbook(ROOT / "src/passage/packs/travel/forms" / f"{form_id}.xlsx", read_only=True)
        assert [tuple(r[:3]) for r in wb["choices"].iter_rows(min_row=2, values_only=True)] == \
            [tuple(c[:3]) for c in choices]
        wb.close()


def test_poe_registry_and_assessments_import_as_csv(store, tmp_path):
    install_pack(store, "travel")
    poes = tmp_path / "poes.csv"
    poes.write_text("code,name,poe_type,blue_border_kind,iata_code,iso3,admin1_pcode,latitude,longitude,neighbour_iso3\n"
                    "KEN-AP-1,Jomo Kenyatta,airport,,NBO,KEN,KE047,-1.32,36.93,\n"
                    "KEN-LB-1,Namanga,land_border,,,KEN,,-2.54,36.79,TZA\n", encoding="utf-8")
    assert import_files(store, "xlsform-data", [poes], form_id="poe").status == "committed"
    bad = tmp_path / "bad_poes.csv"
    bad.write_text("code,poe_type,iata_code,iso3,latitude\nX1,land_border,NBO,KEN,95\n", encoding="utf-8")
    result = import_files(store, "xlsform-data", [bad], form_id="poe")
    assert {(f.column, f.code) for f in result.report.errors} == {("iata_code", "not-relevant"),
                                                                 ("latitude", "constraint")}


# --------------------------------------------------------------------------- OxCGRT


def _wide_cells(path: Path) -> dict[tuple[str, str], int]:
    """(ISO3, ISO date) -> level, read with csv: what the import must hold."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    cells = {}
    for row in rows[1:]:
        for head, value in zip(header[3:], row[3:]):
            if value.strip().lower() not in MISSING:
                day = datetime.strptime(head, "%d%b%Y").date().isoformat()
                cells[(row[header.index("country_code")], day)] = int(float(value))
    return cells


def test_oxcgrt_wide_subset_known_answers(store):
    result = import_files(store, "oxcgrt", [OXCGRT])
    assert result.status == "committed", result.report.summary()
    expected = _wide_cells(OXCGRT)
    assert result.inserted == len(expected) == count(store, "travel_level")
    stored = {(iso3, str(day)): value for iso3, day, value in store.query(
        "SELECT iso3, date, value FROM travel_level WHERE source = 'oxcgrt' AND indicator = 'C8'")}
    for key in [("ITA", "2020-03-20"), ("ABW", "2020-01-01"), ("IND", "2021-06-01"), ("ZWE", "2022-12-31"),
                ("NPL", "2020-07-15")]:
        assert stored[key] == expected[key], key
    assert stored == expected
    # "NA" after 2022: no row at all (no data), not a zero
    assert store.scalar("SELECT max(date) FROM travel_level") == date(2022, 12, 31)
    # provenance: the row is the file line (header = line 1)
    with OXCGRT.open(encoding="utf-8", newline="") as fh:
        line = next(i for i, r in enumerate(csv.reader(fh), start=1) if r[1] == "ITA")
    assert store.scalar("SELECT _source_row FROM travel_level WHERE iso3 = 'ITA' LIMIT 1") == line
    assert import_files(store, "oxcgrt", [OXCGRT]).status == "unchanged"


def _long_cells(path: Path) -> dict[tuple[str, str, str], int]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    cells = {}
    for r in rows:
        if r["Jurisdiction"] != "NAT_TOTAL":
            continue
        for col, value in r.items():
            m = re.fullmatch(r"(C8[A-Z]*)_International travel controls", col)
            if m and value.strip():
                day = datetime.strptime(r["Date"], "%Y%m%d").date().isoformat()
                cells[(r["CountryCode"], m.group(1), day)] = int(float(value))
    return cells


@pytest.mark.parametrize("layout,bom,crlf", [("c8ev", False, False), ("c8", True, True)])
def test_oxcgrt_long_national_file(store, tmp_path, layout, bom, crlf):
    path = oxcgrt_long(tmp_path / "OxCGRT_nat_latest.csv", layout, bom=bom, crlf=crlf)
    result = import_files(store, "oxcgrt", [path])
    assert result.status == "committed", result.report.summary()
    expected = _long_cells(path)
    stored = {(iso3, ind, str(day)): v for iso3, ind, day, v in store.query(
        "SELECT iso3, indicator, date, value FROM travel_level")}
    assert stored == expected
    assert {k[1] for k in stored} == ({"C8EV", "C8NV", "C8V"} if layout == "c8ev" else {"C8"})
    assert not [k for k in stored if k[0].startswith("US_")]  # STATE_TOTAL rows are not national
    warned = [f for f in result.report.warnings if f.code == "travel.country-code-nonstandard"]
    assert [(f.value, f.column) for f in warned] == [("RKS", "CountryCode")]
    assert store.scalar("SELECT count(*) FROM travel_level WHERE iso3 = 'RKS' AND "
                        "_warnings LIKE '%travel.country-code-nonstandard%'") == sum(1 for k in expected if k[0] == "RKS")


def test_oxcgrt_long_any_column_order(store, tmp_path):
    path = oxcgrt_long(tmp_path / "nat.csv", "c8ev", days=10)
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    flipped = tmp_path / "flipped.csv"
    with flipped.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([list(reversed(r)) + ["extra"] for r in rows])
    result = import_files(store, "oxcgrt", [flipped])
    assert result.status == "committed", result.report.summary()
    assert result.inserted == len(_long_cells(path))


def _wide_file(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    return path


WIDE_HEAD = ["", "country_code", "country_name", "01Jan2020", "02Jan2020", "03Jan2020"]


@pytest.mark.parametrize("header,rows,expected", [
    (["", "code", "country_name", "01Jan2020"], [["1", "ABW", "Aruba", "0"]], [(1, "country_code", "column-missing")]),
    (["", "country_code", "country_name", "01Jan2020", "32Jan2020"], [["1", "ABW", "Aruba", "0", "1"]],
     [(1, "32Jan2020", "travel.date-column-invalid")]),
    (WIDE_HEAD, [["1", "ABW", "Aruba", "0", "1", "2"], ["7", "ARG", "Argentina", "3", "7", "NA"]],
     [(3, "02Jan2020", "travel.level-out-of-range")]),
    (WIDE_HEAD, [["1", "ABW", "Aruba", "x", "1", "2.0"]], [(2, "01Jan2020", "travel.level-not-number")]),
    (WIDE_HEAD, [], [(2, None, "file-empty")]),
])
def test_oxcgrt_wide_bad_inputs(store, tmp_path, header, rows, expected):
    path = _wide_file(tmp_path / "c8.csv", header, rows)
    assert rejected(store, "oxcgrt", path, "travel_level") == expected


def test_oxcgrt_long_bad_dates_and_levels(store, tmp_path):
    path = oxcgrt_long(tmp_path / "nat.csv", "c8", days=3, blank_every=1000)
    lines = path.read_text(encoding="utf-8").splitlines()
    head = lines[0].split(",")
    cells = [ln.split(",") for ln in lines[1:]]
    cells[0][head.index("Date")] = "2022-07-01"
    cells[1][head.index("Date")] = ""
    cells[2][head.index("C8_International travel controls")] = "7.0"
    path.write_text("\n".join(",".join(r) for r in [head, *cells]) + "\n", encoding="utf-8")
    assert sorted(rejected(store, "oxcgrt", path, "travel_level"), key=str) == sorted([
        (2, "Date", "travel.date-invalid"), (3, "Date", "travel.date-missing"),
        (4, "C8_International travel controls", "travel.level-out-of-range")], key=str)


def test_oxcgrt_wrong_file_types(store, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert rejected(store, "oxcgrt", empty, "travel_level") == [(None, None, "file-empty")]
    assert rejected(store, "oxcgrt", ACAPS, "travel_level") == [(None, None, "file-unreadable")]
    other = _wide_file(tmp_path / "other.csv", ["a", "b"], [["1", "2"]])
    assert rejected(store, "oxcgrt", other, "travel_level") == [(1, "country_code", "column-missing")]


# --------------------------------------------------------------------------- COBAP


def _cobap_expected(path: Path, fmt: str) -> dict[str, tuple]:
    """ID -> (iso3, date in force, date lifted) read with csv and strptime in the given order: END_DATE is the
    last day in force, the form's date lifted the day after it."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        out = {}
        for r in csv.DictReader(fh):
            end = None if r["END_DATE"] == "NONE" else (
                datetime.strptime(r["END_DATE"], fmt).date() + timedelta(days=1))
            out[r["ID"]] = (r["ISO3"], datetime.strptime(r["START_DATE"], fmt).date(), end)
    return out


def _stored_measures(store, source: str) -> dict[str, tuple]:
    return {sid: (iso3, start, end) for sid, iso3, start, end in store.query(
        "SELECT source_id, iso3, date_in_force, date_lifted FROM travel_measure WHERE source = ?", [source])}


def test_cobap_month_first_as_in_the_wild(store, tmp_path):
    path = write_cobap(tmp_path / "policy_list.csv", "mdy")
    result = import_files(store, "cobap", [path])
    assert result.status == "committed", result.report.summary()
    assert _stored_measures(store, "cobap") == _cobap_expected(path, "%m_%d_%y")
    got = dict(store.query("SELECT source_id, coalesce(category, '') || '/' || coalesce(subcategory, '') "
                           "FROM travel_measure"))
    assert got["AR03"] == "entry_restriction/complete_closure"
    assert got["DZ05"] == "entry_restriction/border_closure"
    assert got["XK01"] == "entry_restriction/nationality_ban"
    assert got["US07"] == "entry_restriction/visa_suspension"
    assert got["SE01"] == "not_travel/"
    native = dict(store.query("SELECT source_id, native_value FROM travel_measure"))
    assert native["DZ05"] == "PARTIAL/BORDER_CLOSURE air,sea"
    assert store.scalar("SELECT date_lifted FROM travel_measure WHERE source_id = 'SA02'") is None  # NONE
    assert store.scalar("SELECT exceptions FROM travel_measure WHERE source_id = 'AI01'") == "nationals residents family"
    warned = {(f.code, f.value) for f in result.report.warnings}
    assert {("travel.country-code-nonstandard", c) for c in ("EUR", "SOL", "XKX")} <= warned
    assert ("travel.date-lifted-before-in-force", "03_23_20 -> 03_17_20") in warned
    # rows are file lines: ES08's comment spans two lines, so XK01 (8th policy) starts on line 10
    assert store.scalar("SELECT _source_row FROM travel_measure WHERE source_id = 'XK01'") == 10
    assert store.scalar("SELECT iso3 FROM travel_measure WHERE source_id = 'NA02'") == "NAM"  # ISO2 "NA"


def test_cobap_day_first_is_detected(store, tmp_path):
    dmy = write_cobap(tmp_path / "dmy.csv", "dmy", bom=True, crlf=True)
    assert import_files(store, "cobap", [dmy]).status == "committed"
    stored = _stored_measures(store, "cobap")
    assert stored == _cobap_expected(dmy, "%d_%m_%y")
    assert stored == _cobap_expected(write_cobap(tmp_path / "mdy.csv", "mdy"), "%m_%d_%y")


def test_cobap_dates_with_a_time_of_day(store, tmp_path):
    """Spreadsheet exports add a time ("3/16/2020 0:00"): the date is read, the time ignored."""
    plain = write_cobap(tmp_path / "plain.csv", "mdy")
    rows = cobap_rows("mdy")
    for r in rows:
        r["START_DATE"] = r["START_DATE"].replace("_", "/") + " 0:00"
        if r["END_DATE"] != "NONE":
            r["END_DATE"] = r["END_DATE"].replace("_", "/") + " 00:00:00"
    timed = write_cobap(tmp_path / "timed.csv", rows=rows)
    assert import_files(store, "cobap", [timed]).status == "committed"
    assert _stored_measures(store, "cobap") == _cobap_expected(plain, "%m_%d_%y")


def test_cobap_ambiguous_dates_need_an_order(store, tmp_path):
    path = write_cobap(tmp_path / "policy_list.csv", ambiguous=True)
    errors = rejected(store, "cobap", path, "travel_measure")
    assert errors == [(None, "START_DATE", "travel.date-order-ambiguous"), (None, "END_DATE", "travel.date-order-ambiguous")]
    result = import_files(store, "cobap", [path])
    assert all(f.file == "policy_list.csv" for f in result.report.errors)
    given = import_files(store, "cobap-mdy", [path])
    assert given.status == "committed"
    assert _stored_measures(store, "cobap") == _cobap_expected(path, "%m_%d_%y")


def test_cobap_mixed_orders_are_rejected(store, tmp_path):
    rows = cobap_rows("mdy")
    rows[3]["START_DATE"] = "24_03_20"  # day first, among month-first dates
    path = write_cobap(tmp_path / "policy_list.csv", rows=rows)
    errors = rejected(store, "cobap", path, "travel_measure")
    assert (5, "START_DATE", "travel.date-order-mixed") in errors
    assert {code for _, _, code in errors} == {"travel.date-order-mixed"}


@pytest.mark.parametrize("change,expected", [
    ({"column": "START_DATE"}, [(1, "START_DATE", "column-missing")]),
    ({"row": 2, "START_DATE": "soon"}, [(4, "START_DATE", "travel.date-invalid")]),
    ({"row": 2, "START_DATE": "NONE"}, [(4, "START_DATE", "travel.date-missing")]),
    ({"row": 0, "END_DATE": "02_30_20"}, [(2, "END_DATE", "travel.date-invalid")]),
    ({"row": 1, "ISO3": ""}, [(3, "iso3", "required")]),
    ({"row": 1, "ID": "AR03"}, [(3, None, "duplicate-key")]),
])
def test_cobap_bad_inputs(store, tmp_path, change, expected):
    rows = cobap_rows("mdy")
    columns = list(COBAP_COLUMNS)
    if "column" in change:
        columns.remove(change["column"])
    else:
        rows[change["row"]].update({k: v for k, v in change.items() if k != "row"})
    path = write_cobap(tmp_path / "policy_list.csv", rows=rows, columns=columns)
    assert rejected(store, "cobap", path, "travel_measure") == expected


def test_cobap_header_in_any_order_and_case(store, tmp_path):
    columns = [c.lower() for c in reversed(COBAP_COLUMNS)] + ["SOURCE0"]
    rows = [{c.lower(): v for c, v in r.items()} for r in cobap_rows("mdy")]
    path = write_cobap(tmp_path / "policy_list.csv", rows=rows, columns=columns)
    assert import_files(store, "cobap", [path]).status == "committed"
    assert _stored_measures(store, "cobap") == _cobap_expected(write_cobap(tmp_path / "p.csv"), "%m_%d_%y")


def test_cobap_wrong_files(store, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    assert rejected(store, "cobap", empty, "travel_measure") == [(None, None, "file-empty")]
    head = tmp_path / "head.csv"
    head.write_text(",".join(COBAP_COLUMNS) + "\n", encoding="utf-8")
    assert rejected(store, "cobap", head, "travel_measure") == [(2, None, "file-empty")]
    assert rejected(store, "cobap", ACAPS, "travel_measure") == [(None, None, "file-unreadable")]


# --------------------------------------------------------------------------- ACAPS

ACAPS_HEADER = ["ID", "ISO", "COUNTRY", "REGION", "ADMIN_LEVEL_NAME", "PCODE", "LOG_TYPE", "CATEGORY", "MEASURE",
                "TARGETED_POP_GROUP", "COMMENTS", "NON_COMPLIANCE", "DATE_IMPLEMENTED", "SOURCE", "SOURCE_TYPE",
                "LINK", "ENTRY_DATE", "Alternative source"]
INTRO, PHASE = "Introduction / extension of measures", "Phase-out measure"
# (ID, ISO, LOG_TYPE, CATEGORY, MEASURE, DATE_IMPLEMENTED)
ACAPS_ROWS = [
    (1, "KEN", INTRO, "Movement restrictions", "Border closure", datetime(2020, 3, 15)),
    (2, "KEN", INTRO, "Movement restrictions", "border closure ", datetime(2020, 4, 1)),
    (3, "KEN", PHASE, "Movement restrictions", "Border closure", datetime(2020, 6, 10)),
    (4, "KEN", INTRO, "Movement restrictions", "Border closure", datetime(2020, 8, 1)),
    (5, "KEN", PHASE, "Movement restrictions", "Border Closure", "13/10/2020"),
    (6, "KEN", INTRO, "Movement restrictions", "International flights suspension", 43910),  # 2020-03-20
    (7, "KEN", INTRO, "Public health measures", "Isolation and quarantine policies", datetime(2020, 3, 20)),
    (8, "KEN", INTRO, "Social distancing", "Schools closure", datetime(2020, 3, 16)),
    (9, "UGA", INTRO, "Movement restrictions", "Border closure", None),
    (10, "UGA", PHASE, "Movement restrictions", "Border closure", datetime(2020, 9, 1)),
    (11, "UGA", "Phase-out measure ", "Public health measures", "Health screenings in airports and border crossings",
     datetime(2020, 9, 1)),
    (12, "UGA", INTRO, "Governance and socio-economic measures", "Some new economic measure", datetime(2020, 5, 1)),
    (13, "UGA", INTRO, "Movement restrictions", "Complete border closure", datetime(2020, 3, 22)),
]


def write_acaps(path: Path, rows=ACAPS_ROWS, header=ACAPS_HEADER, sheet="Dataset") -> Path:
    wb = openpyxl.Workbook()
    wb.active.title = "About"
    wb["About"].append(["#COVID19"])
    ws = wb.create_sheet(sheet)
    ws.append(header)
    for rid, iso, log, cat, measure, day in rows:
        rec = {"ID": rid, "ISO": iso, "COUNTRY": {"KEN": "Kenya", "UGA": "Uganda"}[iso], "REGION": "Africa",
               "LOG_TYPE": log, "CATEGORY": cat, "MEASURE": measure, "NON_COMPLIANCE": "Not available ",
               "DATE_IMPLEMENTED": day, "SOURCE": "Ministry", "SOURCE_TYPE": "Government",
               "LINK": "https://example.org", "ENTRY_DATE": datetime(2020, 10, 20),
               "COMMENTS": "Borders closed except cargo. " if "order" in measure else None}
        ws.append([rec.get(h) for h in header])
    ws.append([])  # trailing blank rows are not measures
    wb.create_sheet("Dictionary").append(["Column", "Variable Name"])
    wb.save(path)
    return path


def _pairing(rows) -> dict[str, date | None]:
    """date_lifted by hand: the next phase-out (on or after) of the same country and measure."""
    def day(v):
        if isinstance(v, datetime):
            return v.date()
        if isinstance(v, int):
            return date.fromordinal(date(1899, 12, 30).toordinal() + v)
        return datetime.strptime(v, "%d/%m/%Y").date() if v else None
    out = {}
    for rid, iso, log, _, measure, d in rows:
        if log.strip() != INTRO or day(d) is None:
            continue
        later = sorted(day(p[5]) for p in rows if p[1] == iso and p[2].strip() == PHASE and day(p[5])
                       and p[4].strip().lower() == measure.strip().lower() and day(p[5]) >= day(d))
        out[str(rid)] = later[0] if later else None
    return out


def test_acaps_generated_workbook(store, tmp_path):
    path = write_acaps(tmp_path / "acaps.xlsx")
    result = import_files(store, "acaps", [path])
    assert result.status == "committed", result.report.summary()
    assert result.inserted == len(ACAPS_ROWS)
    lifted = dict(store.query("SELECT source_id, date_lifted FROM travel_measure WHERE action = 'introduce' "
                              "AND date_in_force IS NOT NULL"))
    assert lifted == _pairing(ACAPS_ROWS)
    assert lifted["1"] == lifted["2"] == date(2020, 6, 10) and lifted["4"] == date(2020, 10, 13)
    rows = {r[0]: r[1:] for r in store.query(
        "SELECT source_id, action, category, subcategory, native_measure, date_in_force, _source_row, _source_sheet "
        "FROM travel_measure")}
    assert rows["2"][3] == "Border closure"  # native text kept, trimmed, as first seen
    assert rows["6"][1:3] == ("entry_restriction", "flight_suspension") and rows["6"][4] == date(2020, 3, 20)
    assert rows["11"][:3] == ("phase_out", "entry_condition", "health_screening")
    assert rows["8"][1] == "not_travel" and rows["12"][1] == "not_travel"  # by measure, by category
    assert rows["7"][1] is None and rows["9"][4] is None
    assert rows["13"][5:] == (14, "Dataset")
    unmapped = {f.value: f.message for f in result.report.warnings if f.code == "travel.category-unmapped"}
    assert list(unmapped) == ["Isolation and quarantine policies"] and "1 rows" in unmapped[
        "Isolation and quarantine policies"]
    assert [(f.row, f.code) for f in result.report.warnings if f.code == "travel.date-in-force-missing"] == [(10, "travel.date-in-force-missing")]


def test_acaps_bad_inputs(store, tmp_path):
    assert rejected(store, "acaps", write_acaps(tmp_path / "a.xlsx", sheet="Data"), "travel_measure") == [
        (None, None, "sheet-missing")]
    assert rejected(store, "acaps", OXCGRT, "travel_measure") == [(None, None, "file-unreadable")]
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    assert rejected(store, "acaps", empty, "travel_measure") == [(None, None, "file-empty")]
    header = [h for h in ACAPS_HEADER if h != "MEASURE"]
    assert rejected(store, "acaps", write_acaps(tmp_path / "b.xlsx", header=header), "travel_measure") == [
        (1, "MEASURE", "column-missing")]
    rows = list(ACAPS_ROWS)
    rows[2] = (3, "KEN", "Extension", "Movement restrictions", "Border closure", datetime(2020, 6, 10))
    rows[4] = (5, "KEN", PHASE, "Movement restrictions", "Border closure", "soon")
    assert rejected(store, "acaps", write_acaps(tmp_path / "c.xlsx", rows=rows), "travel_measure") == [
        (4, "LOG_TYPE", "travel.native-value-unknown"), (6, "DATE_IMPLEMENTED", "travel.date-invalid")]
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    assert rejected(store, "acaps", broken, "travel_measure") == [(None, None, "file-unreadable")]


def _sheet_rows(path: Path, sheet: str) -> int:
    """Data rows of a sheet, counted from the workbook's XML (a different reader than the importer's)."""
    with zipfile.ZipFile(path) as z:
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
        book = z.read("xl/workbook.xml").decode()
        rid = re.search(rf'<sheet[^>]*name="{sheet}"[^>]*r:id="([^"]+)"', book).group(1)
        target = re.search(rf'Id="{rid}"[^>]*Target="([^"]+)"|Target="([^"]+)"[^>]*Id="{rid}"', rels)
        part = (target.group(1) or target.group(2)).lstrip("/")
        xml = z.read(part if part.startswith("xl/") else "xl/" + part).decode()
    rows = re.findall(r"<row [^>]*>(.*?)</row>", xml, flags=re.DOTALL)
    return sum(1 for r in rows[1:] if "<v>" in r or "<is>" in r)


@pytest.fixture(scope="module")
def acaps_store(tmp_path_factory):
    from passage.store import open_store

    path = tmp_path_factory.mktemp("acaps") / "acaps.duckdb"
    with open_store(str(path)) as s:
        result = import_files(s, "acaps", [ACAPS])
        yield s, result


def test_acaps_real_workbook_imports_whole(acaps_store):
    store, result = acaps_store
    assert result.status == "committed", result.report.summary()
    assert result.inserted == _sheet_rows(ACAPS, "Dataset") == 23923
    assert count(store, "travel_measure") == 23923
    # Looked up in the workbook: AFG "International flights suspension" introduced 27/01/2020 (ID 4247) and
    # 01/04/2020 (ID 11020), phased out 24/06/2020 (ID 15032); "Border closure" 24/02/2020 (ID 6) -> 14/05/2020.
    lifted = dict(store.query("SELECT source_id, date_lifted FROM travel_measure WHERE source_id IN "
                              "('4247', '11020', '6', '15032')"))
    assert lifted == {"4247": date(2020, 6, 24), "11020": date(2020, 6, 24), "6": date(2020, 5, 14), "15032": None}
    counts = dict(store.query("SELECT action, count(*) FROM travel_measure GROUP BY action"))
    assert counts == {"introduce": 19445, "phase_out": 4478}
    assert store.scalar("SELECT count(*) FROM travel_measure WHERE date_in_force IS NULL") == 293
    assert result.report.counts["travel.date-in-force-missing"] == 293
    assert store.scalar("SELECT count(*) FROM travel_measure WHERE subcategory = 'border_closure'") == 896


def test_cli_imports_and_rejects(store_path, tmp_path):
    def passage(*args):
        return passage_cli("--db", store_path, *args)

    ok = passage("import", "cobap", str(write_cobap(tmp_path / "policy_list.csv")))
    assert ok.returncode == 0, ok.stderr
    assert "travel.country-code-nonstandard" in ok.stderr
    bad = passage("import", "cobap", str(write_cobap(tmp_path / "amb.csv", ambiguous=True)))
    assert bad.returncode == 1 and "travel.date-order-ambiguous" in bad.stderr


def test_docs_print_the_pack_mappings():
    from passage.packs.travel.importers.mappings import mappings_markdown

    doc = (ROOT / "docs" / "travel.md").read_text(encoding="utf-8")
    shown = doc.split("mappings_markdown() -->\n", 1)[1].split("<!-- mappings end -->", 1)[0]
    assert shown == mappings_markdown(), "docs/travel.md mapping tables are stale: paste mappings_markdown()"


@pytest.mark.parametrize("any_store", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_imports_on_both_backends(any_store, tmp_path):
    cobap = write_cobap(tmp_path / "policy_list.csv")
    assert import_files(any_store, "cobap", [cobap]).status == "committed"
    assert _stored_measures(any_store, "cobap") == _cobap_expected(cobap, "%m_%d_%y")
    nat = oxcgrt_long(tmp_path / "nat.csv", "c8", days=5)
    assert import_files(any_store, "oxcgrt", [nat]).status == "committed"
    assert any_store.scalar("SELECT count(*) FROM travel_level") == len(_long_cells(nat))
    warned = any_store.scalar("SELECT _warnings FROM travel_measure WHERE source_id = 'XK01'")
    assert warned == "travel.country-code-nonstandard"
    before = count(any_store, "travel_measure")
    assert import_files(any_store, "cobap", [write_cobap(tmp_path / "a.csv", ambiguous=True)]).status == "rejected"
    assert count(any_store, "travel_measure") == before
