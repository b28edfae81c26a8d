"""XLSForm compilation: choices, groups, relevance inherited from groups, and its effect on validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from passage.errors import ImportRejected, UsageError
from passage.findings import Report
from passage.forms import Form, compile_xlsform, install_form
from passage.forms.registry import record_table
from passage.ingest import import_files
from xlsforms import write_xlsform


def _form(path: Path) -> Path:
    return write_xlsform(path, [
        ["type", "name", "label", "required", "relevant", "constraint"],
        ["select_one yn", "has_shelter", "Shelter assessed?", "yes", "", ""],
        ["begin_group", "shelter", "Shelter", "", "${has_shelter} = 'yes'", ""],
        ["integer", "tents", "Tents", "yes", "", ". >= 0"],
        ["select_multiple material", "materials", "Materials", "", "${tents} > 0", ""],
        ["end_group", "", "", "", "", ""],
    ], [["list_name", "name", "label"],
        ("yn", "yes", "Yes"), ("yn", "no", "No"), ("material", "tarp", "Tarpaulin"), ("material", "wood", "Wood")],
        {"form_id": "shelter_check", "version": "1"})


def test_compiled_fields(tmp_path):
    form = compile_xlsform(_form(tmp_path / "f.xlsx"))
    tents = form.field("tents")
    assert tents.path == "shelter/tents" and tents.required and tents.constraint == ". >= 0"
    assert tents.relevant == "${has_shelter} = 'yes'"  # inherited from its group
    assert form.field("materials").relevant == "(${has_shelter} = 'yes') and (${tents} > 0)"
    assert form.field("materials").choices == ["tarp", "wood"]
    assert form.field("has_shelter").choices == ["yes", "no"]


def test_required_inside_a_skipped_group_is_not_required(store, tmp_path):
    install_form(store, compile_xlsform(_form(tmp_path / "f.xlsx")))
    data = tmp_path / "export.csv"
    data.write_text("_uuid,has_shelter,shelter/tents,shelter/materials\n"
                    "u1,no,,\n"
                    "u2,yes,3,tarp wood\n", encoding="utf-8")
    result = import_files(store, "xlsform-data", [data], form_id="shelter_check")
    assert result.status == "committed", result.report.findings
    bad = tmp_path / "bad.csv"
    bad.write_text("_uuid,has_shelter,shelter/tents,shelter/materials\n"
                   "u3,yes,,\n"
                   "u4,no,2,\n"
                   "u5,yes,0,tarp\n", encoding="utf-8")
    rejected = import_files(store, "xlsform-data", [bad], form_id="shelter_check")
    assert sorted((f.row, f.column, f.code) for f in rejected.report.errors) == [
        (2, "shelter/tents", "required"), (3, "shelter/tents", "not-relevant"),
        (4, "shelter/materials", "not-relevant")]


def _trouble_form(path: Path) -> Path:
    """Names no SQL identifier can hold as written: hyphen, keyword, the same name in two groups, case twins,
    a system column's name; a form id with a hyphen."""
    return write_xlsform(path, [
        ["type", "name", "label", "constraint", "relevant"],
        ["integer", "hh-size", "Household size", ". > 0", ""],
        ["text", "group", "Group", "", ""],
        ["begin_group", "hoh", "Head", "", ""],
        ["integer", "age", "Age", ". <= 120", ""],
        ["end_group", "", "", "", ""],
        ["begin_group", "spouse", "Spouse", "", ""],
        ["integer", "age", "Age", ". <= 120", ""],
        ["end_group", "", "", "", ""],
        ["text", "Name", "Name", "", ""],
        ["text", "name", "Name again", "", ""],
        ["text", "_version", "Version", "", ""],
        ["integer", "kids", "Children", ". < ${hh-size}", "${hh-size} > 1"],
    ], [["list_name", "name", "label"]], {"form_id": "hh-roster", "version": "1"})


def test_storage_names_are_safe_and_keep_the_xlsform_names(tmp_path):
    form = compile_xlsform(_trouble_form(tmp_path / "f.xlsx"))
    got = [(f.name, f.xlsform_name, f.path) for f in form.fields]
    assert got == [("hh_size", "hh-size", "hh-size"), ("group_", "group", "group"), ("age", "age", "hoh/age"),
                   ("spouse_age", "age", "spouse/age"), ("Name", "Name", "Name"), ("name_2", "name", "name"),
                   ("version", "_version", "_version"), ("kids", "kids", "kids")]
    assert form.form_id == "hh-roster"
    # Stored Form JSON of an older version (no xml_name) still loads.
    old = Form.from_json(form.to_json().replace('"xml_name": "hh-size", ', ""))
    assert old.field("hh_size").xlsform_name == "hh_size"


