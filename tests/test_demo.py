"""The demo: its generated DTM files carry the real files' quirks, import cleanly, and its headline
figures match sums computed independently from the files."""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

from passage.ingest import import_files
from passage.packs.dtm.demo import (
    OPERATIONS,
    format_headline,
    generate_dtm,
    generate_rows_csv,
    headline,
    packaged_file,
    run_demo,
)
from passage.packs.dtm.importer import COLUMNS, HXL_TAGS
from passage.store import open_store


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory) -> list[Path]:
    return generate_dtm(tmp_path_factory.mktemp("demo"))


def read_rows(paths: list[Path]) -> list[dict]:
    """Every data row of the demo files as {field: text or None}, with `_file` and `_layout`."""
    out = []
    for p in paths:
        if p.suffix == ".csv":
            with p.open(encoding="utf-8", newline="") as fh:
                rows = list(csv.reader(fh))
            for r in rows[2:]:
                row = {c: (v if v != "" else None) for c, v in zip(rows[0], r)}
                out.append(row | {"_file": p.name, "_layout": "csv"})
        else:
            doc = json.loads(p.read_text(encoding="utf-8"))
            for r in doc["result"]:
                row = {c: (None if v is None else str(v)) for c, v in r.items()}
                out.append(row | {"_file": p.name, "_layout": "api"})
    return out


def level_of(r: dict) -> int:
    return 2 if r.get("admin2Pcode") else 1 if r.get("admin1Pcode") else 0


def cod(code: str | None) -> str | None:
    """Chad's ISO2-prefixed codes as the COD writes them (the demo's only prefix quirk)."""
    return "TCD" + code[2:] if code and code.startswith("TD") else code


def norm_reason(s: str | None) -> str:
    return "; ".join(sorted(p.strip() for p in (s or "").lower().split(";") if p.strip()))


# ----------------------------------------------------------------------------------- the files


def test_layouts_both_present(demo_files):
    csvs = [p for p in demo_files if p.suffix == ".csv"]
    apis = [p for p in demo_files if p.suffix == ".json"]
    assert len(csvs) >= 2 and len(apis) >= 3
    for p in csvs:
        lines = p.read_text(encoding="utf-8").splitlines()
        assert lines[0].split(",") == list(COLUMNS)  # exact column order, incl. adminLevel, operationStatus
        tags = lines[1].split(",")
        assert all(tags[i] == HXL_TAGS[c] for i, c in enumerate(COLUMNS) if c in HXL_TAGS)
    for p in apis:
        doc = json.loads(p.read_text(encoding="utf-8"))
        assert doc["statusCode"] == 200 and doc["isSuccess"] is True and doc["errorMessages"] == []
        assert doc["totalRecordsCount"] == len(doc["result"]) > 0
        level = int(re.search(r"admin(\d)", p.name).group(1))
        assert {level_of(r) for r in doc["result"]} == {level}
        assert all(("id" in r) == (level > 0) for r in doc["result"])  # id only on admin1/admin2 rows
        assert not any("adminLevel" in r or "operationStatus" in r for r in doc["result"])


def test_scale_countries_rounds_levels(demo_files):
    rows = read_rows(demo_files)
    assert len({r["admin0Pcode"] for r in rows}) >= 4
    rounds = defaultdict(set)
    for r in rows:
        rounds[r["operation"]].add(int(r["roundNumber"]))
    assert len(rounds) >= 4 and all(len(v) >= 10 for v in rounds.values())
    assert {level_of(r) for r in rows} == {0, 1, 2}
    assert {r["operation"] for r in rows} >= {"Nigeria - North-East", "Chad - Lac"}


