"""`passage import xlsform-data`: KoboToolbox / ODK exports of an installed XLSForm (CSV, XLSX, repeats).

Real files only: the form and the exports are written by tests/fixtures/xlsform/build.py (openpyxl),
bad variants are written from the same data with one thing wrong.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import openpyxl
import pytest

from passage.forms import compile_xlsform, install_form
from passage.ingest import import_files

FIXTURES = Path(__file__).parent / "fixtures" / "xlsform"
FORM_FILE = FIXTURES / "household_survey.xlsx"
FORM_ID = "household_survey"
MAIN = "rec_household_survey"
MEMBERS = "rec_household_survey__members"

_spec = importlib.util.spec_from_file_location("xlsform_fixtures", FIXTURES / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)


def household_form():
    form = compile_xlsform(FORM_FILE)
    assert form.field("priority_needs").choices == build.NEEDS  # choices come through (pyxform 4 layout)
    return form


@pytest.fixture
def kobo_store(store):
    install_form(store, household_form())
    return store


@pytest.fixture
def kobo_any(any_store):
    install_form(any_store, household_form())
    return any_store


def run(store, path: Path, **kw):
    return import_files(store, "xlsform-data", [path], form_id=FORM_ID, user="im-officer", **kw)


def snapshot(store) -> tuple:
    """What must not change when an import is rejected: the record tables, rows and columns."""
    out = []
    for t in (MAIN, MEMBERS):
        cols = [
            r[0]
            for r in store.query(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "AND table_schema = current_schema() ORDER BY ordinal_position",
                [t],
            )
        ]
        out.append((t, tuple(cols), store.scalar(f"SELECT count(*) FROM {t}")))
    out.append(store.scalar("SELECT count(*) FROM imports WHERE status = 'committed'"))
    return tuple(out)


def errors(result) -> list[tuple]:
    return [(f.code, f.sheet, f.row, f.column) for f in result.report.errors]


# --------------------------------------------------------------------------- good exports


def test_fixtures_are_current(tmp_path):
    """The committed fixtures are what build.py writes (same data; xlsx bytes carry timestamps)."""
    build.build(tmp_path)
    assert (tmp_path / "export.csv").read_bytes() == (FIXTURES / "export.csv").read_bytes()
    for name in ("export.xlsx", "household_survey.xlsx"):
        a = openpyxl.load_workbook(tmp_path / name)
        b = openpyxl.load_workbook(FIXTURES / name)
        assert a.sheetnames == b.sheetnames
        for ws in a.worksheets:
            assert list(ws.values) == list(b[ws.title].values)


def test_kobo_csv_export(kobo_store):
    before = snapshot(kobo_store)
    r = run(kobo_store, FIXTURES / "export.csv")
    assert r.status == "committed", r.report.findings
    assert (r.inserted, r.rows_read) == (6, 6)
    # a CSV export has no repeat rows: said once, as a warning
    assert [(w.code, w.file) for w in r.report.warnings] == [("sheet-missing", "export.csv")]
    rows = kobo_store.query(
        "SELECT _record_id, _uuid, _submission_time, site_code, assessment_date, site_type, hh_size, "
        "has_children, "
        "num_children, priority_needs, water_source, _source_row, _source_sheet, _user "
        f"FROM {FORM_ID} ORDER BY _source_row"
    )
    assert len(rows) == 6
    first = rows[0]
    assert first[0] == first[1] == build.uuid_of(1)
    assert first[2] == dt.datetime(2024, 3, 4, 9, 1, 17)
    assert first[3:11] == ("NGA-0101", dt.date(2024, 3, 4), "camp", 5, "yes", 3, "water food", "borehole")
    assert first[11:] == (2, None, "im-officer")
    assert rows[1][7:10] == ("no", None, "shelter")  # not relevant: empty
    assert rows[5][9] is None  # no needs chosen
    # A CSV carries no repeat rows; the table exists and is untouched.
    assert kobo_store.scalar(f"SELECT count(*) FROM {MEMBERS}") == 0
    # The record table gained the two Kobo columns, and only them.
    assert snapshot(kobo_store)[0][1] == before[0][1] + ("_uuid", "_submission_time")
    again = run(kobo_store, FIXTURES / "export.csv")
    assert again.status == "unchanged"


def test_kobo_xlsx_export_with_repeat(kobo_any):
    r = run(kobo_any, FIXTURES / "export.xlsx")
    assert r.status == "committed", r.report.findings
    assert r.inserted == 6
    assert r.rows_read == 6 + 21
    sheet = build.TITLE
    main = kobo_any.query(
        "SELECT _record_id, assessment_date, hh_size, priority_needs, _source_sheet, _source_row "
        f"FROM {FORM_ID} "
        "ORDER BY _source_row"
    )
    assert [m[0] for m in main] == [build.uuid_of(i) for i in range(1, 7)]
    assert main[0][1:] == (dt.date(2024, 3, 4), 5, "water food", sheet, 2)
    members = kobo_any.query(
        "SELECT _record_id, _parent_record, _parent_index, member_sex, member_age, member_school, "
        "_source_sheet, "
        f"_source_row, _version, _import_id FROM {MEMBERS} ORDER BY _source_row"
    )
    assert len(members) == 21
    hh1 = build.uuid_of(1)
    assert members[0] == (f"{hh1}/members[1]", hh1, 1, "female", 34, None, "members", 2, 1, r.import_id)
    assert members[2][3:6] == ("female", 12, "yes")
    assert members[5][:3] == (f"{build.uuid_of(2)}/members[1]", build.uuid_of(2), 2)
    # every household's member count matches its household size
    sizes = dict(kobo_any.query(f"SELECT _record_id, hh_size FROM {FORM_ID}"))
    counts = dict(kobo_any.query(f"SELECT _parent_record, count(*) FROM {FORM_ID}__members GROUP BY 1"))
    assert counts == sizes
    assert run(kobo_any, FIXTURES / "export.xlsx").status == "unchanged"


def test_cumulative_export_with_update(kobo_store, tmp_path):
    """Kobo exports grow: the next export holds the earlier submissions too; import it with --update."""
    first = build.write_xlsx(
        tmp_path / "week1.xlsx",
        build.main_rows()[:4],
        [m for m in build.member_rows() if m["_parent_index"] <= 4],
    )
    assert run(kobo_store, first).status == "committed"
    main, members = build.main_rows(), build.member_rows()
    members[0]["household/members/member_age"] = 35  # corrected in Kobo after the first export
    del members[1]  # a member removed from household 1
    second = build.write_xlsx(tmp_path / "week2.xlsx", main, members)
    rejected = run(kobo_store, second)
    assert rejected.status == "rejected"
    assert {f.code for f in rejected.report.errors} == {"duplicate-key-store"}
    r = run(kobo_store, second, update=True)
    assert r.status == "committed", r.report.findings
    assert (r.inserted, r.updated, r.unchanged) == (2, 0, 4)
    hh1 = build.uuid_of(1)
    history = kobo_store.query(
        f"SELECT _record_id, _version, _current, _deleted, member_age FROM {MEMBERS} "
        "WHERE _parent_record = ? ORDER BY _record_id, _version",
        [hh1],
    )
    assert history == [
        (f"{hh1}/members[1]", 1, False, False, 34),
        (f"{hh1}/members[1]", 2, True, False, 35),
        # the removed 2nd member shifts the next ones up: ODK names repeat instances by position
        (f"{hh1}/members[2]", 1, False, False, 38),
        (f"{hh1}/members[2]", 2, True, False, 12),
        (f"{hh1}/members[3]", 1, False, False, 12),
        (f"{hh1}/members[3]", 2, True, False, 9),
        (f"{hh1}/members[4]", 1, False, False, 9),
        (f"{hh1}/members[4]", 2, True, False, 2),
        (f"{hh1}/members[5]", 1, False, False, 2),
        (f"{hh1}/members[5]", 2, True, True, 2),  # tombstone
    ]
    assert kobo_store.scalar(f"SELECT count(*) FROM {FORM_ID}__members") == 20


def test_option_columns_rebuild_select_multiple(kobo_store, tmp_path):
    cols = [c for c in build.MAIN_COLUMNS if c != "household/priority_needs"]
    f = build.write_csv(tmp_path / "split.csv", columns=cols)
    r = run(kobo_store, f)
    assert r.status == "committed", r.report.findings
    got = [x[0] for x in kobo_store.query(f"SELECT priority_needs FROM {FORM_ID} ORDER BY _source_row")]
    assert got == ["water food", "shelter", "food health education", "water", "water shelter", None]


def test_bare_names_odk_instance_id_and_comma_csv(kobo_store, tmp_path):
    """Kobo's "without group names" export, the id in meta/instanceID (uuid: prefix), comma separated."""
    rows = []
    for row in build.main_rows():
        out = {
            k.rsplit("/", 1)[-1] if not k.startswith("household/priority_needs/") else k: v
            for k, v in row.items()
            if k != "_uuid"
        }
        out["meta/instanceID"] = "uuid:" + row["_uuid"]
        out["comments"] = "checked by supervisor"
        rows.append(out)
    f = build.write_csv(tmp_path / "bare.csv", rows, sep=",")
    r = run(kobo_store, f)
    assert r.status == "committed", r.report.findings
    assert [(w.code, w.column) for w in r.report.warnings] == [
        ("column-unexpected", "comments"),
        ("sheet-missing", None),
    ]
    got = kobo_store.query(
        f"SELECT _record_id, _uuid, hh_size, water_source FROM {FORM_ID} ORDER BY _source_row"
    )
    assert got[0] == (build.uuid_of(1), build.uuid_of(1), 5, "borehole")