def test_a_form_with_unsafe_names_installs_and_imports(store, tmp_path):
    install_form(store, compile_xlsform(_trouble_form(tmp_path / "f.xlsx")))
    assert record_table("hh-roster") == "rec_hh_roster"
    data = tmp_path / "export.csv"
    data.write_text("_uuid,hh-size,group,hoh/age,spouse/age,Name,name,_version,kids\n"
                    "u1,4,a,40,38,Ann,ann,v,2\n", encoding="utf-8")
    result = import_files(store, "xlsform-data", [data], form_id="hh-roster")
    assert result.status == "committed", result.report.findings
    assert store.query("SELECT hh_size, group_, age, spouse_age, kids FROM hh_roster") == [(4, "a", 40, 38, 2)]
    bad = tmp_path / "bad.csv"
    bad.write_text("_uuid,hh-size,group,hoh/age,spouse/age,Name,name,_version,kids\n"
                   "u2,3,a,40,130,Ann,ann,v,5\n", encoding="utf-8")
    rejected = import_files(store, "xlsform-data", [bad], form_id="hh-roster")
    # findings name the file's headers: `spouse/age`, not the storage column `spouse_age`
    assert sorted((f.column, f.code) for f in rejected.report.errors) == [
        ("kids", "constraint"), ("spouse/age", "constraint")]
    assert [f.message for f in rejected.report.errors if f.column == "spouse/age"] == [
        "spouse/age breaks its constraint . <= 120"]


def test_two_form_ids_for_one_table_are_refused(store, tmp_path):
    install_form(store, compile_xlsform(_trouble_form(tmp_path / "f.xlsx")))
    other = compile_xlsform(_trouble_form(tmp_path / "g.xlsx"))
    other.form_id = "hh_roster"
    with pytest.raises(UsageError, match="hh-roster"):
        install_form(store, other)


def _semantics_form(folder: Path) -> Path:
    """One question per XLSForm rule Passage enforces on import."""
    (folder / "camps.csv").write_text("name,label\ncamp_a,Camp A\ncamp_b,Camp B\n", encoding="utf-8")
    return write_xlsform(folder / "semantics.xlsx", [
        ["type", "name", "label", "constraint", "choice_filter", "parameters", "calculation"],
        ["select_one country", "country", "Country", "", "", "", ""],
        ["select_one region", "region", "Region", "", "country=${country}", "", ""],
        ["range", "rating", "Rating", "", "", "start=1 end=5 step=1", ""],
        ["geopoint", "gps", "Location", "", "", "", ""],
        ["time", "arrival", "Arrival time", "", "", "", ""],
        ["int", "people", "People", "", "", "", ""],
        ["date", "visit", "Visit", ". <= today()", "", "", ""],
        ["select_one color or_other", "color", "Colour", "", "", "", ""],
        ["calculate", "double", "", "", "", "", "${people} * 2"],
        ["select_one_from_file camps.csv", "camp", "Camp", "", "", "", ""],
    ], [["list_name", "name", "label", "country"],
        ("country", "ghana", "Ghana", ""), ("country", "nigeria", "Nigeria", ""),
        ("region", "ashanti", "Ashanti", "ghana"), ("region", "kano", "Kano", "nigeria"), ("color", "red", "Red", "")],
        {"form_id": "semantics", "version": "1"})


HEADER = "_uuid,_submission_time,country,region,rating,gps,arrival,people,visit,color,color_other,double,camp\n"