def test_quirks_are_present(demo_files):
    rows = read_rows(demo_files)
    # several rows per place and round, one per displacement reason
    per_place_round = defaultdict(list)
    for r in rows:
        key = (r["operation"], level_of(r), r["admin1Pcode"], r["admin2Pcode"], r["roundNumber"])
        per_place_round[key].append(r)
    multi = [v for v in per_place_round.values() if len(v) > 1]
    assert len(multi) > 100
    for v in multi:  # ...whose reasons stay distinct once normalised (they are part of the record key)
        assert len({norm_reason(r["displacementReason"]) for r in v}) == len(v)
    # reasons in mixed case, joined with "; ", in any order
    reasons = {r["displacementReason"] for r in rows}
    assert "conflict" in reasons and "Conflict" in reasons
    assert any("; " in s and s[0].isupper() for s in reasons)
    assert any(s.lower().startswith("natural disaster; ") for s in reasons)  # any order of the parts
    assert any(s != s.lower() and s != s.capitalize() for s in reasons)
    # "Not available" for a missing origin, real origins elsewhere
    origins = [r["idpOriginAdmin1Name"] for r in rows]
    assert origins.count("Not available") > len(rows) / 2
    assert any(o not in (None, "Not available") for o in origins)
    assert all((r["idpOriginAdmin1Name"] == "Not available") == (r["idpOriginAdmin1Pcode"] == "Not available")
               for r in rows)
    # males/females empty in most rows; where given, within the total
    sexed = [r for r in rows if r["numberMales"] is not None or r["numberFemales"] is not None]
    assert 0 < len(sexed) < len(rows) / 2
    assert all(int(r["numberMales"]) + int(r["numberFemales"]) <= int(r["numPresentIdpInd"]) for r in sexed)
    # admin1/admin2 fields empty on admin0 rows
    a0 = [r for r in rows if r["_layout"] == "csv" and r["adminLevel"] == "0"]
    empty = ("admin1Name", "admin1Pcode", "admin2Name", "admin2Pcode", "id")
    assert a0 and all(r[c] is None for r in a0 for c in empty)
    # Chad coded with ISO2 prefixes, like DTM does
    chad = [r for r in rows if r["admin0Pcode"] == "TCD" and level_of(r) > 0]
    assert chad and all(r["admin1Pcode"] == "TD07" for r in chad)
    assert {r["admin2Pcode"] for r in chad if r["admin2Pcode"]} >= {"TD0701", "TD0704"}
    assert not any((r["admin1Pcode"] or "").startswith("TCD") for r in chad)
    # reporting dates as the API writes them; year and month agree
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}T00:00:00", r["reportingDate"]) for r in rows)
    assert all(r["reportingDate"][:4] == r["yearReportingDate"] for r in rows)
    assert all(int(r["reportingDate"][5:7]) == int(r["monthReportingDate"]) for r in rows)
    # a provider name that disagrees with the COD's
    assert any(r["admin2Pcode"] == "AF1722" and r["admin2Name"] == "Darwaz-e-Balla" for r in rows)


def test_levels_add_up(demo_files):
    """admin0 = sum of admin1 = sum of admin2, per operation, round and reason."""
    sums = defaultdict(int)
    for r in read_rows(demo_files):
        key = (level_of(r), r["operation"], r["roundNumber"], norm_reason(r["displacementReason"]))
        sums[key] += int(r["numPresentIdpInd"])
    keys = {k[1:] for k in sums}
    for k in keys:
        assert sums[(0, *k)] == sums[(1, *k)] == sums[(2, *k)], k


def test_deterministic(tmp_path, demo_files):
    again = generate_dtm(tmp_path / "a")
    assert [p.name for p in again] == [p.name for p in demo_files]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(again, demo_files))
    other = generate_dtm(tmp_path / "b", seed=7)
    assert any(a.read_bytes() != b.read_bytes() for a, b in zip(other, demo_files))
    short = generate_dtm(tmp_path / "c", rounds=10)
    assert all(len({r["roundNumber"] for r in read_rows([p])}) == 10 for p in short)


# ---------------------------------------------------------------------------------- importing


def test_demo_files_import_cleanly(store, demo_files):
    rows = read_rows(demo_files)
    for p in demo_files:
        r = import_files(store, "dtm", [p], user="demo")
        assert r.status == "committed", [(f.code, f.row, f.column, f.message) for f in r.report.findings][:10]
        assert r.report.error_count() == 0
        assert {f.code for f in r.report.findings} <= {"pcode-length", "pcode-name-mismatch"}
    assert store.scalar("SELECT count(*) FROM dtm_idps") == len(rows)
    assert store.scalar("SELECT count(*) FROM dtm_idps WHERE admin1_pcode LIKE 'TD%'") == 0
    assert store.scalar("SELECT count(*) FROM dtm_idps WHERE provider_admin1_pcode = 'TD07'") > 0
    assert store.scalar("SELECT count(*) FROM dtm_idps WHERE idp_origin_admin1_name = 'Not available'") == 0


def expected_headline(rows: list[dict]) -> dict:
    """The headline figures, from the files with plain Python: per country, each admin 1 place's latest round
    (per operation and assessment type) summed, and the change against each place's previous round."""
    a1 = defaultdict(int)
    names = {}
    for r in rows:
        names[r["admin0Pcode"]] = names.get(r["admin0Pcode"]) or (r["admin0Name"] if level_of(r) == 0 else None)
        if level_of(r) == 1:
            key = (r["admin0Pcode"], cod(r["admin1Pcode"]), r["operation"], r["assessmentType"],
                   (int(r["roundNumber"]), r["reportingDate"][:10]))
            a1[key] += int(r["numPresentIdpInd"])
    series = defaultdict(dict)
    for (iso3, place, op, at, when), n in a1.items():
        series[(iso3, place, op, at)][when] = n
    by_country: dict[str, dict] = {}
    for (iso3, *_), s in series.items():
        ordered = sorted(s)
        c = by_country.setdefault(iso3, {"idps": 0, "change": 0})
        c["idps"] += s[ordered[-1]]
        c["change"] += s[ordered[-1]] - s[ordered[-2]] if len(ordered) > 1 else 0
    for c in by_country.values():
        c["previous"] = c["idps"] - c["change"]
    places = set()
    for r in rows:
        places.add(cod(r["admin2Pcode"]) or cod(r["admin1Pcode"]) or r["admin0Pcode"])
    warned = sum(1 for r in rows if any((r.get(c) or "").startswith("TD") for c in
                                        ("admin1Pcode", "admin2Pcode", "idpOriginAdmin1Pcode"))
                 or (r["admin2Pcode"] == "AF1722" and r["admin2Name"] == "Darwaz-e-Balla"))
    return {
        "records": len(rows),
        "countries": len(names),
        "operations": len({r["operation"] for r in rows}),
        "rounds": len({(r["operation"], r["roundNumber"]) for r in rows}),
        "places": len(places),
        "warnings": warned,
        "total_idps": sum(c["idps"] for c in by_country.values()),
        "by_country": by_country,
    }