def test_export_without_submission_ids(kobo_store, tmp_path):
    cols = [c for c in build.MAIN_COLUMNS if c != "_uuid"]
    f = build.write_csv(tmp_path / "no_uuid.csv", columns=cols)
    r = run(kobo_store, f)
    assert r.status == "committed", r.report.findings
    ids = [x[0] for x in kobo_store.query(f"SELECT _record_id FROM {FORM_ID} ORDER BY _source_row")]
    assert ids == [f"{r.import_id}::{row}" for row in range(2, 8)]  # the pipeline's row-based ids
    assert kobo_store.scalar(f"SELECT count(*) FROM {FORM_ID} WHERE _uuid IS NOT NULL") == 0


def test_xlsx_without_submission_ids_links_repeats(kobo_any, tmp_path):
    main = build.main_rows()
    for row in main:
        del row["_uuid"]
    r = run(kobo_any, build.write_xlsx(tmp_path / "no_uuid.xlsx", main))
    assert r.status == "committed", r.report.findings
    linked = kobo_any.query(
        f"SELECT m._record_id, m.hh_size, count(c._record_id) FROM {FORM_ID} m "
        f"LEFT JOIN {FORM_ID}__members c ON c._parent_record = m._record_id GROUP BY 1, 2 ORDER BY 1"
    )
    assert len(linked) == 6 and all(size == n for _, size, n in linked)
    assert linked[0][0] == f"{r.import_id}:{build.TITLE}:2"


