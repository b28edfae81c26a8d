"""Staff statistics: the register import, the annex tables against the published CSVs, the consistency rules
against the report's own inconsistencies, and a second register checked against counts made here with
csv + Counter."""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SHARED
from passage.cli import main
from passage.errors import UsageError
from passage.ingest import import_files
from passage.packs.staff import check, load_rules, printed_tables, staff_tables, write_staff_tables
from passage.packs.staff.reference import load_figures
from passage.packs.staff.rules import Skipped
from passage.store import open_store

SEED = SHARED / "seed"
ANNEX = SEED / "annex"
REGISTER = SEED / "staff_register_2020.csv"
REPORT = SEED / "annual-report-2020.txt"
FIGURES = Path(__file__).resolve().parents[1] / "src/passage/packs/staff/reference/figures_2020.csv"
HEADER = ["staff_id", "category", "grade", "nationality", "nationality_group", "sex", "appointment_type"]
GS, PRO = "General Service", "Professional and higher"
GS_GRADES = ["G-1", "G-1A", "G-1B", "G-2", "G-3", "G-4", "G-5", "G-6", "G-7", "G-8", "NO-A", "NO-B", "NO-C", "NO-D",
             "UG"]
PRO_GRADES = ["E-1", "E-2", "D-2", "D-1", "P-5", "P-4", "P-3", "P-2", "P-1", "UG"]


