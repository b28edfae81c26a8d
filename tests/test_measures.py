"""The measure language on small generated DTM data, on DuckDB and PostgreSQL: every kind, filter, grouping,
comparison and the provenance of a row, each against an answer computed with plain Python over the same rows."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date

import ibis
import pyarrow as pa
import pytest

from dtm_rows import api_rows, write_csv
from passage.errors import NotFound, UsageError
from passage.ingest import import_files
from passage.measures import (
    compare,
    compute,
    derived_provenance,
    parse_comparisons,
    parse_measures,
    provenance,
)
from passage.measures import rows_of as sides

ADMIN2 = {"NG002001": ("NG002", "Adamawa", "Demsa"), "NG002002": ("NG002", "Adamawa", "Fufore"),
          "NG008001": ("NG008", "Borno", "Abadam"), "NG008002": ("NG008", "Borno", "Askira/Uba")}
ROUNDS = {40: "2021-11-30", 41: "2022-02-28", 42: "2022-06-30", 43: "2022-09-30"}
FILES = {"early.csv": (40, 41), "late.csv": (42, 43)}


def generated() -> list[dict]:
    """Admin 1 and admin 2 rows over four rounds in two files, some with males and females."""
    rng = random.Random(11)
    rows = []
    for rnd, day in ROUNDS.items():
        for a2, (a1, n1, n2) in ADMIN2.items():
            for reason in ("Conflict", "Natural disaster"):
                if rng.random() < 0.2:
                    continue  # not every place reports every reason in every round
                idps = rng.randrange(0, 2000)
                males = rng.randrange(0, idps + 1) if rng.random() < 0.5 else None
                rows.append({"level": 2, "place": a2, "admin1": a1, "names": (a1, n1, a2, n2), "round": rnd,
                             "date": date.fromisoformat(day), "reason": reason, "idps": idps, "males": males,
                             "females": None if males is None else idps - males})
        for a1, n1 in (("NG002", "Adamawa"), ("NG008", "Borno")):
            idps = rng.randrange(1000, 5000)
            rows.append({"level": 1, "place": a1, "admin1": a1, "names": (a1, n1, "", ""), "round": rnd,
                         "date": date.fromisoformat(day), "reason": "Conflict", "idps": idps, "males": None,
                         "females": None})
    for r in rows:
        r["file"] = next(f for f, rounds in FILES.items() if r["round"] in rounds)
    return rows


ROWS = generated()


@pytest.fixture
def loaded(any_store, tmp_path):
    for name, rounds in FILES.items():
        tuples = [(r["level"], *r["names"][:2], *r["names"][2:], r["round"], r["date"].isoformat(), r["reason"],
                   r["idps"], r["males"], r["females"]) for r in ROWS if r["round"] in rounds]
        result = import_files(any_store, "dtm", [write_csv(tmp_path / name, api_rows("NGA", tuples))], user="test")
        assert result.status == "committed", result.report.findings
    return any_store


def one(spec: dict, **extra):
    return parse_measures([{"name": "m", "form": "dtm_idps", **spec, **extra}])[0]


def rows_of(store, spec: dict) -> list[dict]:
    return compute(store, one(spec)).to_pylist()


def grouped(rows, key, value):
    out = defaultdict(list)
    for r in rows:
        out[key(r)].append(value(r))
    return out


# ---- kinds ---------------------------------------------------------------------------------------------------

def test_sum_count_count_distinct(loaded):
    got = {(r["admin_level"], r["round_number"]): r["value"]
           for r in rows_of(loaded, {"sum": "num_present_idp_ind", "by": ["admin_level", "round_number"]})}
    want = {k: sum(v) for k, v in grouped(ROWS, lambda r: (r["level"], r["round"]), lambda r: r["idps"]).items()}
    assert got == want

    got = {r["round_number"]: r["value"] for r in rows_of(loaded, {"count": "*", "by": ["round_number"]})}
    assert got == {k: len(v) for k, v in grouped(ROWS, lambda r: r["round"], lambda r: 1).items()}

    got = {r["round_number"]: r["value"] for r in rows_of(loaded, {"count": "number_males", "by": ["round_number"]})}
    assert got == {k: sum(m is not None for m in v)
                   for k, v in grouped(ROWS, lambda r: r["round"], lambda r: r["males"]).items()}

    got = {r["round_number"]: r["value"]
           for r in rows_of(loaded, {"count_distinct": "_place_code", "by": ["round_number"],
                                     "where": [{"field": "admin_level", "equals": 2}]})}
    assert got == {k: len(set(v)) for k, v in grouped([r for r in ROWS if r["level"] == 2], lambda r: r["round"],
                                                      lambda r: r["place"]).items()}


def test_mean_min_max_and_several_fields(loaded):
    by_level = grouped(ROWS, lambda r: r["level"], lambda r: r["idps"])
    for kind, fn in (("mean", lambda v: sum(v) / len(v)), ("min", min), ("max", max)):
        got = {r["admin_level"]: r["value"] for r in rows_of(loaded, {kind: "num_present_idp_ind", "by": ["admin_level"]})}
        assert got == pytest.approx({k: fn(v) for k, v in by_level.items()})
    both = rows_of(loaded, {"sum": ["number_males", "number_females"]})
    assert both == [{"number_males": sum(r["males"] or 0 for r in ROWS),
                     "number_females": sum(r["females"] or 0 for r in ROWS)}]


def test_share_states_its_denominator(loaded):
    m = {"share": {"numerator": [{"field": "num_present_idp_ind", "range": [500, None]}],
                   "denominator": [{"field": "admin_level", "equals": 2}]}, "by": ["round_number"]}
    got = {r["round_number"]: (r["numerator"], r["denominator"], r["value"]) for r in rows_of(loaded, m)}
    for rnd in ROUNDS:
        base = [r for r in ROWS if r["round"] == rnd and r["level"] == 2]
        hits = [r for r in base if r["idps"] >= 500]
        assert got[rnd] == (len(hits), len(base), pytest.approx(len(hits) / len(base)))
    # An empty denominator is every record the measure keeps; a denominator of none gives no share.
    everyone = rows_of(loaded, {"share": {"numerator": [{"field": "number_males", "is_null": False}], "denominator": []}})
    assert everyone[0]["denominator"] == len(ROWS)
    assert everyone[0]["numerator"] == sum(r["males"] is not None for r in ROWS)
    nobody = rows_of(loaded, {"share": {"numerator": [], "denominator": [{"field": "admin_level", "equals": 3}]}})
    assert nobody == [{"value": None, "numerator": 0, "denominator": 0}]


# ---- filters -------------------------------------------------------------------------------------------------

FILTERS = [
    ({"field": "admin_level", "equals": 1}, lambda r: r["level"] == 1),
    ({"field": "_place_code", "in": ["NG002001", "NG008002"]}, lambda r: r["place"] in ("NG002001", "NG008002")),
    ({"field": "reporting_date", "range": ["2022-01-01", "2022-06-30"]},
     lambda r: date(2022, 1, 1) <= r["date"] <= date(2022, 6, 30)),
    ({"field": "num_present_idp_ind", "range": [None, 300]}, lambda r: r["idps"] <= 300),
    ({"field": "number_males", "is_null": True}, lambda r: r["males"] is None),
    ({"field": "number_females", "is_null": False}, lambda r: r["females"] is not None),
    ({"expr": "${num_present_idp_ind} > 1000 and ${round_number} != 41"}, lambda r: r["idps"] > 1000 and r["round"] != 41),
    ({"expr": "${reporting_date} >= date('2022-06-01')"}, lambda r: r["date"] >= date(2022, 6, 1)),
    ({"expr": "regex(${_place_code}, 'NG00[8]')"}, lambda r: r["place"] == "NG008"),  # the whole code matches
    ({"any": [{"field": "admin_level", "equals": 1}, {"expr": "${num_present_idp_ind} < 100"}]},
     lambda r: r["level"] == 1 or r["idps"] < 100),
]


@pytest.mark.parametrize("condition,keep", FILTERS, ids=[str(f[0]) for f in FILTERS])
def test_filters(loaded, condition, keep):
    got = rows_of(loaded, {"sum": "num_present_idp_ind", "where": [condition]})[0]["value"]
    want = [r["idps"] for r in ROWS if keep(r)]
    assert (got or 0) == sum(want) and want  # every filter keeps some rows and leaves some out
    assert len(want) < len(ROWS)


def test_runtime_filters_narrow_the_records(loaded):
    got = compute(loaded, one({"count": "*"}), {"round_number": [40, 43], "admin_level": 2}).to_pylist()
    assert got[0]["value"] == sum(1 for r in ROWS if r["round"] in (40, 43) and r["level"] == 2)


# ---- grouping ------------------------------------------------------------------------------------------------

def test_group_by_place_level_climbs_the_place_hierarchy(loaded):
    got = {(r["admin1"], r["admin0"]): r["value"]
           for r in rows_of(loaded, {"sum": "num_present_idp_ind", "by": [{"place_level": 1, "as": "admin1"},
                                                                          {"place_level": 0, "as": "admin0"}],
                                     "where": [{"field": "admin_level", "equals": 2}]})}
    want = grouped([r for r in ROWS if r["level"] == 2], lambda r: (r["admin1"], "NGA"), lambda r: r["idps"])
    assert got == {k: sum(v) for k, v in want.items()}
    # A place above the level asked for has no ancestor there.
    got = rows_of(loaded, {"count": "*", "by": [{"place_level": 2}], "where": [{"field": "admin_level", "equals": 1}]})
    assert got == [{"place_level_2": None, "value": sum(r["level"] == 1 for r in ROWS)}]


@pytest.mark.parametrize("grain,start", [
    ("day", lambda d: d), ("month", lambda d: d.replace(day=1)),
    ("quarter", lambda d: date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)), ("year", lambda d: date(d.year, 1, 1))])
def test_group_by_time_grain(loaded, grain, start):
    got = {r[f"reporting_date_{grain}"]: r["value"]
           for r in rows_of(loaded, {"sum": "num_present_idp_ind", "by": [{"field": "reporting_date", "grain": grain}]})}
    want = grouped(ROWS, lambda r: start(r["date"]), lambda r: r["idps"])
    assert {(k.date() if hasattr(k, "date") else k): v for k, v in got.items()} == {k: sum(v) for k, v in want.items()}


def test_latest_per_place_change_between_rounds_and_rollup(loaded):
    keys = ["admin_level", "_place_code", "round_number", "reporting_date"]
    per = {"per": ["admin_level", "_place_code"], "order": ["round_number", "reporting_date"]}
    admin2 = [r for r in ROWS if r["level"] == 2]
    totals = {k: sum(v) for k, v in grouped(admin2, lambda r: (r["place"], r["round"]), lambda r: r["idps"]).items()}
    base = {"sum": "num_present_idp_ind", "by": keys, "where": [{"field": "admin_level", "equals": 2}]}

    latest = rows_of(loaded, {**base, "latest": per})
    want = {p: max(rnd for (q, rnd) in totals if q == p) for p in ADMIN2}
    assert {r["_place_code"]: (r["round_number"], r["value"]) for r in latest} == \
        {p: (rnd, totals[(p, rnd)]) for p, rnd in want.items()}

    change = rows_of(loaded, {**base, "change": per})
    for r in change:
        rounds = sorted(rnd for (q, rnd) in totals if q == r["_place_code"] and rnd < r["round_number"])
        prev = totals[(r["_place_code"], rounds[-1])] if rounds else None
        assert r["previous"] == prev
        assert r["change"] == (None if prev is None else r["value"] - prev)
        assert r["change_pct"] == (None if not prev else pytest.approx(round((r["value"] - prev) * 100 / prev, 2)))

    rolled = rows_of(loaded, {**base, "latest": per, "rollup": ["admin_level"]})
    assert rolled == [{"admin_level": 2, "value": sum(totals[(p, rnd)] for p, rnd in want.items())}]

    both = rows_of(loaded, {**base, "latest": per, "change": per})  # the latest round, against the one before it
    for r in both:
        prev = totals.get((r["_place_code"], max((q for (p, q) in totals if p == r["_place_code"] and q < want[p]), default=None)))
        assert (r["round_number"], r["value"], r["previous"]) == (want[r["_place_code"]],
                                                                   totals[(r["_place_code"], want[r["_place_code"]])], prev)
    assert len(both) == len(ADMIN2)


# ---- comparisons ---------------------------------------------------------------------------------------------

def test_comparisons_with_tolerance_and_severity(loaded):
    measures = {m.name: m for m in parse_measures([
        {"name": "admin1", "form": "dtm_idps", "sum": "num_present_idp_ind", "by": ["round_number"],
         "where": [{"field": "admin_level", "equals": 1}]},
        {"name": "admin2", "form": "dtm_idps", "sum": "num_present_idp_ind", "by": ["round_number"],
         "where": [{"field": "admin_level", "equals": 2}]},
        {"name": "sexed", "form": "dtm_idps", "sum": "num_present_idp_ind", "by": ["round_number"],
         "where": [{"field": "number_males", "is_null": False}, {"field": "round_number", "in": [40, 41]}]},
    ])}
    cache: dict[str, list[dict]] = {}

    def rows(name: str) -> list[dict]:
        return cache.setdefault(name, compute(loaded, measures[name]).to_pylist())

    a1 = {k: sum(v) for k, v in grouped([r for r in ROWS if r["level"] == 1], lambda r: r["round"], lambda r: r["idps"]).items()}
    a2 = {k: sum(v) for k, v in grouped([r for r in ROWS if r["level"] == 2], lambda r: r["round"], lambda r: r["idps"]).items()}
    gap = max(abs(a1[k] - a2[k]) for k in ROUNDS)
    checks = parse_comparisons([
        {"id": "exact", "left": "admin2", "operator": "==", "right": "admin1"},
        {"id": "loose", "left": "admin2", "operator": "==", "right": "admin1", "tolerance": gap, "severity": "warning"},
        {"id": "relative", "left": "admin2", "operator": "<=", "right": "admin1", "tolerance": "10%"},
        {"id": "constant", "left": "admin1", "operator": ">", "right": 4000},
        {"id": "partial", "left": "sexed", "operator": "<=", "right": "admin2"},
    ])
    results = {c.id: compare(c, rows) for c in checks}
    assert {r.where["round_number"]: r.ok for r in results["exact"]} == {k: a1[k] == a2[k] for k in ROUNDS}
    assert all(r.ok and r.severity == "warning" for r in results["loose"])
    assert {r.where["round_number"]: r.ok for r in results["relative"]} == \
        {k: a2[k] <= a1[k] * 1.1 + 1e-9 for k in ROUNDS}
    assert {r.where["round_number"]: (r.left, r.ok) for r in results["constant"]} == \
        {k: (a1[k], a1[k] > 4000) for k in ROUNDS}
    skipped: list = []
    partial = compare(checks[4], rows, skipped)
    assert {r.where["round_number"] for r in partial} == {40, 41} and all(r.ok for r in partial)
    assert {s.where["round_number"] for s in skipped} == {42, 43}  # no left side: skipped, not failed


# ---- provenance ----------------------------------------------------------------------------------------------

def _ids(store) -> dict[tuple, str]:
    got = store.query("SELECT _place_code, round_number, displacement_reason, _record_id FROM dtm_idps")
    return {(p, int(rnd), reason.lower()): rid for p, rnd, reason, rid in got}


def test_provenance_names_records_and_files(loaded):
    ids = _ids(loaded)
    m = one({"share": {"numerator": [{"field": "num_present_idp_ind", "range": [1000, None]}],
                       "denominator": [{"field": "admin_level", "equals": 2}]},
             "by": [{"place_level": 1, "as": "admin1"}, {"field": "reporting_date", "grain": "year", "as": "year"}]})
    p = provenance(loaded, m, {"admin1": "NG008", "year": date(2022, 1, 1)})
    want = [r for r in ROWS if r["level"] == 2 and r["admin1"] == "NG008" and r["date"].year == 2022
            and r["idps"] >= 1000]
    assert p.record_ids == sorted(ids[(r["place"], r["round"], r["reason"].lower())] for r in want)
    assert [s.file for s in p.sources] == sorted({r["file"] for r in want})
    assert all(len(s.sha256) == 64 for s in p.sources)


def test_provenance_after_latest_and_rollup(loaded):
    ids = _ids(loaded)
    m = one({"sum": "num_present_idp_ind", "by": ["admin_level", "_place_code", "round_number"],
             "where": [{"field": "admin_level", "equals": 1}],
             "latest": {"per": ["admin_level", "_place_code"], "order": ["round_number"]}, "rollup": ["admin_level"]})
    p = provenance(loaded, m, {"admin_level": 1})
    assert p.record_ids == sorted(ids[(r["place"], 43, "conflict")] for r in ROWS if r["level"] == 1 and r["round"] == 43)
    assert [s.file for s in p.sources] == ["late.csv"]


def test_provenance_of_a_measure_without_keys(loaded):
    ids = _ids(loaded)
    p = provenance(loaded, one({"count": "*", "where": [{"field": "admin_level", "equals": 1}]}))
    assert p.record_ids == sorted(ids[(r["place"], r["round"], r["reason"].lower())] for r in ROWS if r["level"] == 1)
    assert [s.file for s in p.sources] == ["early.csv", "late.csv"]


# ---- reader scoping and bad definitions --------------------------------------------------------------------

def test_a_given_table_replaces_the_forms_records(loaded):
    t = loaded.ibis().table("dtm_idps")
    mine = t.filter(t._place_code.startswith("NG002"))
    got = compute(loaded, one({"count": "*"}), table=mine).to_pylist()
    assert got == [{"value": sum(r["place"].startswith("NG002") for r in ROWS)}]


@pytest.mark.parametrize("spec,message", [
    ({"sum": "x", "count": "*"}, "exactly one of"),
    ({}, "exactly one of"),
    ({"sum": "x", "where": [{"field": "x"}]}, "where.0"),
    ({"sum": "x", "where": [{"field": "x", "equals": 1, "is_null": True}]}, "where.0"),
    ({"sum": "x", "by": [{"field": "d"}]}, "grain"),
    ({"mean": "x", "by": ["a"], "rollup": ["a"]}, "rollup"),
    ({"sum": "x", "by": ["a"], "latest": {"per": ["b"], "order": ["a"]}}, "not keys: b"),
    ({"sum": "x", "colour": "red"}, "colour"),
])
def test_bad_measures_are_located(spec, message):
    with pytest.raises(UsageError) as err:
        parse_measures([{"name": "broken", **spec}], where="pack demo measures")
    assert "pack demo measures[0] broken" in str(err.value) and message in str(err.value)


def test_bad_expression_and_field_are_usage_errors(loaded):
    with pytest.raises(UsageError, match="position"):
        compute(loaded, one({"count": "*", "where": [{"expr": "${num_present_idp_ind} >"}]}))
    with pytest.raises(UsageError, match="no field 'nope'"):
        compute(loaded, one({"sum": "nope"}))
    with pytest.raises(UsageError, match="relative tolerance"):
        parse_comparisons([{"id": "x", "left": "a", "operator": "==", "right": 1, "tolerance": "ten"}])


# ---- derived measures ----------------------------------------------------------------------------------------

def _derived_measures() -> dict:
    admin2 = [{"field": "admin_level", "equals": 2}]
    return {m.name: m for m in parse_measures([
        {"name": "males", "form": "dtm_idps", "sum": "number_males", "by": ["round_number"], "where": admin2},
        {"name": "females", "form": "dtm_idps", "sum": "number_females", "by": ["round_number"], "where": admin2},
        {"name": "idps", "form": "dtm_idps", "sum": "num_present_idp_ind", "by": ["round_number"], "where": admin2},
        {"name": "per_place", "form": "dtm_idps", "sum": "num_present_idp_ind", "by": ["round_number", "_place_code"],
         "where": admin2},
        {"name": "sexed", "derived": "males + females"},
        {"name": "percent_male", "derived": "100 * males / sexed"},
        {"name": "growth", "derived": "idps - before(idps, round_number)"},
        {"name": "place_share", "derived": "per_place / idps"},
        {"name": "nothing", "derived": "idps / (males - males)"},
    ])}


def test_derived_measures_join_their_parts_on_shared_keys(loaded):
    rows = sides(loaded, _derived_measures())
    admin2 = [r for r in ROWS if r["level"] == 2]
    males = {k: sum(v) for k, v in grouped(admin2, lambda r: r["round"], lambda r: r["males"] or 0).items()}
    females = {k: sum(v) for k, v in grouped(admin2, lambda r: r["round"], lambda r: r["females"] or 0).items()}
    idps = {k: sum(v) for k, v in grouped(admin2, lambda r: r["round"], lambda r: r["idps"]).items()}
    per_place = {k: sum(v) for k, v in grouped(admin2, lambda r: (r["round"], r["place"]), lambda r: r["idps"]).items()}

    assert {r["round_number"]: r["value"] for r in rows("sexed")} == {k: males[k] + females[k] for k in ROUNDS}
    assert {r["round_number"]: r["value"] for r in rows("percent_male")} == pytest.approx(
        {k: 100 * males[k] / (males[k] + females[k]) for k in ROUNDS})
    # the round before: round 40 has none, so it has no row
    assert {r["round_number"]: r["value"] for r in rows("growth")} == {k: idps[k] - idps[k - 1] for k in (41, 42, 43)}
    place_share = rows("place_share")
    assert {(r["round_number"], r["_place_code"]): r["value"] for r in place_share} == pytest.approx(
        {(rnd, p): v / idps[rnd] for (rnd, p), v in per_place.items()})
    assert list(place_share[0]) == ["round_number", "_place_code", "value"]
    assert [r["value"] for r in rows("nothing")] == [None] * 4  # divided by zero: no value, skipped by compare
    # a comparison's side may be a formula over measures, written in place
    check = parse_comparisons([{"id": "sexes", "left": "males + females", "operator": "<=", "right": "idps"}])[0]
    assert all(r.ok for r in compare(check, rows)) and len(compare(check, rows)) == 4


def test_derived_provenance_is_its_parts_records(loaded):
    measures = _derived_measures()
    ids = _ids(loaded)
    p = derived_provenance(loaded, measures["growth"], {"round_number": 42}, measures=measures)
    want = {ids[(r["place"], r["round"], r["reason"].lower())] for r in ROWS if r["level"] == 2 and r["round"] in (41, 42)}
    assert p.record_ids == sorted(want)
    assert [s.file for s in p.sources] == ["early.csv", "late.csv"]  # round 41 from one file, 42 from the other


def test_derived_measures_over_given_tables_and_comparisons_over_one_side():
    """Memtables by name, no store: the way a report's printed tables are checked."""
    tables = {"printed": ibis.memtable(pa.table({"year": [2018, 2019, 2020, 2019, 2020],
                                                 "measure": ["total"] * 3 + ["pct"] * 2,
                                                 "value": [200, 250, 300, 25, 20]}))}
    measures = {m.name: m for m in parse_measures([
        {"name": "total", "form": "printed", "sum": "value", "by": ["year"], "where": [{"field": "measure", "equals": "total"}]},
        {"name": "pct", "form": "printed", "sum": "value", "by": ["year"], "where": [{"field": "measure", "equals": "pct"}]},
        {"name": "absent", "form": "not_given", "sum": "value", "by": ["year"]},
    ])}
    rows = sides(None, measures, tables)
    growth = "100 * (total - before(total, year)) / before(total, year)"
    assert rows(growth) == [{"year": 2019, "value": 25.0}, {"year": 2020, "value": 20.0}]
    rule = {"id": "growth", "left": "pct", "operator": "==", "right": growth, "tolerance": 0.5}
    both, only_left = parse_comparisons([rule, {**rule, "id": "left", "left": "total", "over": "left"}])
    assert [(r.where, r.ok) for r in compare(both, rows)] == [({"year": 2019}, True), ({"year": 2020}, True)]
    skipped: list = []
    assert [r.where for r in compare(only_left, rows, skipped)] == [{"year": 2019}, {"year": 2020}]
    assert [s.where for s in skipped] == [{"year": 2018}]  # the left side's first year has no year before
    with pytest.raises(NotFound, match="not_given"):
        rows("absent")


@pytest.mark.parametrize("spec,message", [
    ({"derived": "__import__('os')"}, "unknown function"),
    ({"derived": "idps.__class__"}, "Attribute is not allowed"),
    ({"derived": "idps + 'a'"}, "constants are numbers"),
    ({"derived": "before(idps)"}, r"before\(measure, key\)"),
    ({"derived": "idps +"}, "cannot read the formula"),
    ({"derived": "m + 1"}, "cannot read itself"),
    ({"derived": "idps", "by": ["round_number"]}, "takes its rows from the measures it names"),
])
def test_bad_derived_measures_are_located(spec, message):
    with pytest.raises(UsageError, match=message):
        parse_measures([{"name": "m", **spec}])


def test_a_derived_measure_reading_an_unknown_measure_is_a_usage_error():
    with pytest.raises(UsageError, match="no measure 'idp'"):
        sides(None, _derived_measures())("idp + 1")
    with pytest.raises(UsageError, match="left: .*unknown function"):
        parse_comparisons([{"id": "x", "left": "len(idps)", "operator": "==", "right": 1}])
