"""A user's own form, published like a pack's (issue 12, item 5): install an XLSForm with a place field, a
repeat, start/end and an `hxl` column; import a Kobo export; add indicators from YAML; publish one country;
export every format as the public (the released country only) and as an admin; the portal's dataset page.
On DuckDB and PostgreSQL where the store matters."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

import hxl
import openpyxl
import pyarrow.parquet as pq
import pytest

import xlsform_exports as X
from cli_run import passage_cli
from passage.auth import PUBLIC
from passage.errors import UsageError
from passage.forms import compile_xlsform, install_form
from passage.forms.datasets import add_indicators, set_metadata
from passage.indicators import compute
from passage.ingest import import_files
from passage.publish import write
from passage.publish.tables import readable_names, readable_table
from passage.releases import get_dataset, publish
from passage.store import open_store

FORM_ID = "household_energy"
REGIONS = {"NG008": "NGA", "AF01": "AFG"}
DISTRICTS = {"NG008001": "NG008", "NG008003": "NG008", "AF0101": "AF01", "AF0102": "AF01"}


def write_form(path: Path, *, place_column: bool = False) -> Path:
    """The XLSForm: start/end, a group with two place fields (hxl #adm1+code, #adm2+code, districts filtered
    by region), a repeat of members; `place_column`: a `passage_place` column marks a text field instead."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(["type", "name", "label", "hxl", "choice_filter", "required", "passage_place"])
    rows = [
        ["start", "start", "", None, None, None, None],
        ["end", "end", "", None, None, None, None],
        ["begin group", "household", "Household", None, None, None, None],
        ["select_one regions", "region", "Region", "#adm1+code", None, "yes", None],
        ["select_one districts", "district", "District", "#adm2 +code", "region=${region}", "yes", None],
        ["integer", "hh_size", "How many people live here?", "#population+hh", None, "yes", None],
        ["select_one fuels", "fuel", "Main cooking fuel", "#indicator+fuel", None, "yes", None],
        ["end group", "", "", None, None, None, None],
        ["begin repeat", "members", "Members", None, None, None, None],
        ["text", "member_name", "Name", "#name", None, None, None],
        ["integer", "age", "Age", "#affected+age", None, None, None],
        ["end repeat", "", "", None, None, None, None],
    ]
    if place_column:
        rows = [["text", "site_code", "Site P-code", None, None, "yes", "yes"], ["integer", "visits", "Visits", None,
                                                                                 None, None, None]]
    for r in rows:
        ws.append(r)
    c = wb.create_sheet("choices")
    c.append(["list_name", "name", "label", "region"])
    for code in REGIONS:
        c.append(["regions", code, code, None])
    for code, region in DISTRICTS.items():
        c.append(["districts", code, code, region])
    for fuel in ("wood", "lpg", "charcoal"):
        c.append(["fuels", fuel, fuel.title(), None])
    s = wb.create_sheet("settings")
    s.append(["form_id", "form_title", "version"])
    s.append(["site_visits_pp" if place_column else FORM_ID, "Household energy survey", "1"])
    wb.save(path)
    return path


@pytest.fixture
def energy(any_store, tmp_path):
    """The form installed, eight submissions imported from a Kobo XLSX export (with its members sheet)."""
    form = compile_xlsform(write_form(tmp_path / "household_energy.xlsx"))
    install_form(any_store, form)
    subs = X.submissions(form, n=8, seed=3)
    assert {s["household/region"] for s in subs} == set(REGIONS)  # both countries
    result = import_files(any_store, "xlsform-data", [X.write_kobo_xlsx(form, subs, tmp_path / "kobo.xlsx")],
                          form_id=FORM_ID, user="im-officer")
    assert result.status == "committed", result.report.findings
    return any_store, form, subs


def by_country(subs):
    return {iso: [s for s in subs if REGIONS[s["household/region"]] == iso] for iso in set(REGIONS.values())}