def test_xlsform_semantics_are_enforced_on_import(store, tmp_path):
    form = compile_xlsform(_semantics_form(tmp_path))
    assert form.field("people").sql_type == "BIGINT" and form.field("camp").choices == ["camp_a", "camp_b"]
    install_form(store, form)
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "u1,2024-03-01T10:00:00,ghana,ashanti,3,5.6 -0.2 100 5,10:30,4,2024-03-01,other,teal,8,"
                    "camp_a\n", encoding="utf-8")
    result = import_files(store, "xlsform-data", [good], form_id="semantics")
    assert result.status == "committed", result.report.findings
    assert store.query("SELECT people, color_other FROM semantics") == [(4, "teal")]
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER
                   + "u2,2024-03-01T10:00:00,ghana,kano,9,abc def,25:99,x,2024-03-02,red,teal,8,camp_z\n"
                   + "u3,2024-03-01T10:00:00,nigeria,kano,2.5,91 10,10:30,3,2024-02-01,red,,7,camp_b\n",
                   encoding="utf-8")
    rejected = import_files(store, "xlsform-data", [bad], form_id="semantics")
    got = sorted((f.row, f.column, f.code) for f in rejected.report.findings if f.row)
    assert got == [
        (2, "arrival", "type-time"), (2, "camp", "choice-unknown"), (2, "color_other", "not-relevant"),
        (2, "gps", "type-geo"), (2, "people", "type-integer"), (2, "rating", "range"),
        (2, "region", "choice-filtered"),
        # today() in the constraint is the submission's day (2024-03-01), not the import's
        (2, "visit", "constraint"),
        (3, "double", "calculate-mismatch"), (3, "gps", "type-geo"), (3, "rating", "range")]
    assert store.query("SELECT count(*) FROM semantics") == [(1,)]


def test_today_is_the_day_the_form_itself_ended(store, tmp_path):
    """A form's own `end` question (stored as end_: END is an SQL keyword) is the submission's moment."""
    form = compile_xlsform(write_xlsform(tmp_path / "ended.xlsx", [
        ["type", "name", "label", "constraint"], ["end", "end", "", ""], ["date", "visit", "Visit", ". <= today()"],
    ], settings={"form_id": "ended", "version": "1"}))
    assert form.field("end_").xlsform_name == "end"
    install_form(store, form)
    data = tmp_path / "ended.csv"
    data.write_text("_uuid,end,visit\nu1,2024-03-01T10:00:00,2024-03-01\nu2,2024-03-01T10:00:00,2024-03-02\n",
                    encoding="utf-8")
    rejected = import_files(store, "xlsform-data", [data], form_id="ended")
    assert [(f.row, f.code) for f in rejected.report.errors] == [(3, "constraint")]


def test_what_cannot_be_checked_is_said_at_install(tmp_path):
    path = write_xlsform(tmp_path / "f.xlsx", [
        ["type", "name", "label", "constraint", "calculation"],
        ["integer", "n", "N", ". < pulldata('caps', 'cap', 'id', '1')", ""],
        ["calculate", "r", "", "", "random()"],
        ["select_one_from_file missing.csv", "site", "Site", "", ""],
    ])
    notes = Report()
    compile_xlsform(path, report=notes)
    got = sorted((f.code, f.column, f.severity) for f in notes.findings)
    assert got == [("expression-unsupported", "n", "warning"), ("expression-unsupported", "r", "warning"),
                   ("expression-unsupported", "site", "warning")]
    assert any("pulldata()" in f.message for f in notes.findings)


def test_pyxform_message_is_whole(tmp_path):
    write_xlsform(tmp_path / "f.xlsx", [["type", "name", "label"], ["select_one " + "nolist" * 100, "q", "Q"]],
                  [["list_name", "name", "label"], ["yn", "yes", "Yes"]])
    with pytest.raises(ImportRejected) as err:
        compile_xlsform(tmp_path / "f.xlsx")
    finding = err.value.report.findings[0]
    assert finding.code == "form-invalid" and "nolist" * 100 in finding.message and "row" in finding.message.lower()


def test_docs_list_every_function_the_compiler_evaluates():
    from passage.forms.expr import UNCHECKABLE, functions

    doc = (Path(__file__).parent.parent / "docs" / "forms.md").read_text(encoding="utf-8")
    missing = [f for f in [*functions(), *UNCHECKABLE] if f"`{f}()`" not in doc]
    assert not missing, missing


def test_installing_a_form_or_places_starts_a_new_generation(store, tmp_path):
    """Kept portal answers are per data generation: a new form (a new dataset) or new places must end them."""
    from passage.places import import_lengths
    from passage.store.schema import generation

    form = compile_xlsform(Path(__file__).parent / "fixtures" / "xlsform" / "household_survey.xlsx")
    before = generation(store)
    assert install_form(store, form)
    assert generation(store) == before + 1
    assert not install_form(store, form) and generation(store) == before + 1  # the same form again: no change
    lengths = tmp_path / "lengths.csv"
    lengths.write_text("Location,Country Length,Admin 1 Length,Admin 2 Length,Admin 3 Length\n"
                       "#country+code,,,,\nNGA,2,3,3,\n", encoding="utf-8")
    assert import_lengths(store, lengths).value == 1
    assert generation(store) == before + 2