def test_missing_repeat_sheet_without_data_is_a_warning(kobo_store, tmp_path):
    f = build.write_xlsx(tmp_path / "no_members.xlsx", repeat_sheet=None)
    r = run(kobo_store, f)
    assert r.status == "committed", r.report.findings
    assert [(w.code, w.sheet) for w in r.report.warnings] == [("sheet-missing", "members")]


# --------------------------------------------------------------------------- bad exports


def _main_with(index: int, **changes) -> list[dict]:
    rows = build.main_rows()
    for k, v in changes.items():
        rows[index][k.replace("__", "/")] = v
    return rows


def _members_with(index: int, **changes) -> list[dict]:
    rows = build.member_rows()
    for k, v in changes.items():
        rows[index][k] = v
    return rows


def _edit_xlsx(path: Path, edit) -> Path:
    wb = openpyxl.load_workbook(path)
    edit(wb)
    wb.save(path)
    return path


def bad_constraint(tmp):
    return build.write_csv(tmp / "hh_size.csv", _main_with(2, household__hh_size=60))


def bad_regex(tmp):
    return build.write_csv(tmp / "site_code.csv", _main_with(3, site__site_code="NGA-12"))


def bad_relevance(tmp):
    return build.write_csv(tmp / "relevance.csv", _main_with(1, household__num_children=2))