def test_records_keep_start_end_and_link_to_places(energy):
    store, form, subs = energy
    end = form.by_xlsform_name()["end"]  # `end_`: an SQL keyword gets a safe storage name
    assert form.field("start").type == form.field(end).type == "dateTime"
    rows = {r[0]: r[1:] for r in store.query(
        f"SELECT _uuid, start, {end}, _submission_time, _place_code, _country FROM {FORM_ID}")}
    assert len(rows) == len(subs)
    for s in subs:
        start, ended, submitted, place, country = rows[s["_uuid"]]
        assert start == datetime.fromisoformat(s["start"])
        assert ended == datetime.fromisoformat(s["end"])
        assert submitted == datetime.fromisoformat(s["_submission_time"])
        assert place == s["household/district"]  # the most specific code given
        assert country == REGIONS[s["household/region"]]


def test_unknown_and_inconsistent_pcodes_are_findings(store, tmp_path):
    """A `passage_place` column marks the place field; an unknown code is pcode-unknown with the nearest
    code, a code of another country's level too; nothing is loaded."""
    form = compile_xlsform(write_form(tmp_path / "pp.xlsx", place_column=True))
    assert form.field("site_code").place
    install_form(store, form)
    path = tmp_path / "pp.csv"
    path.write_text("site_code,visits,_uuid\nNG008001,3,u1\nNG08001,2,u2\nNG008,1,u3\n", encoding="utf-8")
    result = import_files(store, "xlsform-data", [path], form_id="site_visits_pp")
    assert result.status == "rejected"
    unknown = [f for f in result.report.findings if f.code == "pcode-unknown"]
    assert [(f.row, f.value) for f in unknown] == [(3, "NG08001")]
    assert "did you mean NG008001 Abadam?" in unknown[0].message
    assert store.scalar("SELECT count(*) FROM rec_site_visits_pp") == 0
    path.write_text("site_code,visits,_uuid\nng008001 ,3,u1\nNG008,1,u3\n", encoding="utf-8")
    result = import_files(store, "xlsform-data", [path], form_id="site_visits_pp")
    assert result.status == "committed", result.report.findings
    assert sorted(store.query("SELECT site_code, _place_code, _country FROM site_visits_pp")) == [
        ("NG008", "NG008", "NGA"), ("NG008001", "NG008001", "NGA")]


def test_district_outside_its_region_is_a_finding(store, tmp_path):
    form = compile_xlsform(write_form(tmp_path / "he.xlsx"))
    install_form(store, form)
    subs = X.submissions(form, n=3, seed=3)
    subs[1]["household/district"] = "AF0101" if subs[1]["household/region"] == "NG008" else "NG008001"
    path = X.write_kobo_csv(form, subs, tmp_path / "kobo.csv")
    result = import_files(store, "xlsform-data", [path], form_id=FORM_ID)
    assert result.status == "rejected"
    codes = {f.code for f in result.report.findings}
    assert "pcode-parent-mismatch" in codes or "choice-filtered" in codes


INDICATORS = """\
form: household_energy
indicators:
  - name: he_households
    title: Households surveyed
    unit: households
    count: "*"
    by: [{place_level: 1}]
  - name: he_mean_size
    title: Mean household size
    mean: hh_size
    by: [_country]
  - name: he_wood_share
    title: Share of households cooking with firewood
    share:
      numerator: [{field: fuel, equals: wood}]
      denominator: []
    by: [_country]
"""


def test_indicators_from_yaml_are_computed_exported_and_released(energy, tmp_path):
    store, _, subs = energy
    path = tmp_path / "ind.yaml"
    path.write_text(INDICATORS, encoding="utf-8")
    assert [m.name for m in add_indicators(store, path)] == ["he_households", "he_mean_size", "he_wood_share"]
    assert get_dataset(store, FORM_ID).indicators == ["he_households", "he_mean_size", "he_wood_share"]
    groups = by_country(subs)
    counts = {r["place_level_1"]: r["value"] for r in compute(store, "he_households").to_pylist()}
    assert counts == {region: sum(s["household/region"] == region for s in subs) for region in REGIONS}
    means = {r["_country"]: r["value"] for r in compute(store, "he_mean_size").to_pylist()}
    assert means == pytest.approx({c: sum(int(s["household/hh_size"]) for s in g) / len(g) for c, g in groups.items()})
    wood = {r["_country"]: r["numerator"] for r in compute(store, "he_wood_share").to_pylist()}
    assert wood == {c: sum(s["household/fuel"] == "wood" for s in g) for c, g in groups.items()}
    # Public: nothing before a release, then the released country only
    assert readable_table(store, "he_mean_size", PUBLIC).data.num_rows == 0
    publish(store, FORM_ID, "NGA", user="publisher")
    assert {r["_country"] for r in readable_table(store, "he_mean_size", PUBLIC).data.to_pylist()} == {"NGA"}
    # Added again: replaced, not doubled
    add_indicators(store, path)
    assert get_dataset(store, FORM_ID).indicators == ["he_households", "he_mean_size", "he_wood_share"]