def read_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def write_register(path: Path, rows: list[dict], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, header, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def pct(part: int, whole: int) -> int:
    return int((Decimal(100 * part) / Decimal(whole)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory):
    """A DuckDB store holding the shared 2020 register (imported once for the module)."""
    path = tmp_path_factory.mktemp("staff") / "staff.duckdb"
    with open_store(str(path)) as s:
        result = import_files(s, "staff-register", [REGISTER])
        assert result.status == "committed", result.report.summary()
        yield s


@pytest.fixture(scope="module")
def computed(shared_store, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tables")
    write_staff_tables(shared_store, 2020, out)
    return out


# ---- import ----------------------------------------------------------------------------------------------

def test_shared_register_imports_as_one_snapshot(shared_store):
    sha = hashlib.sha256(REGISTER.read_bytes()).hexdigest()
    rows = shared_store.query("SELECT year, register, count(*), count(DISTINCT staff_id) FROM staff_member "
                              "GROUP BY year, register")
    assert rows == [(2020, sha, 16254, 16254)]  # the year from the file name, the file's hash as snapshot
    by_cat = dict(shared_store.query("SELECT category, count(*) FROM staff_member GROUP BY category"))
    assert by_cat == {GS: 14069, PRO: 2185}
    again = import_files(shared_store, "staff-register", [REGISTER])
    assert again.status == "unchanged"


# ---- tables vs the published CSVs ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["annex2_general_service", "annex3_professional", "annex1_table1",
                                  "annex1_table3", "annex1_table4"])
def test_tables_reproduce_the_published_csvs_byte_for_byte(computed, name):
    assert (computed / f"{name}.csv").read_bytes() == (ANNEX / f"{name}.csv").read_bytes()


def _diff(computed: Path, name: str) -> list[tuple[str, str]]:
    ours = (computed / f"{name}.csv").read_text(encoding="utf-8").splitlines()
    printed = (ANNEX / f"{name}.csv").read_text(encoding="utf-8").splitlines()
    assert len(ours) == len(printed)
    return [(a, b) for a, b in zip(ours, printed) if a != b]


def test_table2_differs_only_where_the_report_disagrees_with_annex3(computed):
    # The register matches Annex III (P-2 600, P-3 591: its Total row); the printed Table 2 has 601 and 592,
    # one more man in each (the register's E-1 and E-2 are both men: apparently counted in P-2 and P-3).
    assert _diff(computed, "annex1_table2") == [
        ("P-2,2020,men,306,count,Men", "P-2,2020,men,307,count,Men"),
        ("P-2,2020,total,600,count,Total in 2020", "P-2,2020,total,601,count,Total in 2020"),
        ("P-3,2020,men,295,count,Men", "P-3,2020,men,296,count,Men"),
        ("P-3,2020,total,591,count,Total in 2020", "P-3,2020,total,592,count,Total in 2020"),
    ]


def test_nationalities_differ_only_where_the_report_counts_133(computed):
    # Annex III lists staff for 132 Member States; the printed table says 133 (so 140 and 77 %).
    annex3 = read_rows(ANNEX / "annex3_professional.csv")
    assert sum(1 for r in annex3 if r["section"] == "member" and int(r["total"]) > 0) == 132
    assert _diff(computed, "nationalities") == [
        ("2020,member_state_nationalities,132,count,Number of Member State nationalities",
         "2020,member_state_nationalities,133,count,Number of Member State nationalities"),
        ("2020,total_nationalities,139,count,Total nationalities represented",
         "2020,total_nationalities,140,count,Total nationalities represented"),
        ("2020,percentage_member_states_represented,76,percent,Percentage of Member States represented",
         "2020,percentage_member_states_represented,77,percent,Percentage of Member States represented"),
    ]


def test_annex1_current_year_from_register_counted_here():
    reg = read_rows(REGISTER)
    pro = Counter((r["grade"], r["sex"]) for r in reg if r["category"] == PRO)
    men, women = sum(v for (g, s), v in pro.items() if s == "M"), sum(v for (g, s), v in pro.items() if s == "F")
    assert (men, women) == (1119, 1066)  # Table 1, 2020
    p5up = [(g, s) for g in ("P-5", "D-1", "D-2") for s in "MF"]
    assert (sum(pro[k] for k in p5up if k[1] == "M"), sum(pro[k] for k in p5up if k[1] == "F")) == (103, 66)
    t1 = {r["measure"]: int(r["value"]) for r in read_rows(ANNEX / "annex1_table1.csv") if r["year"] == "2020"}
    t3 = {r["measure"]: int(r["value"]) for r in read_rows(ANNEX / "annex1_table3.csv") if r["year"] == "2020"}
    assert (t1["men"], t1["women"], t3["men"], t3["women"]) == (1119, 1066, 103, 66)


def test_table_sources_trace_the_import(shared_store):
    tables = staff_tables(shared_store, 2020)
    sha = hashlib.sha256(REGISTER.read_bytes()).hexdigest()
    for t in tables.values():
        assert "staff_register_2020.csv" in t.source and sha[:12] in t.source
        assert "nationalities_2020.csv" in t.source
    assert "prior_figures.csv" in tables["annex1_table1"].source


# ---- rules -------------------------------------------------------------------------------------------------

def _failures(results) -> set[tuple]:
    return {(r.rule, r.where, r.left if isinstance(r.left, int) else round(r.left, 1), r.right)
            for r in results if not r.ok}


CARRIED = {  # failures the report's own text, prior figures or lists carry into any tables checked with them
    ("annex2.total_row", "col=G-3", 961, 958), ("annex2.total_row", "col=G-4", 2545, 2529),
    ("annex2.total_row", "col=G-5", 2319, 2313), ("annex2.total_row", "col=G-6", 1183, 1179),
    ("annex2.total_row", "col=G-7", 393, 391), ("annex2.total_row", "col=NO-A", 772, 770),
    ("annex2.total_row", "col=UG", 4636, 4620),  # seven columns of the printed Total row leave "Other" out
    ("table4.percentage", "year=2005", 12.4, 14),  # 667 / 5,397 = 12.4 %, printed 14 %
    ("p184.headcount", "", 16524, 16254),  # "total headcount of 16,524" vs 16,254
    ("p184.hardship_share", "", 51.1, 29),  # 1,116 of 2,185 is 51 %, printed 29 %
    ("p186.trained_share", "", 46.6, 45),  # "7,573 staff (approximately 45%)": 46.6 % (warning)
    ("annexes.same_list", "section=observer_other", 14, 13),  # Barbados listed in Annex II only (warning)
}


def test_rules_find_the_reports_inconsistencies_in_the_printed_tables():
    results = check(printed_tables(ANNEX), load_figures(year=2020))
    assert _failures(results) == CARRIED | {
        ("table2.vs_annex3", "grade=P-2", 601, 600), ("table2.vs_annex3", "grade=P-3", 592, 591),
        ("table2.vs_table1", "", 2187, 2185),  # Table 2's grades + E-1, E-2 exceed Table 1 by those two
        ("nationalities.members_vs_annex3", "", 133, 132),  # 133 printed, 132 Member States have staff
    }
    severities = {r.rule: r.severity for r in results}
    assert severities["p184.headcount"] == "error" and severities["p186.trained_share"] == "warning"


def test_rules_over_the_computed_tables_fail_only_where_the_input_carries_it(shared_store):
    skipped: list[Skipped] = []
    results = check(staff_tables(shared_store, 2020), load_figures(year=2020), skipped=skipped)
    assert _failures(results) == CARRIED
    assert len(results) > 800  # per country row, column, year and grade
    assert [(s.rule, s.where) for s in skipped] == [("table3.change", "year=2016")]  # no 2015 in the tables
    without_figures = check(staff_tables(shared_store, 2020))
    assert {r[0] for r in _failures(without_figures)} == {"table4.percentage", "annexes.same_list"}


def test_figures_are_quoted_from_the_report():
    text = re.sub(r"\s+", " ", REPORT.read_text(encoding="utf-8"))
    rows = read_rows(FIGURES)
    assert len(rows) > 40
    for r in rows:
        assert r["quote"] in text, r["id"]
        assert r["printed"] in r["quote"], r["id"]
        digits = re.sub(r"[ ,]", "", r["printed"])
        if digits.isdigit():
            assert int(digits) == int(r["value"]), r["id"]


def test_rule_definitions_are_checked(tmp_path):
    assert len(load_rules()) >= 40
    for bad, message in [("operator: '=~'", "operator"), ("left: __import__('os')", "function"),
                         ("left: total.__class__", "Attribute")]:
        spec = {"id": "x", "description": "d", "left": "1", "operator": "==", "right": "1"}
        key, value = bad.split(": ", 1)
        spec[key] = value.strip("'")
        path = tmp_path / "rules.yaml"
        path.write_text(json.dumps({"rules": [spec]}), encoding="utf-8")
        with pytest.raises(UsageError, match=message):
            load_rules(path=path)


# ---- a second register, counted independently ---------------------------------------------------------------

def perturbed_register(tmp_path: Path) -> tuple[Path, list[dict]]:
    """The shared register with 10 people moved between grades and countries and one sex changed; the year
    in a column (the file name has none)."""
    rows = read_rows(REGISTER)
    rng = random.Random(7)
    lists = {cat: [(r["section"], r["country"]) for r in read_rows(ANNEX / f"{name}.csv")]
             for cat, name in ((GS, "annex2_general_service"), (PRO, "annex3_professional"))}
    for i in rng.sample(range(len(rows)), 10):
        r = rows[i]
        r["grade"] = rng.choice(GS_GRADES if r["category"] == GS else PRO_GRADES)
        r["nationality_group"], r["nationality"] = rng.choice(lists[r["category"]])
    rows[3]["sex"] = "F" if rows[3]["sex"] == "M" else "M"
    for r in rows:
        r["year"] = "2020"
    rng.shuffle(rows)
    return write_register(tmp_path / "register_perturbed.csv", rows, ["year", *HEADER]), rows


def test_second_register_is_the_newest_snapshot_and_matches_independent_counts(store, tmp_path):
    first = import_files(store, "staff-register", [REGISTER])
    path, rows = perturbed_register(tmp_path)
    second = import_files(store, "staff-register", [path])
    assert first.status == second.status == "committed"
    assert store.scalar("SELECT count(*) FROM staff_member") == 2 * 16254  # the first snapshot is kept
    tables = staff_tables(store, 2020)
    assert "register_perturbed.csv" in tables["annex2_general_service"].source

    for cat, name, grades in ((GS, "annex2_general_service", GS_GRADES), (PRO, "annex3_professional", PRO_GRADES)):
        cells = Counter((r["nationality_group"], r["nationality"], r["grade"]) for r in rows if r["category"] == cat)
        sexes = Counter((r["nationality_group"], r["nationality"], r["sex"]) for r in rows if r["category"] == cat)
        expected = []
        for listed in read_rows(ANNEX / f"{name}.csv"):
            key = (listed["section"], listed["country"])
            counts = [cells[key + (g,)] for g in grades]
            expected.append((*key, *counts, sum(counts), sexes[key + ("F",)], sexes[key + ("M",)]))
        assert tables[name].rows == expected

    pro = [r for r in rows if r["category"] == PRO]
    by = Counter((r["grade"], r["sex"]) for r in pro)
    t1 = {m: v for y, m, v, _, _ in tables["annex1_table1"].rows if y == 2020}
    assert (t1["men"], t1["women"]) == (sum(1 for r in pro if r["sex"] == "M"), sum(1 for r in pro if r["sex"] == "F"))
    assert t1["percentage_women"] == pct(t1["women"], t1["total"])
    t2 = {(g, m): v for g, y, m, v, _, _ in tables["annex1_table2"].rows if y == 2020}
    for label, parts in (("Ungraded", ["UG"]), ("P-2", ["P-2"]), ("D-1–D-2", ["D-1", "D-2"])):
        men, women = sum(by[(p, "M")] for p in parts), sum(by[(p, "F")] for p in parts)
        assert (t2[(label, "men")], t2[(label, "women")]) == (men, women)
        assert t2[(label, "percentage_women")] == pct(women, men + women)
    t3 = {m: v for y, m, v, _, _ in tables["annex1_table3"].rows if y == 2020}
    assert t3["total"] == sum(by[(g, s)] for g in ("P-5", "D-1", "D-2") for s in "MF")
    assert t3["change_percentage_women"] == t3["percentage_women"] - 38  # 2019's 38 % from the prior figures
    t4 = {m: v for y, m, v, _, _ in tables["annex1_table4"].rows if y == 2020}
    assert (t4["international_professional"], t4["general_service_and_national_officers"]) == (
        len(pro), sum(1 for r in rows if r["category"] == GS))
    nat = {m: v for y, m, v, _, _ in tables["nationalities"].rows if y == 2020}
    members = {r["nationality"] for r in pro if r["nationality_group"] == "member"}
    others = {r["nationality"] for r in pro if r["nationality_group"] == "observer_other"}
    assert (nat["member_state_nationalities"], nat["non_member_state_nationalities"]) == (len(members), len(others))
    assert nat["member_states"] == 173
    # The row rules hold on any register's tables.
    bad = [r for r in check(tables) if not r.ok and r.rule.endswith(("row_total", "row_sex", ".total"))]
    assert bad == []


# ---- bad input ------------------------------------------------------------------------------------------------

def _row(i: int, **over) -> dict:
    base = {"staff_id": f"T{i:04d}", "category": GS, "grade": "G-4", "nationality": "Kenya",
            "nationality_group": "member", "sex": "F", "appointment_type": "national"}
    return {**base, **over}


def test_bad_rows_are_located_and_coded(store, tmp_path):
    rows = [_row(1), _row(2, category=PRO, grade="G-5"), _row(3, sex="X"), _row(4, staff_id="T0001"),
            _row(5, grade="P-9"), _row(6, nationality="Atlantis")]
    path = write_register(tmp_path / "staff_2020.csv", rows)
    result = import_files(store, "staff-register", [path])
    assert result.status == "rejected"
    got = {(f.row, f.column, f.code, f.severity) for f in result.report}
    assert (3, "grade", "staff.grade_category", "error") in got  # G-5 is not a Professional grade
    assert (4, "sex", "choice-unknown", "error") in got
    assert (6, "grade", "choice-unknown", "error") in got
    assert (7, "nationality", "staff.nationality_unlisted", "warning") in got
    assert store.scalar("SELECT count(*) FROM rec_staff_member") == 0  # nothing loaded
    # with the bad values fixed, the duplicate id shows (the key is checked once values are clean)
    fixed = [_row(1), _row(2), _row(4, staff_id="T0001")]
    dup = import_files(store, "staff-register", [write_register(tmp_path / "staff_2020b.csv", fixed)])
    assert [(f.row, f.code) for f in dup.report.errors] == [(4, "duplicate-key")]


def test_unlisted_nationality_is_a_warning_and_keeps_its_people(store, tmp_path):
    rows = [_row(1), _row(2, nationality="Atlantis"), _row(3, nationality="Atlantis", sex="M"),
            _row(4, nationality="Barbados", nationality_group="member")]  # listed under observer_other only
    result = import_files(store, "staff-register", [write_register(tmp_path / "staff_2020.csv", rows)])
    assert result.status == "committed"
    assert [(f.row, f.code, f.value) for f in result.report.warnings] == [
        (3, "staff.nationality_unlisted", "member: Atlantis"), (4, "staff.nationality_unlisted", "member: Atlantis"),
        (5, "staff.nationality_unlisted", "member: Barbados")]
    annex2 = staff_tables(store, 2020)["annex2_general_service"]
    countries = [(r[0], r[1]) for r in annex2.rows]
    last_member = max(i for i, (s, c) in enumerate(countries) if s == "member")
    assert countries[last_member - 2: last_member + 2] == [
        ("member", "Zimbabwe"), ("member", "Atlantis"), ("member", "Barbados"), ("observer_other", "Bahrain")]
    atl = annex2.rows[countries.index(("member", "Atlantis"))]
    assert atl[-3:] == (2, 1, 1)
    assert sum(r[-3] for r in annex2.rows) == 4  # nobody left out


@pytest.mark.parametrize("name, header, code, column", [
    ("staff_2020.csv", [h for h in HEADER if h != "sex"], "column-missing", "sex"),
    ("register.csv", HEADER, "staff.year_missing", "year"),
    ("register_2019_to_2020.csv", HEADER, "staff.year_missing", "year"),
])
def test_bad_files(store, tmp_path, name, header, code, column):
    path = write_register(tmp_path / name, [_row(1)], header)
    result = import_files(store, "staff-register", [path])
    assert result.status == "rejected"
    assert [(f.row, f.column, f.code) for f in result.report.errors] == [(1, column, code)]


def test_year_column_blank_without_a_year_in_the_name(store, tmp_path):
    rows = [{**_row(1), "year": "2020"}, {**_row(2), "year": ""}]
    result = import_files(store, "staff-register", [write_register(tmp_path / "register.csv", rows,
                                                                   ["year", *HEADER])])
    assert [(f.row, f.column, f.code) for f in result.report.errors] == [(3, "year", "required")]


def test_year_given_on_the_command_line(store_path, tmp_path):
    """`--year` names the year of a register whose file says none; a column would still win, row by row."""
    path = write_register(tmp_path / "register.csv", [_row(1), _row(2, sex="M")])
    runner = CliRunner()
    rejected = runner.invoke(main, ["--db", str(store_path), "import", "staff-register", str(path)])
    assert rejected.exit_code == 1 and "staff.year_missing" in rejected.output
    ok = runner.invoke(main, ["--db", str(store_path), "import", "staff-register", "--year", "2019", str(path)])
    assert ok.exit_code == 0, ok.output
    out = runner.invoke(main, ["--db", str(store_path), "report", "staff-tables", "--year", "2019",
                               "-o", str(tmp_path / "t")])
    assert out.exit_code == 0, out.output
    with (tmp_path / "t" / "annex2_general_service.csv").open(encoding="utf-8") as fh:
        assert sum(int(r["total"]) for r in csv.DictReader(fh)) == 2
    usage = runner.invoke(main, ["--db", str(store_path), "import", "dtm", "--year", "2019", str(path)])
    assert usage.exit_code == 2 and "--year" in usage.output


def test_extra_column_is_left_out_with_a_warning(store, tmp_path):
    rows = [{**_row(1), "duty_station": "Nairobi"}]
    result = import_files(store, "staff-register", [write_register(tmp_path / "staff_2021.csv", rows,
                                                                   [*HEADER, "duty_station"])])
    assert result.status == "committed"
    assert [(f.code, f.column, f.severity) for f in result.report] == [("column-unexpected", "duty_station", "warning")]
    assert store.scalar("SELECT year FROM staff_member") == 2021


# ---- the nationality list ------------------------------------------------------------------------------------

def test_imported_nationality_list_applies_from_its_year(store, tmp_path):
    listed = read_rows(Path(__file__).resolve().parents[1] / "src/passage/packs/staff/reference/nationalities_2020.csv")
    new = [{**r, "year": "2021"} for r in listed]
    at = max(i for i, r in enumerate(new) if r["annex"] == "annex3_professional" and r["section"] == "member")
    new.insert(at + 1, {"year": "2021", "annex": "annex3_professional", "section": "member", "country": "Atlantis"})
    path = write_register(tmp_path / "members.csv", new, ["year", "annex", "section", "country"])
    assert import_files(store, "nationality-list", [path]).status == "committed"
    reg = write_register(tmp_path / "staff_2021.csv", [_row(1, category=PRO, grade="P-3", nationality="Atlantis")])
    result = import_files(store, "staff-register", [reg])
    assert result.status == "committed" and not result.report.warnings  # listed for 2021
    tables = staff_tables(store, 2021)
    annex3 = tables["annex3_professional"]
    assert len(annex3.rows) == 187 and annex3.rows[173][:2] == ("member", "Atlantis")
    nat = {m: v for y, m, v, _, _ in tables["nationalities"].rows if y == 2021}
    assert (nat["member_states"], nat["member_state_nationalities"], nat["percentage_member_states_represented"]) \
        == (174, 1, 1)
    assert "nationality-list import" in annex3.source and "members.csv" in annex3.source
    # 2020 (before the list's year) keeps the pack's list
    import_files(store, "staff-register", [write_register(tmp_path / "staff_2020.csv", [_row(1)])])
    assert len(staff_tables(store, 2020)["annex3_professional"].rows) == 186


def test_nationality_list_errors(store, tmp_path):
    rows = [{"annex": "annex2_general_service", "section": "member", "country": "Kenya"},
            {"annex": "annex2_general_service", "section": "observer_other", "country": "Kenya"}]
    result = import_files(store, "nationality-list",
                          [write_register(tmp_path / "list_2022.csv", rows, ["annex", "section", "country"])])
    assert result.status == "rejected"
    assert {(f.row, f.code) for f in result.report.errors} == {(3, "duplicate-key"), (None, "staff.list_annex_missing")}


# ---- prior figures, CLI, PostgreSQL ---------------------------------------------------------------------------

def test_prior_file_overrides_the_packs(shared_store, tmp_path):
    prior = Path(__file__).resolve().parents[1] / "src/passage/packs/staff/reference/prior_figures.csv"
    text = prior.read_text(encoding="utf-8").replace("annex1_table3,,2019,percentage_women,38,",
                                                     "annex1_table3,,2019,percentage_women,30,")
    mine = tmp_path / "prior.csv"
    mine.write_text(text, encoding="utf-8")
    t3 = staff_tables(shared_store, 2020, prior=mine)["annex1_table3"]
    change = {(y, m): v for y, m, v, _, _ in t3.rows}
    assert change[(2019, "percentage_women")] == 30 and change[(2020, "change_percentage_women")] == 9
    assert str(mine) in t3.source


def test_cli_staff_tables_and_check(shared_store, tmp_path):
    runner = CliRunner()
    db = shared_store.url
    out = runner.invoke(main, ["--db", db, "report", "staff-tables", "--year", "2020", "-o", str(tmp_path / "t")])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "t" / "annex3_professional.csv").read_bytes() == (ANNEX / "annex3_professional.csv").read_bytes()
    printed = runner.invoke(main, ["report", "check", "--tables", str(ANNEX), "--format", "json"])
    assert printed.exit_code == 1  # error-severity rules fail
    doc = json.loads(printed.stdout)
    assert {r["rule"] for r in doc["results"]} >= {"p184.headcount", "table4.percentage", "annex2.total_row"}
    assert doc["errors"] == 13 and doc["warnings"] == 3
    usage = runner.invoke(main, ["report", "check"])
    assert usage.exit_code == 2