def bad_choice(tmp):
    return build.write_csv(tmp / "choice.csv", _main_with(4, site__site_type="tent"))


def bad_multiple(tmp):
    return build.write_csv(tmp / "multiple.csv", _main_with(0, household__priority_needs="water fuel"))


def bad_integer(tmp):
    return build.write_xlsx(tmp / "integer.xlsx", _main_with(5, household__hh_size="six"))


def bad_renamed(tmp):
    cols = ["household/household_size" if c == "household/hh_size" else c for c in build.MAIN_COLUMNS]
    rows = [
        {("household/household_size" if k == "household/hh_size" else k): v for k, v in r.items()}
        for r in build.main_rows()
    ]
    return build.write_csv(tmp / "renamed.csv", rows, columns=cols)


def bad_duplicate_uuid(tmp):
    return build.write_csv(tmp / "dup.csv", _main_with(4, _uuid=build.uuid_of(2)))


def bad_formula(tmp):
    def edit(wb):
        wb["members"]["B4"] = "=B3+1"  # member_age of the 3rd member row

    return _edit_xlsx(build.write_xlsx(tmp / "formula.xlsx"), edit)


def bad_merged_header(tmp):
    def edit(wb):
        wb[build.TITLE].merge_cells("E1:F1")

    return _edit_xlsx(build.write_xlsx(tmp / "merged.xlsx"), edit)


def bad_merged_data(tmp):
    def edit(wb):
        wb["members"].merge_cells("A5:A6")

    return _edit_xlsx(build.write_xlsx(tmp / "merged_data.xlsx"), edit)


def bad_parent(tmp):
    return build.write_xlsx(tmp / "parent.xlsx", members=_members_with(7, _parent_index=99))


def bad_member_constraint(tmp):
    return build.write_xlsx(
        tmp / "age.xlsx", members=_members_with(10, **{"household/members/member_age": 130})
    )


def bad_member_relevance(tmp):
    # household 2 has no children, so "attends school?" does not apply to its members
    return build.write_xlsx(
        tmp / "school.xlsx", members=_members_with(5, **{"household/members/member_school": "yes"})
    )


def bad_member_required(tmp):
    return build.write_xlsx(
        tmp / "sex.xlsx", members=_members_with(0, **{"household/members/member_sex": None})
    )


def bad_sheet_renamed(tmp):
    return build.write_xlsx(tmp / "sheet.xlsx", repeat_sheet="Household members")


def bad_legacy_xls(tmp):
    f = tmp / "export.xls"
    f.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)
    return f


def bad_empty(tmp):
    return build.write_csv(tmp / "empty.csv", [], columns=build.MAIN_COLUMNS)


SHEET = build.TITLE
BAD = [
    # builder, (code, sheet, row, column) expected among the errors (rows are file lines / Excel rows)
    (bad_constraint, ("constraint", None, 4, "household/hh_size")),
    (bad_regex, ("constraint", None, 5, "site/site_code")),
    (bad_relevance, ("not-relevant", None, 3, "household/num_children")),
    (bad_choice, ("choice-unknown", None, 6, "site/site_type")),
    (bad_multiple, ("choice-unknown", None, 2, "household/priority_needs")),
    (bad_integer, ("type-integer", SHEET, 7, "household/hh_size")),
    (bad_renamed, ("column-unexpected", None, 1, "household/household_size")),
    (bad_duplicate_uuid, ("duplicate-key", None, 6, None)),
    (bad_formula, ("formula", "members", 4, "household/members/member_age")),
    (bad_merged_header, ("merged-cells", SHEET, 1, "site/site_code")),
    (bad_merged_data, ("merged-cells", "members", 5, "household/members/member_sex")),
    (bad_parent, ("parent-unknown", "members", 9, "_parent_index")),
    (bad_member_constraint, ("constraint", "members", 12, "household/members/member_age")),
    (bad_member_relevance, ("not-relevant", "members", 7, "household/members/member_school")),
    (bad_member_required, ("required", "members", 2, "household/members/member_sex")),
    (bad_sheet_renamed, ("sheet-missing", "Household members", None, None)),
    (bad_legacy_xls, ("file-unreadable", None, None, None)),
    (bad_empty, ("file-empty", None, 2, None)),
]


