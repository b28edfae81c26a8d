"""Daily travel status per country and source, summary, comparison, headline figures and timelines.

Expected answers are worked out by hand from small fixtures (imported through the ordinary `xlsform-data`
importer), or counted with `csv` from the real OxCGRT subset, never by calling the code under test.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SHARED
from passage.cli import main
from passage.errors import UsageError
from passage.ingest import import_files
from passage.packs.travel import compare, daily_status, headline, kappa, poe_status, summary, timeline
from passage.packs.travel.headline import without_record_ids
from passage.plugins import install_pack
from travel_fixtures import COBAP_COLUMNS, write_cobap

DAY = date(2020, 4, 15)
OXCGRT = SHARED / "oxcgrt" / "c8_internationaltravel_subset.csv"

LEVEL_FIELDS = ["source", "iso3", "country_name", "date", "indicator", "value"]
MEASURE_FIELDS = ["source", "source_id", "iso3", "applies_to", "category", "subcategory", "condition_group", "action",
                  "date_issued", "date_in_force", "date_lifted", "native_category", "native_measure"]


def write(path: Path, fields: list[str], rows: list[tuple]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(fields)
        w.writerows(rows)
    return path


def load(store, form: str, path: Path) -> None:
    install_pack(store, "travel")
    result = import_files(store, "xlsform-data", [path], form_id=form)
    assert result.ok, [f.as_dict() for f in result.report.errors]


def levels(store, tmp_path, rows: list[tuple]) -> None:
    load(store, "travel_level", write(tmp_path / "levels.csv", LEVEL_FIELDS,
                                      [("oxcgrt", c, c, d, ind, v) for c, d, ind, v in rows]))


def measures(store, tmp_path, rows: list[tuple]) -> None:
    load(store, "travel_measure", write(tmp_path / "measures.csv", MEASURE_FIELDS, rows))


# A day for each rule of the mapping (docs/travel.md), on 2020-04-15.
LEVELS = [
    ("AAA", "2020-04-15", "C8", 3), ("AAA", "2020-04-15", "C8EV", 4),    # C8 wins over C8EV: 3
    ("BBB", "2020-04-15", "C8EV", 1), ("BBB", "2020-04-15", "C8NV", 4),  # C8EV wins over C8NV: 1
    ("CCC", "2020-04-14", "C8", 4),                                       # nothing on the day: no data
    ("DDD", "2020-04-15", "C8", 0), ("DDD", "2020-04-15", "C8V", 4),     # C8V (vaccinated) is not read
    ("EEE", "2020-04-15", "C8", 2),
    ("FFF", "2020-04-15", "C8", 4),
]
MEASURES = [
    # COBAP: the COMPLETE policy was lifted on the day (not in force), the PARTIAL one is
    ("cobap", "C1", "AAA", "all", "entry_restriction", "complete_closure", "", "introduce", "", "2020-04-01",
     "2020-04-15", "COMPLETE", "ESSENTIAL_ONLY"),
    ("cobap", "C2", "AAA", "all", "entry_restriction", "border_closure", "", "introduce", "", "2020-04-10", "",
     "PARTIAL", "BORDER_CLOSURE"),
    ("cobap", "C3", "BBB", "all", "not_travel", "", "", "introduce", "", "2020-03-01", "", "NOPOLICYIMPLEMENTED",
     "NONE"),
    ("cobap", "C4", "CCC", "all", "entry_restriction", "complete_closure", "", "introduce", "", "2020-04-16", "",
     "COMPLETE", ""),                                                      # starts tomorrow: nothing in force
    ("cobap", "C5", "DDD", "all", "entry_restriction", "complete_closure", "", "introduce", "", "2020-03-20", "",
     "complete ", ""),                                                     # native text as found: trimmed, any case
    ("cobap", "C6", "DDD", "all", "entry_restriction", "", "", "introduce", "", "2020-03-20", "", "PARTIAL", ""),
    # ACAPS
    ("acaps", "A1", "AAA", "all", "entry_condition", "health_screening", "medical", "introduce", "", "2020-03-01",
     "2020-04-20", "Public health measures", "Health screenings in airports and border crossings "),
    ("acaps", "A2", "BBB", "all", "entry_restriction", "complete_closure", "", "introduce", "", "2020-03-15",
     "2020-04-15", "Movement restrictions", "Complete border closure"),    # lifted on the day
    ("acaps", "A3", "BBB", "all", "not_travel", "", "", "introduce", "", "2020-04-01", "", "Lockdown", "Curfews"),
    ("acaps", "A4", "CCC", "all", "entry_restriction", "border_closure", "", "introduce", "2020-05-01", "", "",
     "Movement restrictions", "Border closure"),                           # no date in force: never in force
    ("acaps", "A5", "DDD", "all", "entry_restriction", "border_closure", "", "introduce", "", "2020-04-01", "",
     "Movement restrictions", "Border closure"),
    ("acaps", "A6", "DDD", "all", "entry_condition", "quarantine", "medical", "introduce", "", "2020-04-02", "",
     "Public health measures", "Isolation and quarantine policies"),
    ("acaps", "A7", "DDD", "all", "entry_restriction", "complete_closure", "", "phase_out", "", "2020-04-05", "",
     "Movement restrictions", "Complete border closure"),                  # a phase-out row is never in force
    # IOM
    ("iom", "I1", "EEE", "all", "entry_restriction", "complete_closure", "", "introduce", "2020-04-10",
     "2020-04-15", "", "", ""),                                            # in force from the day
    ("iom", "I2", "EEE", "all", "entry_condition", "quarantine", "medical", "introduce", "", "2020-03-01", "", "",
     ""),
    ("iom", "I3", "FFF", "all", "exit_restriction", "", "", "introduce", "", "2020-03-01", "", "", ""),
]
EXPECTED = {  # (iso3, source) -> (native_value, status, record ids), worked out by hand from the rows above
    ("AAA", "acaps"): ("Health screenings in airports and border crossings", "conditions_only", ["acaps|A1"]),
    ("AAA", "cobap"): ("PARTIAL", "partial_restriction", ["cobap|C2"]),
    ("AAA", "oxcgrt"): ("3", "partial_restriction", ["oxcgrt|AAA|C8|2020-04-15"]),
    ("BBB", "acaps"): (None, "no_restriction", []),
    ("BBB", "cobap"): ("NOPOLICYIMPLEMENTED", "no_restriction", ["cobap|C3"]),
    ("BBB", "oxcgrt"): ("1", "conditions_only", ["oxcgrt|BBB|C8EV|2020-04-15"]),
    ("CCC", "acaps"): (None, "no_data", []),
    ("CCC", "cobap"): (None, "no_restriction", []),
    ("CCC", "oxcgrt"): (None, "no_data", []),
    ("DDD", "acaps"): ("Border closure;Isolation and quarantine policies", "partial_restriction", ["acaps|A5", "acaps|A6"]),
    ("DDD", "cobap"): ("COMPLETE;PARTIAL", "complete_closure", ["cobap|C5", "cobap|C6"]),
    ("DDD", "oxcgrt"): ("0", "no_restriction", ["oxcgrt|DDD|C8|2020-04-15"]),
    ("EEE", "iom"): ("complete_closure;quarantine", "complete_closure", ["iom|I1", "iom|I2"]),
    ("EEE", "oxcgrt"): ("2", "conditions_only", ["oxcgrt|EEE|C8|2020-04-15"]),
    ("FFF", "iom"): (None, "no_restriction", []),
    ("FFF", "oxcgrt"): ("4", "complete_closure", ["oxcgrt|FFF|C8|2020-04-15"]),
}


@pytest.fixture
def mapped(any_store, tmp_path):
    levels(any_store, tmp_path, LEVELS)
    measures(any_store, tmp_path, MEASURES)
    return any_store


def test_status_follows_the_mapping_on_both_backends(mapped):
    rows = daily_status(mapped, "2020-04-15")
    got = {(r.iso3, r.source): (r.native_value, r.status, r.record_ids) for r in rows}
    # The record ids are the records' own: check the level ids against the store before comparing.
    ids = {i for (i,) in mapped.query("SELECT _record_id FROM travel_level")} | \
          {i for (i,) in mapped.query("SELECT _record_id FROM travel_measure")}
    assert {i for v in got.values() for i in v[2]} <= ids
    assert got == EXPECTED
    assert [(r.iso3, r.source) for r in rows] == sorted(EXPECTED)  # sorted by iso3, source
    assert {r.date for r in rows} == {DAY}


def test_one_source_one_country_and_the_days_around(mapped):
    assert [(r.iso3, r.status) for r in daily_status(mapped, DAY, source="cobap")] == [
        ("AAA", "partial_restriction"), ("BBB", "no_restriction"), ("CCC", "no_restriction"),
        ("DDD", "complete_closure")]
    # A country a source does not cover: no row, unless that country is asked for.
    eee = {r.source: r.status for r in daily_status(mapped, DAY, iso3="EEE")}
    assert eee == {"acaps": "no_data", "cobap": "no_data", "iom": "complete_closure", "oxcgrt": "conditions_only"}
    before = {(r.iso3, r.source): r.status for r in daily_status(mapped, "2020-04-14")}
    assert before[("AAA", "cobap")] == "complete_closure"  # C1 still in force the day before it is lifted
    assert before[("BBB", "acaps")] == "complete_closure"
    assert before[("CCC", "oxcgrt")] == "complete_closure"
    assert before[("EEE", "iom")] == "conditions_only"  # I1 starts on the 15th
    early = {(r.iso3, r.source): r.status for r in daily_status(mapped, "2020-02-01")}
    assert early[("EEE", "iom")] == "no_data" and early[("BBB", "acaps")] == "no_data"  # nothing dated yet


def test_summary_counts_per_status_and_source(mapped):
    rows = summary(mapped, DAY)
    got = {(r["source"], r["status"]): r["countries"] for r in rows if r["countries"]}
    expected = Counter((src, v[1]) for (_, src), v in EXPECTED.items())
    assert got == dict(expected)
    assert len(rows) == 4 * 5  # every status listed for every source, zeros included


def test_usage_errors(mapped):
    with pytest.raises(UsageError):
        daily_status(mapped, "2020-4-15")
    with pytest.raises(UsageError):
        daily_status(mapped, "15/04/2020")
    with pytest.raises(UsageError):
        daily_status(mapped, DAY, source="nosuch")
    with pytest.raises(UsageError):
        compare(mapped, DAY, ["oxcgrt"])
    with pytest.raises(UsageError):
        timeline(mapped, "AAA", "2020-05-01", "2020-04-01")


# ---- COBAP's END_DATE ---------------------------------------------------------------------------------------------

def _cobap_policy(pid: str, ptype: str, start: str, end: str) -> dict[str, str]:
    row = {c: "NA" for c in COBAP_COLUMNS}
    row.update({"ID": pid, "COUNTRY_NAME": "Saint Lucia", "ISO3": "LCA", "ISO2": "LC", "POLICY_TYPE": ptype,
                "POLICY_SUBTYPE": "ESSENTIAL_ONLY" if ptype == "COMPLETE" else "BORDER_CLOSURE",
                "START_DATE": start, "END_DATE": end, "COMMENTS": ""})
    return row


def test_cobap_end_date_is_the_last_day_in_force(any_store, tmp_path):
    # Saint Lucia in the real policy list: LC03 (COMPLETE) ends 04_15_20 and LC05 starts 04_16_20, so there is
    # no day without a closure between them. LC04 (PARTIAL) overlaps LC03: the complete closure wins.
    # LC06 ends on its start day: in force that one day.
    rows = [_cobap_policy("LC03", "COMPLETE", "03_23_20", "04_15_20"),
            _cobap_policy("LC04", "PARTIAL", "04_01_20", "04_10_20"),
            _cobap_policy("LC05", "PARTIAL", "04_16_20", "05_31_20"),
            _cobap_policy("LC06", "COMPLETE", "05_20_20", "05_20_20")]
    result = import_files(any_store, "cobap", [write_cobap(tmp_path / "policy_list.csv", rows=rows)])
    assert result.status == "committed", result.report.summary()
    t = timeline(any_store, "LCA", "2020-03-22", "2020-06-02", sources=["cobap"])
    runs = [(r["from"].isoformat(), r["to"].isoformat(), r["status"], r["native_value"]) for r in t["runs"]]
    assert runs == [
        ("2020-03-22", "2020-03-22", "no_restriction", None),
        ("2020-03-23", "2020-03-31", "complete_closure", "COMPLETE"),
        ("2020-04-01", "2020-04-10", "complete_closure", "COMPLETE;PARTIAL"),  # overlap: most restrictive
        ("2020-04-11", "2020-04-15", "complete_closure", "COMPLETE"),          # the 15th is LC03's last day
        ("2020-04-16", "2020-05-19", "partial_restriction", "PARTIAL"),
        ("2020-05-20", "2020-05-20", "complete_closure", "COMPLETE;PARTIAL"),
        ("2020-05-21", "2020-05-31", "partial_restriction", "PARTIAL"),        # the 31st is LC05's last day
        ("2020-06-01", "2020-06-02", "no_restriction", None),
    ]
    # the headline counts the same measures in force as the status (one rule: date_lifted is the first free day)
    h = headline(any_store, "2020-04-15")["measures"]["cobap"]
    assert h["record_ids"] == ["cobap|LC03"]


# ---- comparison -------------------------------------------------------------------------------------------------

def test_compare_on_constructed_disagreements(any_store, tmp_path):
    levels(any_store, tmp_path, [("AAA", "2020-04-15", "C8", 4), ("BBB", "2020-04-15", "C8", 4),
                                 ("CCC", "2020-04-15", "C8", 3), ("DDD", "2020-04-15", "C8", 1),
                                 ("EEE", "2020-04-15", "C8", 0)])
    measures(any_store, tmp_path, [
        ("iom", "1", "AAA", "all", "entry_restriction", "complete_closure", "", "introduce", "", "2020-03-01", "",
         "", ""),
        ("iom", "2", "BBB", "all", "entry_restriction", "flight_suspension", "", "introduce", "", "2020-03-01", "",
         "", ""),
        ("iom", "3", "CCC", "all", "entry_restriction", "nationality_ban", "", "introduce", "", "2020-03-01", "",
         "", ""),
        ("iom", "4", "DDD", "all", "entry_condition", "quarantine", "medical", "introduce", "", "2020-03-01",
         "2020-04-01", "", ""),
        ("iom", "5", "FFF", "all", "entry_condition", "quarantine", "medical", "introduce", "", "2020-03-01", "",
         "", ""),
    ])
    res = compare(any_store, DAY, "oxcgrt,iom")
    # By hand: both cover AAA-DDD; they agree on AAA (closure) and CCC (partial).
    assert (res["countries"], res["agreed"], res["agreement_rate"]) == (4, 2, 0.5)
    # p_o = 2/4; oxcgrt: 2 closure, 1 partial, 1 conditions; iom: 1 closure, 2 partial, 1 none
    # p_e = 2/4*1/4 + 1/4*2/4 = 1/4; kappa = (1/2 - 1/4) / (3/4) = 1/3
    assert res["kappa"] == pytest.approx(1 / 3)
    assert res["matrix"]["complete_closure"]["partial_restriction"] == 1
    assert res["matrix"]["conditions_only"]["no_restriction"] == 1
    assert sum(sum(r.values()) for r in res["matrix"].values()) == 4
    assert [(d["iso3"], d["status_a"], d["status_b"], d["native_value_a"], d["native_value_b"])
            for d in res["disagreements"]] == [("BBB", "complete_closure", "partial_restriction", "4",
                                                "flight_suspension"),
                                               ("DDD", "conditions_only", "no_restriction", "1", None)]
    assert res["only"] == {"oxcgrt": ["EEE"], "iom": ["FFF"]}


def test_compare_leaves_out_countries_a_source_has_no_data_for(any_store, tmp_path):
    # AAA: both have data. BBB: OxCGRT's level is for another day. CCC: IOM's first measure comes later.
    levels(any_store, tmp_path, [("AAA", "2020-04-15", "C8", 4), ("BBB", "2020-04-14", "C8", 4),
                                 ("CCC", "2020-04-15", "C8", 3)])
    measures(any_store, tmp_path, [
        ("iom", "1", "AAA", "all", "entry_restriction", "complete_closure", "", "introduce", "", "2020-03-01", "",
         "", ""),
        ("iom", "2", "BBB", "all", "entry_restriction", "flight_suspension", "", "introduce", "", "2020-03-01", "",
         "", ""),
        ("iom", "3", "CCC", "all", "entry_restriction", "nationality_ban", "", "introduce", "", "2020-05-01", "",
         "", ""),
    ])
    res = compare(any_store, DAY, "oxcgrt,iom")
    assert (res["countries"], res["agreed"]) == (1, 1)
    assert [p["iso3"] for p in res["pairs"]] == ["AAA"]
    assert res["matrix"]["no_data"] == {s: 0 for s in res["matrix"]}
    assert all(row["no_data"] == 0 for row in res["matrix"].values())
    assert res["only"] == {"oxcgrt": ["CCC"], "iom": ["BBB"]}


def test_kappa_by_hand():
    m = {s: {t: 0 for t in "ab"} for s in "ab"}
    m["a"]["a"], m["a"]["b"], m["b"]["a"], m["b"]["b"] = 20, 5, 10, 15  # textbook: p_o .7, p_e .5 -> .4
    assert kappa(m) == pytest.approx(0.4)
    assert kappa({"a": {"a": 3, "b": 0}, "b": {"a": 0, "b": 0}}) is None  # chance agreement certain
    assert kappa({"a": {"a": 0, "b": 0}, "b": {"a": 0, "b": 0}}) is None


# ---- headline figures ---------------------------------------------------------------------------------------------

POE_FIELDS = ["code", "name", "poe_type", "blue_border_kind", "iata_code", "iso3", "latitude", "longitude",
              "neighbour_iso3"]
ASSESS_FIELDS = ["poe_code", "assessment_date", "operational_status", "entry_restrictions", "iso3"]


def test_headline_figures_trace_to_records(any_store, tmp_path):
    measures(any_store, tmp_path, [
        ("iom", "1", "AAA", "all", "entry_restriction", "complete_closure", "", "introduce", "", "2020-03-01", "",
         "", ""),
        ("iom", "2", "AAA", "all", "entry_condition", "quarantine", "medical", "introduce", "", "2020-03-01", "",
         "", ""),
        ("iom", "3", "BBB", "all", "entry_condition", "passenger_locator_form", "location_surveillance",
         "introduce", "", "2020-04-01", "", "", ""),
        ("iom", "4", "BBB", "all", "entry_condition", "negative_test", "medical", "introduce", "", "2020-04-01",
         "2020-04-10", "", ""),                                          # lifted before the day
        ("iom", "5", "CCC", "all", "exit_restriction", "", "", "introduce", "", "2020-04-01", "", "", ""),
        ("acaps", "A1", "AAA", "all", "not_travel", "", "", "introduce", "", "2020-04-01", "", "", "Curfews"),
        ("acaps", "A2", "BBB", "all", "", "", "", "introduce", "", "2020-04-01", "", "", "Testing policy"),
        ("cobap", "C1", "CCC", "all", "not_travel", "", "", "introduce", "", "2020-03-01", "",
         "NOPOLICYIMPLEMENTED", ""),
    ])
    load(any_store, "poe", write(tmp_path / "poe.csv", POE_FIELDS, [
        ("P1", "One", "airport", "", "ONE", "AAA", "1", "1", ""),
        ("P2", "Two", "land_border", "", "", "AAA", "1", "2", "BBB"),
        ("P3", "Three", "land_border", "", "", "BBB", "2", "1", "AAA"),
        ("P4", "Four", "airport", "", "FOU", "BBB", "2", "2", ""),
    ]))
    load(any_store, "poe_assessment", write(tmp_path / "assess.csv", ASSESS_FIELDS, [
        ("P1", "2020-03-01", "fully_operational", "no", "AAA"),
        ("P1", "2020-04-01", "fully_closed", "yes", "AAA"),      # P1's latest on or before the day
        ("P1", "2020-05-01", "fully_operational", "no", "AAA"),  # after the day: not read
        ("P2", "2020-04-20", "fully_closed", "yes", "AAA"),      # first assessed after the day: not assessed
        ("P3", "2020-04-15", "partially_operational", "yes", "BBB"),
        ("P4", "2020-04-02", "fully_closed", "yes", "BBB"),
    ]))
    h = headline(any_store, DAY)
    iom = h["measures"]["iom"]
    assert (iom["measures"], iom["countries"], iom["record_ids"]) == (4, 3, ["iom|1", "iom|2", "iom|3", "iom|5"])
    cats = iom["categories"]
    assert (cats["entry_restriction"]["measures"], cats["entry_restriction"]["countries"]) == (1, 1)
    assert (cats["entry_condition"]["measures"], cats["entry_condition"]["countries"]) == (2, 2)
    assert cats["entry_condition"]["record_ids"] == ["iom|2", "iom|3"]
    assert cats["exit_restriction"]["country_codes"] == ["CCC"]
    assert {g: b["record_ids"] for g, b in iom["condition_groups"].items()} == {
        "medical": ["iom|2"], "location_surveillance": ["iom|3"]}
    # ACAPS: the curfew is not a travel measure; the unmapped measure counts, as unmapped
    assert h["measures"]["acaps"]["record_ids"] == ["acaps|A2"]
    assert h["measures"]["acaps"]["categories"]["unmapped"]["measures"] == 1
    assert "cobap" not in h["measures"]  # a "no policy" record is not a measure
    # Every id names a record in force on the day.
    for rid in iom["record_ids"]:
        d_in, lifted = any_store.query("SELECT date_in_force, date_lifted FROM travel_measure WHERE _record_id = ?",
                                       [rid])[0]
        assert d_in <= DAY and (lifted is None or DAY < lifted)

    poe = h["points_of_entry"]
    assert (poe["overall"]["registered"], poe["overall"]["assessed"]) == (4, 3)
    shares = {s: (v["poes"], v["share"]) for s, v in poe["overall"]["statuses"].items()}
    assert shares == {"fully_closed": (2, pytest.approx(2 / 3)), "partially_operational": (1, pytest.approx(1 / 3)),
                      "fully_operational": (0, 0), "unknown": (0, 0)}
    airports = poe["by_type"]["airport"]["statuses"]["fully_closed"]
    assert (airports["poes"], airports["share"], airports["record_ids"]) == (2, 1.0, ["P1|2020-04-01",
                                                                                       "P4|2020-04-02"])
    # the travel page's headline leaves the measures' record ids out (each is a query of its own): same figures
    bare = headline(any_store, DAY, record_ids=False)
    assert bare["measures"]["iom"]["record_ids"] == [] and without_record_ids(bare) == without_record_ids(h)
    land = poe["by_type"]["land_border"]
    assert (land["registered"], land["assessed"], land["statuses"]["partially_operational"]["share"]) == (2, 1, 1.0)
    rows = {r["code"]: r for r in poe_status(any_store, DAY)}
    assert rows["P2"]["operational_status"] == "not_assessed" and rows["P1"]["assessment_date"] == date(2020, 4, 1)
    assert [r["code"] for r in poe_status(any_store, DAY, poe_type="airport", status="fully_closed")] == ["P1", "P4"]


# ---- timeline -------------------------------------------------------------------------------------------------------

def test_timeline_runs(mapped):
    t = timeline(mapped, "aaa", "2020-04-10", "2020-04-20")
    runs = [(r["source"], r["from"].isoformat(), r["to"].isoformat(), r["status"]) for r in t["runs"]]
    assert runs == [
        ("acaps", "2020-04-10", "2020-04-19", "conditions_only"),   # A1 lifted on the 20th
        ("acaps", "2020-04-20", "2020-04-20", "no_restriction"),
        ("cobap", "2020-04-10", "2020-04-14", "complete_closure"),  # C1 until its lifting, C2 beside it
        ("cobap", "2020-04-15", "2020-04-20", "partial_restriction"),
        ("iom", "2020-04-10", "2020-04-20", "no_data"),             # iom does not cover AAA
        ("oxcgrt", "2020-04-10", "2020-04-14", "no_data"),          # levels only on the 15th
        ("oxcgrt", "2020-04-15", "2020-04-15", "partial_restriction"),
        ("oxcgrt", "2020-04-16", "2020-04-20", "no_data"),
    ]
    assert t["runs"][2]["record_ids"] == ["cobap|C1", "cobap|C2"]
    assert sum(r["days"] for r in t["runs"] if r["source"] == "cobap") == 11
    assert [m["record_id"] for m in t["measures"]] == ["acaps|A1", "cobap|C1", "cobap|C2"]


# ---- the real OxCGRT subset -------------------------------------------------------------------------------------

def oxcgrt_counts(day: date) -> tuple[Counter, dict[str, str]]:
    """Countries per status on a day, counted from the wide file with csv (blank or NA: no data)."""
    column = f"{day.day:02d}{day.strftime('%b')}{day.year}"
    statuses = {}
    with OXCGRT.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            v = (row[column] or "").strip()
            statuses[row["country_code"]] = ("no_data" if v in ("", "NA") else
                                             {"4": "complete_closure", "3": "partial_restriction",
                                              "2": "conditions_only", "1": "conditions_only",
                                              "0": "no_restriction"}[v])
    return Counter(statuses.values()), statuses


@pytest.fixture(scope="module")
def oxcgrt_db(tmp_path_factory, places_template):
    import shutil

    from passage.store import open_store

    path = tmp_path_factory.mktemp("oxcgrt") / "passage.duckdb"
    shutil.copyfile(places_template, path)
    with open_store(str(path)) as store:
        assert import_files(store, "oxcgrt", [OXCGRT]).ok
    return path


@pytest.mark.parametrize("day", [date(2020, 4, 15), date(2021, 6, 30), date(2023, 1, 15)])
def test_summary_command_matches_the_file(oxcgrt_db, day):
    expected, _ = oxcgrt_counts(day)
    out = CliRunner().invoke(main, ["--db", str(oxcgrt_db), "travel", "summary", "--date", day.isoformat(),
                                    "--format", "csv"])
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.output)))
    assert list(rows[0]) == ["date", "source", "status", "countries"]
    got = {r["status"]: int(r["countries"]) for r in rows if r["source"] == "oxcgrt" and int(r["countries"])}
    assert got == dict(expected)
    if day == date(2020, 4, 15):
        assert got == {"complete_closure": 23, "partial_restriction": 6, "conditions_only": 2, "no_restriction": 1}


def test_status_command_csv(oxcgrt_db):
    _, statuses = oxcgrt_counts(DAY)
    out = CliRunner().invoke(main, ["--db", str(oxcgrt_db), "travel", "status", "--date", "2020-04-15",
                                    "--source", "oxcgrt", "--format", "csv"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0] == "iso3,date,source,native_value,status"
    rows = list(csv.DictReader(lines))
    assert {r["iso3"]: r["status"] for r in rows} == statuses
    assert [r["iso3"] for r in rows] == sorted(statuses)
    assert {(r["date"], r["source"]) for r in rows} == {("2020-04-15", "oxcgrt")}
    ita = next(r for r in rows if r["iso3"] == "ITA")
    assert ita["native_value"] == "3"


def test_commands_refuse_bad_dates_and_sources(oxcgrt_db):
    db = ["--db", str(oxcgrt_db), "travel"]
    for args in (["status", "--date", "2020-02-30"], ["status", "--date", "yesterday"],
                 ["status", "--date", "2020-04-15", "--source", "nosuch"],
                 ["compare", "--date", "2020-04-15", "--sources", "oxcgrt"],
                 ["timeline", "ITA", "--from", "2020/01/01"]):
        out = CliRunner().invoke(main, db + args)
        assert out.exit_code == 2, (args, out.output)
    ok = CliRunner().invoke(main, db + ["timeline", "ITA", "--from", "2020-01-01", "--to", "2020-12-31",
                                        "--format", "json"])
    runs = json.loads(ok.output)["runs"]
    assert runs[0]["from"] == "2020-01-01" and runs[-1]["to"] == "2020-12-31"
    assert sum(r["days"] for r in runs) == 366


def test_status_on_a_full_size_file(tmp_path, store):
    """Status for every country on a day over ~220,000 level rows (OxCGRT's size); bench/travel.py times it."""
    countries = [f"{chr(65 + i // 26)}{chr(65 + i % 26)}X" for i in range(200)]
    days = [date(2020, 1, 1) + timedelta(days=d) for d in range(1100)]
    path = tmp_path / "wide.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["", "country_code", "country_name", *(d.strftime("%d%b%Y") for d in days), ""])
        for n, c in enumerate(countries):
            w.writerow([n, c, c, *((n + i // 30) % 5 for i in range(len(days))), ""])
    assert import_files(store, "oxcgrt", [path]).ok
    assert store.scalar("SELECT count(*) FROM travel_level") == 220_000
    rows = daily_status(store, "2021-01-01")
    assert len(rows) == 200
    i = (date(2021, 1, 1) - days[0]).days
    assert rows[7].native_value == str((7 + i // 30) % 5)