@pytest.mark.parametrize("text, message", [
    ("form: household_energy\nindicators:\n  - name: x\n    sum: [hh_size\n", "line 4"),
    ("form: household_energy\nindicators:\n  - name: he_a\n    count: '*'\n  - name: he_b\n    sum: hh_sise\n",
     "line 5: he_b: sum: no field 'hh_sise' in form 'household_energy' (did you mean 'hh_size'?)"),
    ("indicators:\n  - name: he_c\n    count: '*'\n", "no form"),
    ("form: household_energy\nindicators:\n  - name: he_d\n    count: '*'\n    mean: hh_size\n", "exactly one of"),
    ("form: household_energy\nindicators:\n  - name: idps\n    count: '*'\n", "the pack 'dtm'"),
    ("form: household_energy\nindicators:\n  - name: he_e\n    count: '*'\n    where: [{expr: '${nope} > 1'}]\n",
     "expression"),
])
def test_bad_indicator_files_are_located_and_change_nothing(store, tmp_path, text, message):
    install_form(store, compile_xlsform(write_form(tmp_path / "he.xlsx")))
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError) as err:
        add_indicators(store, path)
    assert message in str(err.value) and "bad.yaml" in str(err.value)
    assert get_dataset(store, FORM_ID).indicators == []


def _csv(table) -> list[dict]:
    buf = io.StringIO()
    write(table, "csv", None, buf)
    return list(csv.DictReader(io.StringIO(buf.getvalue())))