@pytest.mark.parametrize("make, expected", BAD, ids=[b[0].__name__ for b in BAD])
def test_bad_export_is_rejected_and_store_unchanged(kobo_store, tmp_path, make, expected):
    assert run(kobo_store, FIXTURES / "export.xlsx").status == "committed"  # something to keep
    before = snapshot(kobo_store)
    r = run(kobo_store, make(tmp_path))
    assert r.status == "rejected"
    assert expected in errors(r), errors(r)
    assert snapshot(kobo_store) == before


def test_findings_carry_value_and_file(kobo_store, tmp_path):
    r = run(kobo_store, bad_formula(tmp_path))
    f = next(x for x in r.report.errors if x.code == "formula")
    assert (f.file, f.value) == ("formula.xlsx", "=B3+1")
    r = run(kobo_store, bad_multiple(tmp_path))
    f = next(x for x in r.report.errors if x.code == "choice-unknown")
    assert (f.file, f.value) == ("multiple.csv", "water fuel")


@pytest.mark.parametrize(
    "make, expected",
    [
        (bad_member_relevance, ("not-relevant", "members", 7, "household/members/member_school")),
        (bad_parent, ("parent-unknown", "members", 9, "_parent_index")),
        (bad_renamed, ("column-unexpected", None, 1, "household/household_size")),
    ],
    ids=["member_relevance", "parent", "renamed"],
)
def test_bad_export_on_both_backends(kobo_any, tmp_path, make, expected):
    before = snapshot(kobo_any)
    r = run(kobo_any, make(tmp_path))
    assert r.status == "rejected"
    assert expected in errors(r), errors(r)
    assert snapshot(kobo_any) == before


# --------------------------------------------------------------------------- nested repeats