def test_postgres_and_duckdb_give_the_same_tables(any_store, tmp_path):
    rows = read_rows(REGISTER)[::8]  # 2,032 people: quick on both backends
    path = write_register(tmp_path / "staff_register_2020.csv", rows)
    assert import_files(any_store, "staff-register", [path]).status == "committed"
    tables = staff_tables(any_store, 2020)
    annex2 = tables["annex2_general_service"]
    expected = Counter((r["nationality_group"], r["nationality"]) for r in rows if r["category"] == GS)
    assert {(r[0], r[1]): r[-3] for r in annex2.rows if r[-3]} == dict(expected)
    assert len(annex2.rows) == 187
    t4 = {m: v for y, m, v, _, _ in tables["annex1_table4"].rows if y == 2020}
    assert t4["total"] == len(rows)


def test_every_rule_is_documented():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "staff.md").read_text(encoding="utf-8")
    assert [r.id for r in load_rules() if f"`{r.id}`" not in doc] == []


def test_generated_demo_register_imports_cleanly(store, tmp_path):
    """The portal demo's made-up register: every nationality listed, the headcounts it promises, counted here."""
    from passage.packs.staff.demo import HEADCOUNT, write_demo_register

    path = write_demo_register(tmp_path / "generated_staff_register_2020.csv")
    result = import_files(store, "staff-register", [path])
    assert result.status == "committed" and not result.report.warnings
    rows = read_rows(path)
    assert len(rows) == sum(HEADCOUNT.values()) == result.inserted
    annex3 = staff_tables(store, 2020)["annex3_professional"]
    assert sum(r[-3] for r in annex3.rows) == sum(1 for r in rows if r["category"] == PRO) == HEADCOUNT[
        "annex3_professional"]