def test_export_every_format_public_sees_the_released_country_only(energy, tmp_path):
    store, _, subs = energy
    set_metadata(store, FORM_ID, {"title": "Household energy, Borno and Kabul", "license": "CC BY 4.0",
                                  "source": "Energy cluster"})
    ds = get_dataset(store, FORM_ID)
    assert (ds.title, ds.metadata["license"], ds.tables) == ("Household energy, Borno and Kabul", "CC BY 4.0",
                                                            [FORM_ID, f"{FORM_ID}__members"])
    groups = by_country(subs)
    assert readable_table(store, FORM_ID, PUBLIC).data.num_rows == 0  # not released yet
    publish(store, FORM_ID, "NGA", user="publisher")
    assert (FORM_ID, "Household energy, Borno and Kabul") in readable_names(store, PUBLIC)

    public = readable_table(store, FORM_ID, PUBLIC)
    admin = readable_table(store, FORM_ID, _admin())
    assert admin.data.num_rows == len(subs)
    assert sorted(r["_uuid"] for r in _csv(public)) == sorted(s["_uuid"] for s in groups["NGA"])
    head = public.data.column_names
    assert head[:7] == ["_record_id", "start", "end", "household/region", "household/district", "household/hh_size",
                        "household/fuel"]
    assert {"_submission_time", "_country", "_place_code"} <= set(head)
    kids = readable_table(store, f"{FORM_ID}__members", PUBLIC).data
    nga_kids = sum(len(s["members"]) for s in groups["NGA"])
    assert kids.num_rows == nga_kids and kids.column_names[:4] == ["_record_id", "_parent_record",
                                                                   "members/member_name", "members/age"]
    assert set(kids.column("_parent_record").to_pylist()) <= {s["_uuid"] for s in groups["NGA"]}
    assert readable_table(store, f"{FORM_ID}__members", _admin()).data.num_rows == sum(len(s["members"]) for s in subs)

    # HXL: the XLSForm's own tags, read back by libhxl
    buf = io.StringIO()
    write(public, "hxl", None, buf)
    data = hxl.data(io.BytesIO(buf.getvalue().encode()), hxl.InputOptions(allow_local=True))
    tags = {c.header: c.display_tag for c in data.columns}
    assert tags["household/district"] == "#adm2+code" and tags["household/hh_size"] == "#population+hh"
    assert tags["_country"] == "#country+code"
    assert {r.get("#country+code") for r in data} == {"NGA"}
    # JSON, Parquet, XLSX (records and one sheet per repeat)
    buf = io.StringIO()
    write(public, "json", None, buf)
    assert {r["_country"] for r in json.loads(buf.getvalue())} == {"NGA"}
    write(public, "parquet", tmp_path / "he.parquet")
    pt = pq.read_table(tmp_path / "he.parquet")
    assert pt.num_rows == len(groups["NGA"]) and str(pt.schema.field("household/hh_size").type) == "int64"
    assert str(pt.schema.field("start").type).startswith("timestamp")
    write(public, "xlsx", tmp_path / "he.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "he.xlsx")
    assert wb.sheetnames == [FORM_ID, "members"]
    assert wb[FORM_ID].max_row == len(groups["NGA"]) + 1 and wb["members"].max_row == nga_kids + 1
    assert isinstance(wb[FORM_ID]["B2"].value, datetime)  # start is a date cell


def _admin():
    from passage.auth import OPERATOR

    return OPERATOR


def test_a_form_without_place_field_cannot_be_published(store, tmp_path):
    path = tmp_path / "plain.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "survey"
    wb.active.append(["type", "name", "label"])
    wb.active.append(["integer", "n", "N"])
    wb.create_sheet("settings").append(["form_id"])
    wb["settings"].append(["plain_count"])
    wb.save(path)
    install_form(store, compile_xlsform(path))
    csv_path = tmp_path / "p.csv"
    csv_path.write_text("n\n3\n", encoding="utf-8")
    assert import_files(store, "xlsform-data", [csv_path], form_id="plain_count").status == "committed"
    with pytest.raises(UsageError, match="no place field"):
        publish(store, "plain_count", "NGA")
    from passage.releases import list_datasets

    assert "plain_count" not in [d.name for d in list_datasets(store)]  # no country to release: no dataset
    assert readable_table(store, "plain_count", _admin()).data.column("n").to_pylist() == [3]  # admins export it
    assert "plain_count" not in [n for n, _ in readable_names(store, PUBLIC)]


def test_cli_install_import_indicators_publish_export(tmp_path):
    """The README's walk-through: the commands a newcomer pastes."""
    db = str(tmp_path / "p.duckdb")
    form_path = write_form(tmp_path / "household_energy.xlsx")
    meta = tmp_path / "dataset.yaml"
    meta.write_text("notes: Cooking fuel by household.\nmethodology: Household interviews.\ntags: [energy]\n",
                    encoding="utf-8")
    r = passage_cli("--db", db, "forms", "install", form_path, "--license", "CC BY 4.0", "--source",
                    "Energy cluster", "--metadata", meta)
    assert r.returncode == 0, r.stderr
    assert "linked to places by household/district (admin2), household/region (admin1)" in r.stdout
    form = compile_xlsform(form_path)
    export = X.write_kobo_xlsx(form, X.submissions(form, n=8, seed=3), tmp_path / "kobo.xlsx")
    assert passage_cli("--db", db, "import", "xlsform-data", "--form", FORM_ID, export).returncode == 0
    (tmp_path / "ind.yaml").write_text(INDICATORS, encoding="utf-8")
    r = passage_cli("--db", db, "indicators", "add", tmp_path / "ind.yaml")
    assert r.returncode == 0 and "he_households: count of records; by place_level_1" in r.stdout
    assert "he_wood_share" in passage_cli("--db", db, "indicators", "list").stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("form: household_energy\nindicators:\n  - name: x\n    sum: nope\n", encoding="utf-8")
    r = passage_cli("--db", db, "indicators", "add", bad)
    assert r.returncode == 2 and "no field 'nope'" in r.stderr
    assert passage_cli("--db", db, "publish", FORM_ID, "--country", "NGA").returncode == 0
    assert "NGA" in passage_cli("--db", db, "indicators", "show", "he_mean_size", "--country", "NGA").stdout
    listed = passage_cli("--db", db, "export", "--list").stdout
    assert f"{FORM_ID}__members" in listed and "he_households" in listed
    for fmt in ("csv", "xlsx", "parquet", "json", "hxl"):
        r = passage_cli("--db", db, "export", FORM_ID, "--format", fmt, "-o", tmp_path / f"out.{fmt}")
        assert r.returncode == 0, r.stderr
    with open_store(db) as st:
        ds = get_dataset(st, FORM_ID)
        assert (ds.metadata["license"], ds.metadata["source"], ds.metadata["tags"]) == ("CC BY 4.0", "Energy cluster",
                                                                                       ["energy"])


def test_portal_dataset_page_and_downloads(tmp_path):
    from fastapi.testclient import TestClient

    from passage.web.app import create_app

    db = tmp_path / "portal.duckdb"
    with open_store(str(db)) as st:
        form = compile_xlsform(write_form(tmp_path / "he.xlsx"))
        install_form(st, form)
        subs = X.submissions(form, n=8, seed=3)
        import_files(st, "xlsform-data", [X.write_kobo_xlsx(form, subs, tmp_path / "kobo.xlsx")], form_id=FORM_ID)
        set_metadata(st, FORM_ID, {"license": "CC BY 4.0", "source": "Energy cluster"})
        (tmp_path / "ind.yaml").write_text(INDICATORS, encoding="utf-8")
        add_indicators(st, tmp_path / "ind.yaml")
        publish(st, FORM_ID, "NGA")
    nga = by_country(subs)["NGA"]
    with TestClient(create_app(str(db))) as client:
        page = client.get("/datasets")
        assert page.status_code == 200 and "Household energy survey" in page.text
        page = client.get(f"/datasets/{FORM_ID}")
        assert page.status_code == 200
        for text in ("CC BY 4.0", "Energy cluster", f"/download/{FORM_ID}__members?format=xlsx", "he_households"):
            assert text in page.text
        rows = list(csv.DictReader(io.StringIO(client.get(f"/download/{FORM_ID}?format=csv").text)))
        assert sorted(r["_uuid"] for r in rows) == sorted(s["_uuid"] for s in nga)
        api = client.get(f"/api/v1/datasets/{FORM_ID}/records?limit=100").json()
        assert {r["_country"] for r in api["data"]} == {"NGA"}
        ind = client.get("/api/v1/indicators/he_mean_size")
        assert ind.status_code == 200, ind.text


def test_readme_walk_through_runs(tmp_path, monkeypatch):
    """The README's "Your own form" commands, as written (but `serve`), in a copy of docs/examples."""
    import re
    import shutil

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Your own form, from XLSForm to a published dataset", 1)[1].split("\n## ", 1)[0]
    lines = re.findall(r"```sh\n(.+?)\n```", section, re.DOTALL)[0].splitlines()
    shutil.copytree(root / "docs" / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path / "examples")
    assert lines[0] == "cd docs/examples"
    ran = 0
    for line in lines[1:]:
        args = line.split("#", 1)[0].split()
        assert args[0] == "../../.venv/bin/passage", line
        if args[-1] == "serve":
            continue
        r = passage_cli(*args[1:])
        assert r.returncode == 0, (line, r.stderr)
        ran += 1
    assert ran == 7
    wb = openpyxl.load_workbook("household_energy_export.xlsx")
    assert wb.sheetnames == [FORM_ID, "members"]
    with open_store("energy.duckdb") as st:
        assert get_dataset(st, FORM_ID).metadata["license"] == "CC BY 4.0"
        assert readable_table(st, FORM_ID, PUBLIC).data.column("_country").unique().to_pylist() == ["NGA"]