def _nested_form(path: Path, top_rule: str = "") -> Path:
    """Visits (a repeat) each with items (a repeat inside it); an item's quantity is bounded by a
    top-level answer, two levels up."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(["type", "name", "label", "required", "constraint", "relevant"])
    for row in [
        ("integer", "n_visits", "Visits", "yes", ". >= 0", ""),
        ("begin_repeat", "visit", "Visit", "", "", ""),
        ("date", "visit_date", "Date", "yes", "", ""),
        ("begin_repeat", "item", "Item", "", "", ""),
        ("text", "item_name", "Item", "yes", "", ""),
        ("integer", "qty", "Quantity", "", ". <= ${n_visits} * 10", "${n_visits} > 0"),
        ("end_repeat", "", "", "", "", ""),
        ("end_repeat", "", "", "", "", ""),
    ]:
        ws.append(list(row))
    if top_rule:
        ws.append(["integer", "checked", "Checked", "", top_rule, ""])
    st = wb.create_sheet("settings")
    st.append(["form_id", "version"])
    st.append(["visits", "1"])
    wb.save(path)
    return path


def _nested_export(path: Path, qty=(3, 4, 5)) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "visits"
    ws.append(["n_visits", "_uuid", "_index"])
    ws.append([2, "u1", 1])
    ws.append([1, "u2", 2])
    v = wb.create_sheet("visit")
    v.append(["visit/visit_date", "_index", "_parent_index", "_parent_table_name"])
    for row in [("2024-01-01", 1, 1), ("2024-01-02", 2, 1), ("2024-02-01", 3, 2)]:
        v.append([*row, "visits"])
    it = wb.create_sheet("item")
    it.append(["visit/item/item_name", "visit/item/qty", "_index", "_parent_index", "_parent_table_name"])
    for k, (parent, q) in enumerate(zip((1, 1, 3), qty), start=1):
        it.append([f"thing{k}", q, k, parent, "visit"])
    wb.save(path)
    return path


def test_nested_repeats(store, tmp_path):
    install_form(store, compile_xlsform(_nested_form(tmp_path / "visits.xlsx")))
    bad = import_files(
        store, "xlsform-data", [_nested_export(tmp_path / "bad.xlsx", qty=(3, 25, 5))], form_id="visits"
    )
    assert errors(bad) == [("constraint", "item", 3, "visit/item/qty")]  # 25 > 2 visits * 10, two levels up
    r = import_files(store, "xlsform-data", [_nested_export(tmp_path / "good.xlsx")], form_id="visits")
    assert r.status == "committed", r.report.findings
    assert store.query("SELECT _record_id, _parent_record, visit_date FROM visits__visit ORDER BY 1") == [
        ("u1/visit[1]", "u1", dt.date(2024, 1, 1)),
        ("u1/visit[2]", "u1", dt.date(2024, 1, 2)),
        ("u2/visit[1]", "u2", dt.date(2024, 2, 1)),
    ]
    assert store.query(
        "SELECT _record_id, _parent_record, _parent_index, item_name, qty FROM visits__item ORDER BY 1"
    ) == [
        ("u1/visit[1]/item[1]", "u1/visit[1]", 1, "thing1", 3),
        ("u1/visit[1]/item[2]", "u1/visit[1]", 1, "thing2", 4),
        ("u2/visit[1]/item[1]", "u2/visit[1]", 3, "thing3", 5),
    ]


def test_top_level_rule_on_a_repeat_field_is_reported(store, tmp_path):
    """A top-level constraint naming a field inside a repeat cannot be checked row by row:
    a finding, not a crash."""
    install_form(store, compile_xlsform(_nested_form(tmp_path / "visits.xlsx", top_rule=". <= ${qty}")))
    r = import_files(store, "xlsform-data", [_nested_export(tmp_path / "good.xlsx")], form_id="visits")
    assert r.status == "rejected"
    assert [(f.code, f.column) for f in r.report.errors] == [("expression-invalid", "checked")]


# --------------------------------------------------------------------------- repeat_count and repeat functions


def _roster_form(path: Path) -> Path:
    """A household roster: members as many as members_count; total_age and n_members checked over the members'
    rows (sum, count), each member's household head by indexed-repeat, the previous member by position(..)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(["type", "name", "label", "required", "constraint", "relevant", "repeat_count"])
    for row in [
        ("integer", "members_count", "Members", "yes", ". >= 0", "", ""),
        ("begin_repeat", "members", "Member", "", "", "", "${members_count}"),
        ("text", "name", "Name", "yes", "", "", ""),
        ("integer", "age", "Age", "", ". >= 0", "", ""),
        ("text", "head", "Head of household", "", ". = indexed-repeat(${name}, ${members}, 1)", "", ""),
        ("end_repeat", "", "", "", "", "", ""),
        ("integer", "total_age", "Total age", "", ". = sum(${age})", "", ""),
        ("integer", "n_members", "Members listed", "", ". = count(${members})", "", ""),
        ("text", "names", "Names", "", ". = join(' ', ${name})", "", ""),
    ]:
        ws.append(list(row))
    st = wb.create_sheet("settings")
    st.append(["form_id", "version"])
    st.append(["roster", "1"])
    wb.save(path)
    return path


ROSTER = [  # (uuid, members_count, total_age, n_members, names, [(name, age, head), ...])
    ("u1", 2, 70, 2, "Ann Bob", [("Ann", 40, "Ann"), ("Bob", 30, "Ann")]),
    ("u2", 1, 9, 1, "Cy", [("Cy", 9, "Cy")]),
]


def _roster_export(path: Path, rows=ROSTER) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "roster"
    ws.append(["members_count", "total_age", "n_members", "names", "_uuid", "_index"])
    m = wb.create_sheet("members")
    m.append(["members/name", "members/age", "members/head", "_index", "_parent_index"])
    k = 0
    for i, (uuid, count, total, n, names, members) in enumerate(rows, start=1):
        ws.append([count, total, n, names, uuid, i])
        for name, age, head in members:
            k += 1
            m.append([name, age, head, k, i])
    wb.save(path)
    return path