def test_a_rule_file_adds_its_measures_and_rules_in_the_measure_language(tmp_path):
    from passage.packs.staff.rules import load_measures

    path = tmp_path / "rules.yaml"
    path.write_text(json.dumps({
        "measures": [{"name": "annex3_men", "form": "annex3_professional", "sum": "value",
                      "where": [{"field": "col", "equals": "male"}]}],
        "rules": [{"id": "men", "description": "Table 1's men equal Annex III's", "left": "table1_men_now",
                   "operator": "==", "right": "annex3_men"},
                  {"id": "share", "description": "Men are under 60 % of Annex III",
                   "left": "100 * annex3_men / annex3_headcount", "operator": "<", "right": 60,
                   "severity": "warning"}]}), encoding="utf-8")
    rows = read_rows(ANNEX / "annex3_professional.csv")
    men, total = sum(int(r["male"]) for r in rows), sum(int(r["total"]) for r in rows)
    table1 = {r["measure"]: int(r["value"]) for r in read_rows(ANNEX / "annex1_table1.csv") if r["year"] == "2020"}
    results = check(printed_tables(ANNEX), rules=load_rules(path=path), measures=load_measures(path=path))
    assert [(r.rule, r.left, r.right, r.ok) for r in results] == [
        ("men", table1["men"], men, table1["men"] == men),
        ("share", pytest.approx(100 * men / total), 60, 100 * men / total < 60)]
    path.write_text(json.dumps({"rules": [{"id": "x", "description": "d", "left": "annex3_wom", "operator": "==",
                                           "right": 1}]}), encoding="utf-8")
    with pytest.raises(UsageError, match="reads no measure 'annex3_wom'"):
        load_rules(path=path)
