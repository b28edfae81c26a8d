"""XLSForm compilation: choices, groups, relevance inherited from groups, and its effect on validation."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

from passage.forms import compile_xlsform, install_form
from passage.ingest import import_files


def _form(path: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(["type", "name", "label", "required", "relevant", "constraint"])
    ws.append(["select_one yn", "has_shelter", "Shelter assessed?", "yes", "", ""])
    ws.append(["begin_group", "shelter", "Shelter", "", "${has_shelter} = 'yes'", ""])
    ws.append(["integer", "tents", "Tents", "yes", "", ". >= 0"])
    ws.append(["select_multiple material", "materials", "Materials", "", "${tents} > 0", ""])
    ws.append(["end_group", "", "", "", "", ""])
    ch = wb.create_sheet("choices")
    ch.append(["list_name", "name", "label"])
    for row in [("yn", "yes", "Yes"), ("yn", "no", "No"), ("material", "tarp", "Tarpaulin"), ("material", "wood", "Wood")]:
        ch.append(list(row))
    st = wb.create_sheet("settings")
    st.append(["form_id", "version"])
    st.append(["shelter_check", "1"])
    wb.save(path)
    return path


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
        (2, "tents", "required"), (3, "tents", "not-relevant"), (4, "materials", "not-relevant")]