@pytest.fixture
def roster_store(store, tmp_path):
    form = compile_xlsform(_roster_form(tmp_path / "roster.xlsx"))
    install_form(store, form)
    return store


def roster(store, path: Path, **kw):
    return import_files(store, "xlsform-data", [path], form_id="roster", **kw)


def test_repeat_functions_are_checked_not_warned_at_install(tmp_path):
    from passage.checks.form_rules import review_form

    form = compile_xlsform(_roster_form(tmp_path / "roster.xlsx"))
    assert form.repeat_counts == {"members": "${members_count}"}
    assert review_form(form) == []  # sum, count, join, indexed-repeat and repeat_count: all checked on import


def test_a_roster_whose_rows_agree_imports(roster_store, tmp_path):
    r = roster(roster_store, _roster_export(tmp_path / "good.xlsx"))
    assert r.status == "committed", r.report.findings
    assert not [f for f in r.report.findings if f.code in ("expression-unsupported", "repeat-count")]
    assert roster_store.scalar("SELECT count(*) FROM roster__members") == 3


def test_more_or_fewer_repeat_rows_than_repeat_count_is_an_error(roster_store, tmp_path):
    rows = [("u1", 3, 70, 2, "Ann Bob", ROSTER[0][5]), ("u2", 0, 9, 1, "Cy", ROSTER[1][5])]
    r = roster(roster_store, _roster_export(tmp_path / "count.xlsx", rows))
    assert r.status == "rejected"
    got = sorted((f.code, f.sheet, f.row, f.value) for f in r.report.errors)
    assert got == [("repeat-count", "roster", 2, "2 rows, repeat_count 3"),
                   ("repeat-count", "roster", 3, "1 rows, repeat_count 0")]
    assert "repeat_count" in r.report.errors[0].message
    assert roster_store.scalar("SELECT count(*) FROM imports WHERE status = 'committed'") == 0


def test_sum_count_join_and_indexed_repeat_are_evaluated(roster_store, tmp_path):
    rows = [("u1", 2, 71, 2, "Ann Bob", [("Ann", 40, "Ann"), ("Bob", 30, "Bob")]),
            ("u2", 1, 9, 2, "Cy Dee", [("Cy", 9, "Cy")])]
    r = roster(roster_store, _roster_export(tmp_path / "bad.xlsx", rows))
    assert r.status == "rejected"
    got = sorted((f.code, f.sheet, f.row, f.column) for f in r.report.errors)
    assert got == [("constraint", "members", 3, "members/head"),  # Bob's head is Ann, the first member
                   ("constraint", "roster", 2, "total_age"),  # 40 + 30 is not 71
                   ("constraint", "roster", 3, "n_members"),  # one member listed, not 2
                   ("constraint", "roster", 3, "names")]  # 'Cy', not 'Cy Dee'


def test_a_csv_export_without_repeat_rows_leaves_those_rules_unchecked(roster_store, tmp_path):
    """A Kobo CSV export carries no repeat rows: sum() over them cannot be read (a warning), and repeat_count
    is not checked; the records load."""
    path = tmp_path / "roster.csv"
    path.write_text("members_count;total_age;n_members;names;_uuid\n2;70;2;Ann Bob;u1\n", encoding="utf-8")
    r = roster(roster_store, path)
    assert r.status == "committed", r.report.errors
    unchecked = {f.column for f in r.report.findings if f.code == "expression-unsupported"}
    assert unchecked == {"total_age", "n_members", "names"}
    assert not [f for f in r.report.findings if f.code == "repeat-count"]


def test_repeat_count_quarantines_the_household_with_its_members(roster_store, tmp_path):
    rows = [("u1", 3, 70, 2, "Ann Bob", ROSTER[0][5]), ROSTER[1]]
    r = roster(roster_store, _roster_export(tmp_path / "count.xlsx", rows), on_error="quarantine")
    assert (r.status, r.inserted, r.quarantined) == ("committed", 1, 1)
    assert roster_store.query("SELECT _record_id FROM roster__members") == [("u2/members[1]",)]


# --------------------------------------------------------------------------- headers, --update, quarantine