def test_run_demo_headline_matches_the_files(tmp_path):
    """On a store with no places at all: the packaged P-codes are loaded, then everything imports."""
    with open_store(str(tmp_path / "fresh.duckdb")) as store:
        d = run_demo(store, tmp_path / "work")
        files = [Path(f) for f in d["files"]]
        assert all(i["status"] == "committed" for i in d["imports"])
        want = expected_headline(read_rows(files))
        for k in ("records", "countries", "operations", "rounds", "places", "warnings", "total_idps"):
            assert d[k] == want[k], k
        assert d["countries"] == len(OPERATIONS) == 4
        for c in d["by_country"]:
            assert (c["idps"], c["previous"]) == (want["by_country"][c["country"]]["idps"],
                                                  want["by_country"][c["country"]]["previous"])
            assert c["change"] == c["idps"] - c["previous"]
        text = format_headline(d)
        assert "Nigeria (NGA)" in text and f"{d['total_idps']:,}" in text
        # running it again imports nothing and says the same
        again = run_demo(store, tmp_path / "work")
        assert {i["status"] for i in again["imports"]} == {"unchanged"}
        assert headline(store)["total_idps"] == d["total_idps"]
        assert store.scalar("SELECT count(*) FROM places WHERE country_code = 'TCD' AND level = 2") > 0


def test_packaged_places_are_a_faithful_copy():
    from conftest import LENGTHS, PCODES

    assert packaged_file("global-pcodes-adm-1-2.csv").read_bytes() == PCODES.read_bytes()
    assert packaged_file("global-pcode-lengths.csv").read_bytes() == LENGTHS.read_bytes()
    assert packaged_file("PROVENANCE.md").read_text().count("OCHA") >= 2


def test_bench_rows_import(store, tmp_path):
    n = 30_000
    path = generate_rows_csv(tmp_path / "rows.csv", n)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == n + 2
    assert lines[0].split(",") == list(COLUMNS) and lines[1].startswith("#id+code,#operation+name")
    assert generate_rows_csv(tmp_path / "again.csv", n).read_bytes() == path.read_bytes()
    r = import_files(store, "dtm", [path], user="bench")
    assert r.status == "committed", [(f.code, f.row, f.message) for f in r.report.findings][:10]
    assert r.inserted == n


def test_one_figure_after_a_new_round(tmp_path):
    """A new round for one place moves the home headline, the country chart's last point, the map and
    `indicators show` together: they read one measure (idps_by_country)."""
    from dtm_rows import api_rows, write_json

    from passage.auth.principal import Principal
    from passage.indicators import compute
    from passage.query import country_map, country_series
    from passage.releases import dataset_for_form

    admin = Principal("root", "admin")
    with open_store(str(tmp_path / "s.duckdb")) as store:
        before = run_demo(store, tmp_path / "work")
        borno = store.scalar(
            "SELECT sum(num_present_idp_ind) FROM dtm_idps WHERE admin_level = 1 AND admin1_pcode = 'NG008' "
            "AND round_number = (SELECT max(round_number) FROM dtm_idps WHERE admin_level = 1 "
            "AND admin1_pcode = 'NG008')")
        new_round = api_rows("NGA", [(1, "NG008", "Borno", "", "", 47, "2024-09-30", "Conflict", borno + 19_143,
                                      None, None)])
        r = import_files(store, "dtm", [write_json(tmp_path / "borno-47.json", new_round)], user="demo")
        assert r.status == "committed", r.report.findings[:3]

        home = {c["country"]: c for c in headline(store)["by_country"]}["NGA"]
        assert home["idps"] == {c["country"]: c for c in before["by_country"]}["NGA"]["idps"] + 19_143
        assert (home["round"], home["reporting_date"]) == (47, "2024-09-30")
        shown = {r["admin0_pcode"]: r["value"] for r in compute(store, "idps_by_country").to_pylist()}
        ds = dataset_for_form(store, "dtm_idps")
        chart = country_series(store, admin, ds, "NGA")
        mapped = country_map(store, admin, ds, "NGA", 1)
        assert shown["NGA"] == home["idps"] == chart[-1]["value"] == sum(v["value"] for v in mapped["values"])
        assert chart[-1]["date"] == "2024-09-30" and chart[-2]["value"] == home["idps"] - 19_143
