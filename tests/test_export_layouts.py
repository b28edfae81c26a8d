"""Real export layouts read by `passage import xlsform-data`: KoboToolbox CSV (`;`, `,`) and XLSX with XML
names or labels as headers and any group separator, media `_URL` columns, ODK Central's CSV zip (repeats
linked by KEY / PARENT_KEY, split geopoints), `--sheet`, and formulas outside form values.

The exports are written by tests/xlsform_exports.py from generated submissions, so every layout holds the
same data: each import is compared value by value with what was generated.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

import xlsform_exports as X
from passage.forms import compile_xlsform, install_form
from passage.forms.registry import view_name
from passage.ingest import import_files
from xlsforms import write_xlsform

FIXTURES = Path(__file__).parent / "fixtures" / "xlsform"


def site_form(path: Path) -> Path:
    """A site visit form: groups, a geopoint, a photo, a select_multiple, two fields labelled "Age", and a
    repeat of visits with its own geopoint."""
    return write_xlsform(path, [
        ("type", "name", "label", "required", "constraint", "relevant"),
        ("begin_group", "site", "Site", "", "", ""),
        ("text", "site_name", "Site name", "yes", "", ""),
        ("geopoint", "gps", "Location", "yes", "", ""),
        ("image", "photo", "Photo of the site", "", "", ""),
        ("end_group", "", "", "", "", ""),
        ("begin_group", "hoh", "Head of household", "", "", ""),
        ("integer", "hoh_age", "Age", "yes", ". >= 15 and . <= 110", ""),
        ("select_one yes_no", "married", "Married?", "yes", "", ""),
        ("end_group", "", "", "", "", ""),
        ("integer", "spouse_age", "Age", "", ". >= 15", "${married} = 'yes'"),
        ("select_multiple needs", "needs", "Needs", "", "", ""),
        ("begin_repeat", "visits", "Visits", "", "", ""),
        ("date", "visit_date", "Visit date", "yes", ". <= today()", ""),
        ("integer", "visitors", "Visitors", "", ". >= 0", ""),
        ("geopoint", "visit_gps", "Where", "", "", ""),
        ("end_repeat", "", "", "", "", ""),
    ], [("list_name", "name", "label"), ("yes_no", "yes", "Yes"), ("yes_no", "no", "No"), ("needs", "water", "Water"),
        ("needs", "food", "Food"), ("needs", "health", "Health care")],
        {"form_title": "Site visits", "form_id": "site_visits", "version": "3"})


@pytest.fixture(scope="module")
def household():
    form = compile_xlsform(FIXTURES / "household_survey.xlsx")
    return form, X.submissions(form, n=6, seed=3)


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    form = compile_xlsform(site_form(tmp_path_factory.mktemp("form") / "site_visits.xlsx"))
    return form, X.submissions(form, n=5, seed=7)


def run(store, form, path: Path, **kw):
    return import_files(store, "xlsform-data", [path], form_id=form.form_id, user="im-officer", **kw)


def _text(v) -> str | None:
    """A stored value as the XML value it came from."""
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float):
        return X._fmt(v)
    return str(v)


def stored(store, form, repeat: str | None = None) -> dict[str, dict[str, str | None]]:
    """Record id -> {field path: value as text} of the current records (of one repeat)."""
    fields = X.level_fields(form, repeat)
    view = view_name(form.form_id, repeat)
    cols = ", ".join(f'"{f.name}"' for f in fields)
    rows = store.query(f"SELECT _record_id, {cols} FROM {view}")
    return {r[0]: {f.path: _text(v) for f, v in zip(fields, r[1:])} for r in rows}


def expected(form, subs, repeat: str | None = None) -> dict[str, dict[str, str | None]]:
    """Record id -> {field path: value} as the generator made them (repeat ids as ODK names instances)."""
    fields = X.level_fields(form, repeat)
    if repeat is None:
        return {s["_uuid"]: {f.path: s[f.path] for f in fields} for s in subs}
    out = {}
    rpath = X.repeat_path(form, repeat)
    for s in subs:
        for k, inst in enumerate(s.get(rpath, []), start=1):
            out[f"{s['_uuid']}/{X.repeat_name(form, repeat)}[{k}]"] = {f.path: inst[f.path] for f in fields}
    return out


LAYOUTS = ["kobo-csv-semicolon", "kobo-csv-comma-dash", "kobo-xlsx", "kobo-xlsx-colon", "odk-central-zip",
           "kobo-xlsx-labels", "kobo-csv-labels"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_household_round_trip(store, tmp_path, household, layout):
    form, subs = household
    files = X.write_all(form, subs, tmp_path)
    assert set(files) == set(LAYOUTS)  # the household form's labels are unique: label layouts too
    install_form(store, form)
    r = run(store, form, files[layout])
    assert r.status == "committed", [f for f in r.report.findings if f.severity == "error"]
    assert stored(store, form) == expected(form, subs)
    if "csv" in layout and "zip" not in layout:
        assert store.scalar(f"SELECT count(*) FROM {view_name(form.form_id, 'members')}") == 0
    else:
        assert stored(store, form, "members") == expected(form, subs, "members")
    assert all(w.code in ("sheet-missing", "column-missing") for w in r.report.warnings), r.report.warnings


@pytest.mark.parametrize("layout", ["kobo-csv-semicolon", "kobo-xlsx-colon", "odk-central-zip"])
def test_site_round_trip_media_geopoints(store, tmp_path, sites, layout):
    form, subs = sites
    files = X.write_all(form, subs, tmp_path)
    assert "kobo-xlsx-labels" not in files  # two fields share the label "Age"
    install_form(store, form)
    r = run(store, form, files[layout])
    assert r.status == "committed", r.report.findings
    assert r.report.warnings == [] or {w.code for w in r.report.warnings} == {"sheet-missing"}
    got = stored(store, form)
    assert got == expected(form, subs)
    first = got[subs[0]["_uuid"]]
    assert len(first["site/gps"].split()) == 4  # ODK's four columns, one geopoint again
    if layout != "kobo-csv-semicolon":
        assert stored(store, form, "visits") == expected(form, subs, "visits")


def test_media_url_columns_are_not_form_data(store, tmp_path, sites):
    form, subs = sites
    path = X.write_kobo_csv(form, subs, tmp_path / "kobo.csv")
    header = path.read_text(encoding="utf-8").splitlines()[0]
    assert '"site/photo_URL"' in header and '"_gps_latitude"' in header
    install_form(store, form)
    r = run(store, form, path)
    assert r.status == "committed"
    assert not [f for f in r.report.findings if f.column and f.column.endswith("_URL")]


def test_odk_zip_layout_and_keys(store, tmp_path, sites):
    form, subs = sites
    path = X.write_odk_zip(form, subs, tmp_path / "odk.zip")
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["site_visits-visits.csv", "site_visits.csv"]
        head = z.read("site_visits.csv").decode().splitlines()[0].split(",")
        child = z.read("site_visits-visits.csv").decode().splitlines()[1].split(",")
    assert head[0] == "SubmissionDate" and "site-gps-Latitude" in head and "site-gps-Accuracy" in head
    assert child[-2] == "uuid:" + subs[0]["_uuid"] and child[-1].endswith("/visits[1]")
    install_form(store, form)
    r = run(store, form, path)
    assert r.status == "committed", r.report.findings
    times = dict(store.query(f"SELECT _record_id, _submission_time FROM {form.form_id}"))
    assert times[subs[0]["_uuid"]] == dt.datetime.fromisoformat(subs[0]["_submission_time"])


def _rewrite_zip(path: Path, edit) -> Path:
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    parts = edit(parts)
    with zipfile.ZipFile(path, "w") as z:
        for n, data in parts.items():
            z.writestr(n, data)
    return path


def test_odk_zip_bad_parent_key_and_missing_longitude(store, tmp_path, sites):
    form, subs = sites
    install_form(store, form)

    def orphan(parts):
        text = parts["site_visits-visits.csv"].decode()
        parts["site_visits-visits.csv"] = text.replace("uuid:" + subs[1]["_uuid"] + ",", "uuid:nobody,", 1).encode()
        return parts

    r = run(store, form, _rewrite_zip(X.write_odk_zip(form, subs, tmp_path / "orphan.zip"), orphan))
    assert r.status == "rejected"
    bad = [(f.code, f.file, f.sheet, f.column) for f in r.report.errors]
    assert ("parent-unknown", "orphan.zip", "site_visits-visits.csv", "_parent_index") in bad

    def no_longitude(parts):
        lines = parts["site_visits.csv"].decode().splitlines()
        k = lines[0].split(",").index("site-gps-Longitude")
        parts["site_visits.csv"] = "\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != k)
                                             for line in lines).encode()
        return parts

    r = run(store, form, _rewrite_zip(X.write_odk_zip(form, subs, tmp_path / "nolon.zip"), no_longitude))
    assert r.status == "rejected"
    assert [(f.code, f.sheet, f.row, f.column) for f in r.report.errors] == [
        ("column-missing", "site_visits.csv", 1, "site/gps")]
    assert store.scalar(f"SELECT count(*) FROM {form.form_id}") == 0


def test_labels_shared_by_two_fields_are_a_finding(store, tmp_path, sites):
    form, subs = sites
    install_form(store, form)
    r = run(store, form, X.write_kobo_xlsx(form, subs, tmp_path / "labels.xlsx", headers="label", group_sep=""))
    assert r.status == "rejected"
    found = [(f.code, f.sheet, f.row, f.column) for f in r.report.errors]
    assert found == [("column-unexpected", "Site visits", 1, "Age"), ("column-unexpected", "Site visits", 1, "Age")]
    assert "several fields (hoh/hoh_age, spouse_age)" in r.report.errors[0].message


def test_labels_match_ignoring_case_and_spaces(store, tmp_path, household):
    form, subs = household
    path = X.write_kobo_csv(form, subs, tmp_path / "labels.csv", headers="label", group_sep="")
    text = path.read_text(encoding="utf-8")
    text = text.replace('"How many people live in this household?"', '"HOW MANY people  live in this household? "')
    path.write_text(text, encoding="utf-8")
    install_form(store, form)
    r = run(store, form, path)
    assert r.status == "committed", r.report.findings
    assert stored(store, form) == expected(form, subs)


def test_sheet_option(store, tmp_path, household):
    form, subs = household
    path = X.write_kobo_xlsx(form, subs, tmp_path / "report.xlsx", main_sheet="Data", before=["Read me", "Pivot"])
    install_form(store, form)
    r = run(store, form, path)  # the first sheet holds no records: the sheet that does is named
    assert r.status == "rejected"
    assert [(f.code, f.sheet) for f in r.report.errors] == [("sheet-missing", "Read me")]
    assert "import it with --sheet 'Data'" in r.report.errors[0].message
    missing = run(store, form, path, options={"sheet": "Records"})
    assert missing.status == "rejected"
    [f] = missing.report.errors
    assert (f.code, f.file, f.sheet) == ("sheet-missing", "report.xlsx", "Records")
    assert "'Read me', 'Pivot', 'Data', 'members'" in f.message
    ok = run(store, form, path, options={"sheet": " data "})  # case and spaces aside
    assert ok.status == "committed", ok.report.findings
    assert stored(store, form) == expected(form, subs)
    assert stored(store, form, "members") == expected(form, subs, "members")


def test_sheet_option_is_typed(store):
    from passage.errors import UsageError
    from passage.ingest.xlsform_data import XlsformDataImporter

    assert XlsformDataImporter(sheet="Data").options.sheet == "Data"
    with pytest.raises(UsageError):
        XlsformDataImporter(year=2024)


def _cache(path: Path, sheet_no: int, values: dict[str, str]) -> Path:
    """Store a cached value for formula cells (what Excel saves; openpyxl writes formulas without one)."""
    def edit(parts):
        name = f"xl/worksheets/sheet{sheet_no}.xml"
        xml = parts[name].decode()
        for ref, value in values.items():
            xml, n = re.subn(rf'<c r="{ref}"([^>]*)><f>(.*?)</f><v\s*/?>(?:</v>)?</c>',
                             rf'<c r="{ref}" t="str"><f>\2</f><v>{value}</v></c>', xml)
            assert n == 1, ref
        parts[name] = xml.encode()
        return parts

    return _rewrite_zip(path, edit)


def test_formula_outside_form_fields(store, tmp_path, household):
    form, subs = household
    path = X.write_kobo_xlsx(form, subs, tmp_path / "links.xlsx")
    wb = openpyxl.load_workbook(path)
    ws = wb[form.title]
    width = ws.max_column
    ws.cell(1, width + 1, "link")
    uuid_col = [c.value for c in ws[1]].index("_uuid") + 1
    for row in range(2, ws.max_row + 1):
        ws.cell(row, width + 1, f'=HYPERLINK("https://kf.kobotoolbox.org/#/forms/x/{row}", "open")')
    ws.cell(2, uuid_col, '=LOWER("X")')  # a submission id written as a formula: its cached value is read
    wb.save(path)
    ref = f"{openpyxl.utils.get_column_letter(uuid_col)}2"
    _cache(path, 1, {ref: subs[0]["_uuid"]})
    install_form(store, form)
    r = run(store, form, path)
    assert r.status == "committed", r.report.findings
    assert stored(store, form) == expected(form, subs)
    assert [(w.code, w.column) for w in r.report.warnings] == [("column-unexpected", "link")]


def test_formula_in_a_form_field_is_refused(store, tmp_path, household):
    form, subs = household
    path = X.write_kobo_xlsx(form, subs, tmp_path / "formula.xlsx")
    wb = openpyxl.load_workbook(path)
    ws = wb[form.title]
    col = [c.value for c in ws[1]].index("household/hh_size") + 1
    ws.cell(3, col, "=2+3")
    wb.save(path)
    install_form(store, form)
    r = run(store, form, path)
    assert r.status == "rejected"
    assert [(f.code, f.sheet, f.row, f.column) for f in r.report.errors] == [
        ("formula", form.title, 3, "household/hh_size")]


def test_sheet_option_on_a_csv_is_said(store, tmp_path, household):
    form, subs = household
    install_form(store, form)
    r = run(store, form, X.write_kobo_csv(form, subs, tmp_path / "kobo.csv"), options={"sheet": "Data"})
    assert r.status == "committed"
    assert ("sheet-missing", "kobo.csv") in [(w.code, w.file) for w in r.report.warnings]


def test_label_that_is_another_fields_name(store, tmp_path):
    """`travellers` is labelled "Travellers", and its case twin `Travellers` "Travellers (case twin)": in a
    labels export the column "Travellers" is the first field's label, not the twin's name."""
    form = compile_xlsform(Path(__file__).parent / "fixtures" / "xlsform_corpus" / "field" / "flow_monitoring.xlsx")
    subs = X.submissions(form, n=4, seed=2)
    install_form(store, form)
    r = run(store, form, X.write_kobo_csv(form, subs, tmp_path / "labels.csv", headers="label", group_sep=""))
    assert r.status == "committed", r.report.errors
    assert stored(store, form) == expected(form, subs)


def awkward_form(path: Path) -> Path:
    """Names real forms use that are not SQL identifiers: hyphens, one name in two groups, SQL keywords,
    a repeat with a hyphen in its name."""
    return write_xlsform(path, [
        ("type", "name", "label", "required", "constraint"),
        ("begin_group", "hoh", "Head of household", "", ""),
        ("integer", "age", "Age of the head", "yes", ". >= 15"),
        ("end_group", "", "", "", ""),
        ("begin_group", "spouse", "Spouse", "", ""),
        ("integer", "age", "Age of the spouse", "", ". >= 15"),
        ("end_group", "", "", "", ""),
        ("integer", "hh-size", "Household size", "yes", ". >= ${hh-size} - 100"),
        ("select_one yn", "group", "In a group?", "", ""),
        ("geopoint", "where", "Location", "", ""),
        ("begin_repeat", "member-list", "Members", "", ""),
        ("text", "order", "Member name", "yes", ""),
        ("end_repeat", "", "", "", ""),
    ], [("list_name", "name", "label"), ("yn", "yes", "Yes"), ("yn", "no", "No")],
        {"form_title": "Awkward names", "form_id": "awkward-names"})


@pytest.mark.parametrize("layout", ["kobo-csv-comma-dash", "kobo-xlsx", "odk-central-zip", "kobo-xlsx-labels"])
def test_names_that_are_not_sql_identifiers(store, tmp_path, layout):
    form = compile_xlsform(awkward_form(tmp_path / "awkward.xlsx"))
    assert len({f.name for f in form.fields}) == len(form.fields)  # storage names are unique
    subs = X.submissions(form, n=4, seed=5)
    files = X.write_all(form, subs, tmp_path)
    install_form(store, form)
    r = run(store, form, files[layout])
    assert r.status == "committed", r.report.errors
    assert stored(store, form) == expected(form, subs)
    if "csv" not in layout or "zip" in layout:
        [rep] = form.repeats
        assert stored(store, form, rep) == expected(form, subs, rep)


@pytest.mark.parametrize("group_sep", ["", ".", ":"])
def test_group_separators_and_no_group_names(store, tmp_path, household, group_sep):
    form, subs = household
    path = X.write_kobo_xlsx(form, subs, tmp_path / "kobo.xlsx", group_sep=group_sep)
    header = next(openpyxl.load_workbook(path, read_only=True)["members"].iter_rows(max_row=1, values_only=True))
    assert header[0] == {"": "member_sex", ".": "household.members.member_sex",
                               ":": "household:members:member_sex"}[group_sep]
    install_form(store, form)
    r = run(store, form, path)
    assert r.status == "committed", r.report.errors
    assert stored(store, form) == expected(form, subs)
    assert stored(store, form, "members") == expected(form, subs, "members")


@pytest.mark.parametrize("layout", ["odk-central-zip", "kobo-xlsx-labels"])
def test_layouts_on_both_stores(any_store, tmp_path, household, layout):
    form, subs = household
    install_form(any_store, form)
    r = run(any_store, form, X.write_all(form, subs, tmp_path)[layout])
    assert r.status == "committed", r.report.errors
    assert stored(any_store, form) == expected(form, subs)
    assert stored(any_store, form, "members") == expected(form, subs, "members")


def test_the_portal_and_api_take_the_sheet(seeded_portal_store, tmp_path, household):
    """The portal's import form and POST /api/v1/imports pass `sheet` to the importer as --sheet does."""
    from passage.store import open_store
    from portal import copy_store, serve

    form, subs = household
    path = X.write_kobo_xlsx(form, subs, tmp_path / "report.xlsx", main_sheet="Data", before=["Read me"])
    db, accounts = seeded_portal_store
    copy = copy_store(db, tmp_path)
    with open_store(str(copy)) as s:
        install_form(s, form)
    running = serve(str(copy), accounts)
    try:
        admin = running.client("admin")
        csrf = admin.get("/import").text.split('name="csrf_token" value="')[1].split('"')[0]

        def post(url: str, file: Path = path, **data: str):
            with file.open("rb") as fh:
                return admin.post(url, data={"kind": "xlsform-data", "form": form.form_id, "csrf_token": csrf, **data},
                                  files={"file": (file.name, fh, "application/octet-stream")})

        first = post("/api/v1/imports")
        assert first.status_code == 422 and "--sheet 'Data'" in first.text
        api = post("/api/v1/imports", sheet="Data")
        assert api.status_code == 200, api.text[:500]
        assert api.json()["inserted"] == len(subs)
        more = X.write_kobo_xlsx(form, X.submissions(form, n=3, seed=11), tmp_path / "more.xlsx", main_sheet="Data",
                                 before=["Read me"])
        page = post("/import", more, sheet=" data ", update="true")
        assert page.status_code == 200 and 'data-status="committed"' in page.text, page.text[-3000:]
        admin.close()
    finally:
        running.stop()