def _grouped_form(path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(["type", "name", "label", "required", "constraint"])
    for row in [("begin_group", "household", "Household", "", ""),
                ("integer", "hh-size", "People", "yes", ". > 0"),
                ("text", "date", "Date said", "", ""),
                ("end_group", "", "", "", ""),
                ("text", "site", "Site", "yes", ""),
                ("text", "note", "Note", "", "")]:
        ws.append(list(row))
    st = wb.create_sheet("settings")
    st.append(["form_id", "version"])
    st.append(["grouped", "1"])
    wb.save(path)
    return path


@pytest.fixture
def grouped_store(store, tmp_path):
    install_form(store, compile_xlsform(_grouped_form(tmp_path / "grouped.xlsx")))
    return store


def grouped(store, tmp_path, name: str, text: str, **kw):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return import_files(store, "xlsform-data", [path], form_id="grouped", **kw)


def test_findings_name_the_files_own_header(grouped_store, tmp_path):
    """`household-hh-size` (ODK's separator) is what the file calls the field stored as `hh_size`: findings say so,
    in their column and message, and the message of a field named like a common word (`date`) stays whole."""
    r = grouped(grouped_store, tmp_path, "bad.csv", "_uuid,household-hh-size,household-date,site\n"
                "u1,0,2024-01-01,A\nu2,x,,B\n")
    assert r.status == "rejected"
    said = sorted((f.code, f.row, f.column, f.message) for f in r.report.errors)
    assert said == [("constraint", 2, "household-hh-size", "household-hh-size breaks its constraint . > 0"),
                    ("type-integer", 3, "household-hh-size", "household-hh-size must be a whole number")]


def test_quarantine_holds_by_field_and_its_recheck_releases_the_fixed_row(grouped_store, tmp_path):
    from passage.ingest import quarantine

    r = grouped(grouped_store, tmp_path, "q.csv", "_uuid,household/hh-size,site\nu1,0,A\nu2,3,B\n",
                on_error="quarantine")
    assert (r.status, r.inserted, r.quarantined) == ("committed", 1, 1)
    [held] = quarantine.list_held(grouped_store)
    assert [(f.code, f.column) for f in held.errors] == [("constraint", "hh_size")]  # beside its field
    assert "household/hh-size" in held.errors[0].message  # as the file named it
    _, report = quarantine.fix(grouped_store, held.quarantine_id, {"hh_size": "2"})
    assert report.ok, report.findings
    assert quarantine.release(grouped_store, held.quarantine_id) == "u1"
    assert grouped_store.query("SELECT _record_id, hh_size FROM grouped ORDER BY 1") == [("u1", 2), ("u2", 3)]


def test_update_keeps_the_fields_a_file_has_no_column_for(grouped_store, tmp_path):
    r = grouped(grouped_store, tmp_path, "all.csv", "_uuid,household/hh-size,household/date,site,note\n"
                "u1,4,monday,A,first\nu2,3,tuesday,B,second\n")
    assert r.status == "committed", r.report.findings
    # the update has no hh-size (required) nor note column; u1's site changed, u2 is as it was
    r = grouped(grouped_store, tmp_path, "upd.csv", "_uuid,household/date,site\nu1,monday,C\nu2,tuesday,B\n",
                update=True)
    assert r.status == "committed", r.report.errors
    assert (r.updated, r.unchanged) == (1, 1)
    assert not [f for f in r.report.findings if f.code == "required"]
    missing = [f for f in r.report.findings if f.code == "column-missing" and "stored value" in f.message]
    assert [f.severity for f in missing if "required" in f.message] == ["warning"]
    assert grouped_store.query("SELECT _record_id, hh_size, site, note FROM grouped ORDER BY 1") == [
        ("u1", 4, "C", "first"), ("u2", 3, "B", "second")]


def test_a_required_field_without_a_column_is_one_finding(grouped_store, tmp_path):
    r = grouped(grouped_store, tmp_path, "nosize.csv", "_uuid,site\nu1,A\nu2,B\nu3,C\n")
    assert r.status == "rejected"
    assert [(f.code, f.row, f.column) for f in r.report.errors] == [("column-missing", None, "household/hh-size")]
    assert "3 rows need it" in r.report.errors[0].message
