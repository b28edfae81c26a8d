"""A pack made outside Passage (tests/plugins/flowcount, its own distribution, installed by the README's test
command) is served like a built-in one with no change to the core: its form, importer, row check and finding
code, measure, export and portal page all work, and the core still names no pack (test_pack_boundaries
holds it to the same rule through the names this pack brings)."""

from __future__ import annotations

import csv
import io
from datetime import date
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from passage.cli import main
from passage.ingest import import_files
from passage.plugins import available_packs, load_pack, pack_dirs

HERE = Path(__file__).resolve().parent
PACK_DIR = HERE / "plugins" / "flowcount" / "passage_flowcount"
HEADER = "point;iso3;day;dir;total;children\n"
# (point, country, day, direction, people, minors): made up, with totals a test can add up by hand
ROWS = [("FMP-NGA-01", "NGA", "2026-10-03", "in", 120, 30), ("FMP-NGA-01", "NGA", "2026-10-03", "out", 80, 10),
        ("FMP-NGA-01", "NGA", "2026-10-20", "in", 45, 5), ("FMP-NGA-02", "NGA", "2026-11-02", "in", 300, 90),
        ("FMP-TCD-01", "TCD", "2026-11-15", "out", 17, 0)]


def write(path: Path, rows) -> Path:
    path.write_text(HEADER + "".join(";".join(map(str, r)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_the_pack_is_found_through_its_own_entry_point():
    found = {ep.name: ep for ep in entry_points(group="passage.packs")}
    assert found["flowcount"].dist.name == "passage-flowcount"
    assert pack_dirs()["flowcount"] == PACK_DIR
    assert "flowcount" in available_packs()
    assert "fmp_count" in load_pack("flowcount").forms


def test_import_check_measure_and_export(store, tmp_path):
    good = write(tmp_path / "counts.csv", ROWS)
    result = import_files(store, "fmp-csv", [good], user="tester")
    assert result.status == "committed" and result.inserted == len(ROWS), result.report.to_json()

    # the pack's own row check, with its namespaced code, located at the row
    bad = write(tmp_path / "bad.csv", [("FMP-NGA-03", "NGA", "2026-11-04", "in", 10, 11)])
    rejected = import_files(store, "fmp-csv", [bad])
    assert rejected.status == "rejected"
    [finding] = [f for f in rejected.report.findings if f.code == "flowcount.minors-over-persons"]
    assert (finding.file, finding.row, finding.column, finding.value) == ("bad.csv", 2, "minors", "11")
    # the form's own constraint (an XLSForm regex) runs through the core's checks too
    wrong = write(tmp_path / "wrong.csv", [("POINT 7", "NGA", "2026-11-04", "in", 10, 1)])
    assert "constraint" in import_files(store, "fmp-csv", [wrong]).report.counts

    # the measure: people per country, month and direction, added up here by hand
    from passage.indicators import compute

    got = {(r["country_code"], str(r["month"])[:10], r["direction"]): r["value"]
           for r in compute(store, "flows_by_month").to_pylist()}
    want: dict = {}
    for _, iso3, day, direction, people, _ in ROWS:
        key = (iso3, day[:8] + "01", direction)
        want[key] = want.get(key, 0) + people
    assert got == want

    # the export, in the pack's layout, HXL-tagged
    out = tmp_path / "fmp.csv"
    from passage.auth import OPERATOR, add_user

    add_user(store, "boss", "a-long-password", "admin", [], principal=OPERATOR)  # --all: every row, by an admin
    run = CliRunner().invoke(main, ["--db", store.url, "--user", "boss", "export", "fmp_counts", "--format", "hxl",
                                    "--all", "-o", str(out)])
    assert run.exit_code == 0, run.output
    lines = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert lines[0] == ["point", "iso3", "day", "dir", "total", "children"]
    assert lines[1] == ["#loc+code", "#country+code", "#date", "#direction", "#reached+total", "#reached+minors"]
    assert sorted(tuple(r) for r in lines[2:]) == sorted(tuple(map(str, r)) for r in ROWS)


def test_the_import_command_lists_the_kind_and_takes_it(store_path, tmp_path):
    runner = CliRunner()
    assert "fmp-csv: Flow monitoring point counts" in runner.invoke(main, ["import", "--help"]).output
    run = runner.invoke(main, ["--db", str(store_path), "import", "fmp-csv", str(write(tmp_path / "c.csv", ROWS))])
    assert run.exit_code == 0 and f"{len(ROWS)} new" in run.output, run.output


@pytest.fixture
def portal_client(store_path, tmp_path):
    from passage import releases
    from passage.store import open_store
    from passage.web.app import create_app

    with open_store(str(store_path)) as st:
        assert import_files(st, "fmp-csv", [write(tmp_path / "c.csv", ROWS)]).status == "committed"
        releases.publish(st, "fmp_counts", "NGA", user="tester")  # Chad's counts stay unpublished
    with TestClient(create_app(str(store_path))) as client:
        yield client


def test_the_pack_page_shows_what_the_public_may_read(portal_client):
    home = portal_client.get("/", headers={"accept": "text/html"})
    assert home.status_code == 200 and 'href="/flows"' in home.text  # its menu link
    page = portal_client.get("/flows", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "FMP" not in page.text  # figures, not records
    assert "165" in page.text and "300" in page.text  # Nigeria, October in and November in
    assert "TCD" not in page.text  # unpublished
    api = portal_client.get("/api/v1/indicators/flows_by_month").json()
    assert {r["country_code"] for r in api["data"]} == {"NGA"}
    assert date(2026, 11, 1).isoformat() in {str(r["month"])[:10] for r in api["data"]}
