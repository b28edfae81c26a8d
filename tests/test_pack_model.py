"""pack.yaml is a typed model: every built-in pack passes, and a pack's author is told every problem at once,
each located by file and key path, a misspelt key with the key it likely meant."""

from __future__ import annotations

import shutil
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from passage.cli import main
from passage.errors import PackError, UsageError
from passage.packmodel import check_pack, read_pack_yaml
from passage.plugins import pack_dirs

BUILTIN = ["dtm", "travel", "staff", "institutional"]


def pack_copy(tmp_path: Path, name: str, *edits: tuple[str, str], file: str = "pack.yaml") -> Path:
    """A copy of a built-in pack's folder with `file` edited: each (old, new) replaces text found once."""
    folder = tmp_path / name
    shutil.copytree(pack_dirs()[name], folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    path = folder / file
    text = path.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, f"{old!r} is not in {file} exactly once"
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return folder


def problems(folder: Path) -> dict[str, str]:
    """key path -> message of every problem `packs check` finds (the file each is in, checked too)."""
    with pytest.raises(PackError) as caught:
        check_pack(folder)
    assert caught.value.code == "pack.invalid"
    return {p.path: p.message for p in caught.value.problems}


@pytest.mark.parametrize("name", BUILTIN)
def test_each_builtin_pack_validates_and_reads_as_written(name):
    path = pack_dirs()[name] / "pack.yaml"
    summary = check_pack(path.parent)
    assert summary.name == name and summary.forms
    assert read_pack_yaml(path) == yaml.safe_load(path.read_text(encoding="utf-8"))


def test_the_packs_own_sections_are_known_by_their_hook():
    assert check_pack(pack_dirs()["travel"]).sections == ["mappings"]
    assert check_pack(pack_dirs()["staff"]).sections == ["annexes", "annex1", "reference", "rules"]
    assert check_pack(pack_dirs()["institutional"]).sections == ["questionnaire"]


def test_a_misspelt_key_anywhere_is_located_with_a_suggestion(tmp_path):
    folder = pack_copy(tmp_path, "dtm", ("title: DTM", "titel: DTM"),
                       ("map: {indicator: idps_latest", "map: {indicatr: idps_latest"),
                       ("      non_negative:", "      non_negativ:"),
                       ("    order: [admin0_pcode", "    ordre: [admin0_pcode"))
    found = problems(folder)
    assert found["titel"] == "unknown key `titel`; did you mean `title`?"
    assert found["title"] == "required key `title` is missing"
    assert found["datasets.dtm_idps.map.indicatr"] == "unknown key `indicatr`; did you mean `indicator`?"
    assert found["records.dtm_idps.checks.non_negativ"] == "unknown key `non_negativ`; did you mean `non_negative`?"
    assert found["exports.dtm_idps.ordre"] == "unknown key `ordre`; did you mean `order`?"
    assert len(found) == 6  # and map.indicator, now missing: every problem of the file at once
    with pytest.raises(PackError) as caught:
        check_pack(folder)
    assert f"{folder / 'pack.yaml'}: datasets.dtm_idps.map.indicatr: unknown key" in str(caught.value)


def test_a_misspelt_key_in_a_packs_own_section_is_located_with_a_suggestion(tmp_path):
    travel = problems(pack_copy(tmp_path, "travel", ("  acaps_category:", "  acaps_categry:"),
                                ("Curfews: {category: not_travel}", "Curfews: {categroy: not_travel}")))
    assert travel["mappings.acaps_categry"] == "unknown key `acaps_categry`; did you mean `acaps_category`?"
    assert travel["mappings.acaps_category"] == "required key `acaps_category` is missing"
    assert travel["mappings.acaps_measure.Curfews.categroy"] == "unknown key `categroy`; did you mean `category`?"

    first_rule = "  - id: annex2.row_total\n"
    rule = (pack_dirs()["staff"] / "pack.yaml").read_text(encoding="utf-8").split(first_rule)[1].split("  - id:")[0]
    staff = problems(pack_copy(tmp_path, "staff", (first_rule + rule, first_rule + rule.replace("operator:", "operatr:")),
                               ("grade_in_category: {field: grade", "grade_in_categry: {field: grade")))
    assert staff["rules[0].operatr"] == "unknown key `operatr`; did you mean `operator`?"
    assert staff["rules[0].operator"] == "required key `operator` is missing"
    # the pack's own record checks (pack_sections()["records.checks"]) beside the core's
    assert staff["records.staff_member.checks.grade_in_categry"] == \
        "unknown key `grade_in_categry`; did you mean `grade_in_category`?"

    institutional = problems(pack_copy(tmp_path, "institutional", ("  respondents:", "  respondent:")))
    assert institutional["questionnaire.respondent"] == "unknown key `respondent`; did you mean `respondents`?"


def test_an_unknown_top_level_section_is_an_error(tmp_path):
    # `mappings` is the travel pack's own section: another pack does not know it
    found = problems(pack_copy(tmp_path, "dtm", ("\nlayouts:", "\nmappings: {}\nlayouts:")))
    assert found == {"mappings": "unknown key `mappings` (known: comparisons, datasets, exports, forms, "
                                 "indicators, layouts, measures, name, on_error, records, requires, title)"}


def test_wrong_types_are_located_and_say_what_was_given(tmp_path):
    found = problems(pack_copy(tmp_path, "dtm", ("    visibility: public", "    visibility: yes"),
                               ("    layout: hdx_csv", "    layout: 3"),
                               ("    - [id, dtm_id, \"\"]", "    - [id, dtm_id]"),
                               ("series: {indicator: idps_by_country, over", "series: {indicator: idps_by_country, level: \"0\", over")))
    assert found["datasets.dtm_idps.visibility"].startswith("Input should be 'public' or 'restricted', not true "
                                                            "(YAML reads yes")
    assert found["exports.dtm_idps.layout"] == "Input should be a valid string, not 3"
    assert found["layouts.hdx_csv[0][2]"] == "item 3 is missing"
    assert found["datasets.dtm_idps.series.level"] == "Input should be a valid integer, not '0'"
    staff = problems(pack_copy(tmp_path, "staff", ("    tolerance: 1.0", "    tolerance: about one"),
                               ("table3_grades: [P-5, D-1, D-2]", "table3_grades: P-5")))
    assert set(staff) == {"rules[40].tolerance", "annex1.table3_grades"}
    assert staff["annex1.table3_grades"] == "Input should be a valid list, not 'P-5'"


def test_an_unquoted_yes_in_a_questionnaire_figure_is_not_text(tmp_path):
    found = problems(pack_copy(tmp_path, "institutional",
                               ('{field: collected_data, equals: "yes"}', "{field: collected_data, equals: yes}")))
    assert list(found) == ["measures[0].share.numerator[0].equals"]
    assert "quote them to mean text" in found["measures[0].share.numerator[0].equals"]


def test_broken_references_are_located_with_a_suggestion(tmp_path):
    found = problems(pack_copy(tmp_path, "dtm", ("title: DTM mobility tracking", "title: DTM\nrequires: [staf]"),
                               ("\nrecords:\n  dtm_idps:", "\nrecords:\n  dtm_idp:"),
                               ("    export: dtm_idps", "    export: dtm_idp"),
                               ("    layout: hdx_csv", "    layout: hdx"),
                               ("    indicators: [idps, idps_latest,", "    indicators: [idps, idps_lates,"),
                               ("series: {indicator: idps_by_country,", "series: {indicator: idps_by_countr,")))
    assert found == {
        "requires[0]": "no pack `staf` installed; did you mean `staff`?",
        "records.dtm_idp": "no form `dtm_idp` in this pack; did you mean `dtm_idps`?",
        "exports.dtm_idps.layout": "no layout `hdx` in this pack; did you mean `hdx_csv`?",
        "datasets.dtm_idps.export": "no export `dtm_idp` in this pack; did you mean `dtm_idps`?",
        "datasets.dtm_idps.indicators[1]": "no indicator `idps_lates` in this pack; did you mean `idps_latest`?",
        "datasets.dtm_idps.series.indicator": "no indicator `idps_by_countr` in this pack; did you mean "
                                              "`idps_by_country`?",
    }


def test_files_a_pack_lists_are_checked(tmp_path):
    gone = pack_copy(tmp_path / "gone", "dtm", ("  - forms/dtm_idps.xlsx", "  - forms/dtm_idps.xlsx\n  - forms/gone.xlsx"))
    assert problems(gone) == {"forms[1]": "no file `forms/gone.xlsx` beside pack.yaml"}
    folder = pack_copy(tmp_path, "dtm")
    (folder / "indicators.yaml").write_text((folder / "indicators.yaml").read_text(encoding="utf-8").replace(
        "sum: [number_males", "summ: [number_males").replace(
        "form: dtm_idps\n    sum: num_present_idp_ind\n    where", "form: dtm\n    sum: "
        "num_present_idp_ind\n    where"), encoding="utf-8")
    with pytest.raises(PackError) as caught:
        check_pack(folder)
    located = {(Path(p.file).name, p.path): p.message for p in caught.value.problems}
    assert located == {
        ("indicators.yaml", "indicators[3].summ"): "unknown key `summ`; did you mean `sum`?",
        ("indicators.yaml", "indicators[4].form"): "no form `dtm` in this pack (known: dtm_idps)",
    }
    staff = pack_copy(tmp_path, "staff")
    (staff / "reference" / "prior_figures.csv").unlink()
    assert problems(staff) == {"reference.prior": "no file `reference/prior_figures.csv` beside pack.yaml"}


def test_a_form_that_does_not_compile_is_located(tmp_path):
    folder = pack_copy(tmp_path, "dtm")
    (folder / "forms" / "dtm_idps.xlsx").write_bytes(b"not a workbook")
    found = problems(folder)
    assert list(found) == ["forms[0]"] and "`forms/dtm_idps.xlsx` is not a valid XLSForm: form-invalid" in found["forms[0]"]


def test_yaml_that_does_not_parse_names_its_line(tmp_path):
    folder = pack_copy(tmp_path, "dtm", ("\nrecords:\n", "\nrecords:\n  [unclosed\n"))
    with pytest.raises(PackError) as caught:
        read_pack_yaml(folder / "pack.yaml")
    (problem,) = caught.value.problems
    assert problem.path == "" and problem.message.startswith("not YAML: line ")


def test_a_pack_error_is_a_usage_error_coded_pack_invalid(tmp_path):
    with pytest.raises(UsageError) as caught:
        read_pack_yaml(pack_copy(tmp_path, "dtm", ("title: DTM", "titel: DTM")) / "pack.yaml")
    assert caught.value.code == "pack.invalid"


# ---- passage packs ------------------------------------------------------------------------------------------

def test_packs_list_names_every_installed_pack_with_its_version_forms_and_import_kinds():
    result = CliRunner().invoke(main, ["packs", "list", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = {line.split(",")[0]: line for line in result.output.splitlines()[1:]}
    order = [name for name in rows if name in BUILTIN]  # others may be installed (tests/plugins/flowcount)
    assert order[:2] == ["dtm", "staff"] and set(rows) >= set(BUILTIN)
    assert order.index("staff") < order.index("institutional")  # after the packs it requires
    assert f"passage {version('passage')}" in rows["travel"]
    assert str(pack_dirs()["travel"]) in rows["travel"]
    assert "poe poe_assessment travel_level travel_measure" in rows["travel"]
    assert rows["travel"].endswith("acaps cobap cobap-dmy cobap-mdy oxcgrt")


def test_packs_check_passes_a_good_copy_with_a_summary(tmp_path):
    folder = pack_copy(tmp_path, "travel")
    result = CliRunner().invoke(main, ["packs", "check", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"pack travel: Travel measures and points of entry ({folder / 'pack.yaml'})"
    assert "own sections: mappings" in result.stdout


def test_packs_check_fails_a_bad_copy_with_every_located_problem(tmp_path):
    folder = pack_copy(tmp_path, "dtm", ("map: {indicator: idps_latest", "map: {indicatr: idps_latest"),
                       ("    export: dtm_idps", "    export: dtm_idp"))
    result = CliRunner().invoke(main, ["packs", "check", str(folder / "pack.yaml")])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"{folder / 'pack.yaml'}: datasets.dtm_idps.map.indicatr: unknown key `indicatr`; did you mean " \
           "`indicator`?" in result.stderr
    assert "datasets.dtm_idps.export: no export `dtm_idp` in this pack; did you mean `dtm_idps`?" in result.stderr
    assert result.stderr.splitlines()[-1] == "3 problem(s): the pack would not load."


def test_a_dataset_offers_only_tables_the_pack_has(tmp_path):
    # exports and the pack's derived tables (`published_tables` hook) are known; anything else is not
    found = problems(pack_copy(tmp_path, "dtm", ("tables: [dtm_idps, hapi-idps]", "tables: [dtm_idps, hapi-idp]")))
    assert found == {"datasets.dtm_idps.tables[1]": "no table `hapi-idp` in this pack; did you mean `hapi-idps`?"}


def test_a_pack_not_installed_is_told_why_its_own_sections_are_unknown(tmp_path):
    found = problems(pack_copy(tmp_path, "travel", ("name: travel\n", "name: travel_copy\n")))
    assert found["mappings"].startswith("unknown key `mappings`")
    assert found[""] == ("pack `travel_copy` is not installed, so its own sections (its `pack_sections` hook) are "
                         "not known: install it to check them")


def test_an_installed_pack_is_named_as_its_entry_point(tmp_path, monkeypatch):
    import passage.plugins

    folder = pack_copy(tmp_path, "dtm", ("name: dtm\n", "name: idp_tracking\n"))
    installed = passage.plugins.pack_dirs()
    monkeypatch.setattr(passage.plugins, "pack_dirs", lambda: {**installed, "dtm": folder})
    assert problems(folder) == {"name": "the pack is installed as `dtm`: name it so"}


def test_a_staff_rule_reads_measures_of_its_pack(tmp_path):
    found = problems(pack_copy(tmp_path, "staff", ("    left: table1_women_now", "    left: table1_womn_now"),
                               ("    right: table3_percentage_women - before(table3_percentage_women, year)",
                                "    right: table3_percentage_women - before(table3_percentage_women, year).real")))
    assert found == {
        "rules[10].left": "no measure `table1_womn_now` in this pack; did you mean `table1_women_now`?",
        "rules[18].right": "Attribute is not allowed in a formula ('table3_percentage_women - "
                           "before(table3_percentage_women, year).real'): it holds measure names, numbers, + - * / "
                           "and before(measure, key)"}
