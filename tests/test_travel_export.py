"""The travel datasets as published tables: HXL files that libhxl reads and validates, and downloads that keep
to what a reader may see."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import hxl
from click.testing import CliRunner

from conftest import SHARED
from passage.cli import main
from travel_fixtures import write_cobap

OXCGRT = SHARED / "oxcgrt" / "c8_internationaltravel_subset.csv"


def _levels_in_file() -> dict[tuple[str, str], str]:
    """(iso3, ISO date) -> level for every cell of the OxCGRT subset that holds one (blank and "NA" are no
    data), counted here with csv."""
    with OXCGRT.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {(r["country_code"], datetime.strptime(col, "%d%b%Y").date().isoformat()): v.strip()
            for r in rows for col, v in r.items()
            if col and col[:2].isdigit() and v and v.strip() and v.strip().upper() != "NA"}


def test_exports_are_valid_hxl_and_hold_every_record(store_path, tmp_path):
    runner = CliRunner()
    db = ["--db", str(store_path)]
    cobap = write_cobap(tmp_path / "policy_list.csv")
    for kind, path in (("oxcgrt", OXCGRT), ("cobap", cobap)):
        out = runner.invoke(main, [*db, "import", kind, str(path)])
        assert out.exit_code == 0, out.output
    with cobap.open(encoding="utf-8", newline="") as fh:
        policies = list(csv.DictReader(fh))
    out = runner.invoke(main, [*db, "users", "add", "boss", "--role", "admin", "--password-stdin"],
                        input="a-long-password\n")
    assert out.exit_code == 0, out.output
    db = [*db, "--user", "boss"]  # every record: an admin's export with --all

    levels = tmp_path / "levels.csv"
    out = runner.invoke(main, [*db, "export", "travel_levels", "--format", "hxl", "--validate", "--all", "-o",
                               str(levels)])
    assert out.exit_code == 0, out.output
    data = list(hxl.data(str(levels), hxl.InputOptions(allow_local=True)))
    expected = _levels_in_file()
    assert len(data) == len(expected)
    assert {(r.get("#country+code"), r.get("#date")): r.get("#indicator+num+level") for r in data} == expected

    measures = tmp_path / "measures.csv"
    out = runner.invoke(main, [*db, "export", "travel_measures", "--format", "hxl", "--validate", "--all", "-o",
                               str(measures)])
    assert out.exit_code == 0, out.output
    rows = list(hxl.data(str(measures), hxl.InputOptions(allow_local=True)))
    assert sorted(r.get("#meta+id") for r in rows) == sorted(p["ID"] for p in policies)
    assert {r.get("#meta+source") for r in rows} == {"cobap"}


def test_download_keeps_to_released_countries(portal):
    """The demo leaves Uganda unreleased: the public's download of PoE assessments has none of its rows."""
    public, admin = portal.client(), portal.client("admin")
    listed = {e["name"] for e in public.get("/api/v1/exports").json()["data"]}
    assert {"travel_measures", "travel_levels", "points_of_entry"} <= listed

    def countries(client) -> set[str]:
        r = client.get("/api/v1/exports/points_of_entry?format=csv")
        assert r.status_code == 200, r.text[:200]
        return {row["iso3"] for row in csv.DictReader(io.StringIO(r.text))}

    seen_by_public, seen_by_admin = countries(public), countries(admin)
    assert "UGA" in seen_by_admin and "UGA" not in seen_by_public
    assert seen_by_public == seen_by_admin - {"UGA"}
