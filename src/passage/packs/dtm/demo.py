"""`passage demo`: realistic DTM-shaped data over real P-codes, imported and summarised.

Nothing here is real displacement data. The places are real (OCHA's P-codes for
Nigeria, Chad, South Sudan and Afghanistan, packaged in `passage/places/data/`);
the figures are drawn from a seeded random walk so that they look and evolve like
DTM mobility-tracking rounds, and carry every quirk of IOM's published files:

- several rows per place and round, one per displacement reason;
- reasons in mixed case, joined with `; ` and in any order (`Conflict; Natural disaster`,
  `natural disaster; conflict`, `conflict`);
- `Not available` for a missing origin;
- `numberMales` / `numberFemales` empty in most rows (and males + females <= total where given);
- admin1/admin2 fields empty on admin0 rows;
- Chad coded with ISO2-prefix P-codes (`TD07`, `TD0704`) where the COD has `TCD07`, `TCD0704`;
- a provider name that disagrees with its code (`AF1722` called `Darwaz-e-Balla`);
- reporting dates as `2023-05-31T00:00:00`.

Two operations are written as the HDX CSV (header + HXL row), two as DTM API v3 JSON
responses (one file per admin level).

    from passage.packs.dtm.demo import run_demo, format_headline
    print(format_headline(run_demo(store, Path("demo"))))
"""

from __future__ import annotations

import calendar
import csv
import io
import json
import math
import random
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from passage.errors import UsageError
from passage.findings import expect_accepted
from passage.packs.dtm.importer import COLUMNS, HXL_TAGS

PLACES_PACKAGE = "passage.places"
PCODES_FILE = "global-pcodes-adm-1-2.csv"
LENGTHS_FILE = "global-pcode-lengths.csv"
DEMO_USER = "demo"

# The HXL row as the HDX file has it (`id` is tagged `#id+code` there; Passage does not need the tag).
HXL_ROW = ["#id+code" if c == "id" else HXL_TAGS.get(c, "") for c in COLUMNS]


@dataclass(frozen=True)
class Operation:
    iso3: str
    country: str
    name: str
    admin1: tuple[str, ...]  # COD admin1 codes covered
    assessment: str
    first_round: int
    last_date: date  # reporting date of the last round (rounds are spaced backwards from it)
    months_between: int
    layout: str  # "csv" (HDX) or "api" (DTM API v3 JSON)
    reasons: tuple[str, ...]  # normalised reason categories; the first is the main one
    scale: float  # typical IDPs in an admin2 area
    trend: float  # drift per round of the log figure
    provider_prefix: str | None = None  # e.g. "TD" for Chad's ISO2-prefixed codes


OPERATIONS: tuple[Operation, ...] = (
    Operation("NGA", "Nigeria", "Nigeria - North-East", ("NG002", "NG008", "NG036"), "BA", 35,
              date(2024, 6, 30), 2, "csv",
              ("conflict", "communal clashes", "natural disaster", "conflict; natural disaster"), 9000, 0.01),
    Operation("TCD", "Chad", "Chad - Lac", ("TCD07",), "SA", 14, date(2024, 3, 31), 3, "api",
              ("conflict", "natural disaster", "insecurity", "other reason"), 30000, 0.015,
              provider_prefix="TD"),
    Operation("SSD", "South Sudan", "South Sudan - Mobility Tracking",
              tuple(f"SS{i:02d}" for i in range(11)), "BA", 9,
              date(2024, 5, 31), 3, "csv",
              ("conflict", "natural disaster", "communal clashes", "conflict; natural disaster",
               "other reason"), 6000, -0.01),
    Operation("AFG", "Afghanistan", "Afghanistan - Returns and displacement",
              ("AF01", "AF06", "AF17", "AF19", "AF21", "AF27", "AF30", "AF32"), "BA", 12,
              date(2023, 12, 31), 2, "api", ("conflict", "natural disaster", "conflict; natural disaster"),
              4000, -0.02),
)

# Provider names that differ from the COD's (DTM's own spellings; a real case from the issue text).
PROVIDER_NAMES = {"AF1722": "Darwaz-e-Balla"}
SEX_SHARE = 0.2  # share of admin2 rows that report males and females
ORIGIN_SHARE = 0.3  # share of admin2 rows that name an origin (the rest say "Not available")


# ---------------------------------------------------------------------------------------------- places


def packaged_file(name: str) -> Path:
    """Path to a file of `passage/places/data/` (installed with the package)."""
    return Path(str(resources.files(PLACES_PACKAGE).joinpath("data", name)))


@dataclass(frozen=True)
class Place:
    code: str
    level: int
    name: str
    parent: str
    country: str


def packaged_places() -> dict[str, Place]:
    text = packaged_file(PCODES_FILE).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    i = {h: header.index(h) for h in ("Location", "Admin Level", "P-Code", "Name", "Parent P-Code")}
    out = {}
    for r in rows[2:]:
        if not r:
            continue
        code = r[i["P-Code"]]
        out[code] = Place(code, int(r[i["Admin Level"]]), r[i["Name"]], r[i["Parent P-Code"]],
                          r[i["Location"]])
    return out


def ensure_places(store) -> dict[str, int]:
    """Load the packaged P-codes and lengths into the store unless they are there already (a new store gets
    Passage's bundled places on first need: only a store whose places were replaced loads them again)."""
    from passage.places import ensure_places as bundled_places
    from passage.places import import_lengths, import_pcodes

    loaded = {"pcodes": 0, "lengths": 0}
    if bundled_places(store):
        loaded["pcodes"] = store.scalar("SELECT count(*) FROM places WHERE level > 0")
    want = [op.admin1[0] for op in OPERATIONS]
    marks = ", ".join("?" for _ in want)
    have = store.scalar(f"SELECT count(*) FROM places WHERE code IN ({marks})", want)
    if have < len(want):
        loaded["pcodes"] = expect_accepted(import_pcodes(store, packaged_file(PCODES_FILE)), PCODES_FILE).value
    have_len = store.scalar(f"SELECT count(*) FROM pcode_lengths WHERE country_code IN ({marks})",
                            [op.iso3 for op in OPERATIONS])
    if have_len < len(OPERATIONS):
        loaded["lengths"] = expect_accepted(import_lengths(store, packaged_file(LENGTHS_FILE)), LENGTHS_FILE).value
    return loaded


# ------------------------------------------------------------------------------------- the demo files


def _month_end(d: date, months_back: int) -> date:
    y, m = d.year, d.month - months_back
    while m <= 0:
        m += 12
        y -= 1
    return date(y, m, calendar.monthrange(y, m)[1])


def _render_reason(category: str, rng: random.Random) -> str:
    """How a provider writes a normalised reason: any case, any order of its parts."""
    parts = category.split("; ")
    if len(parts) > 1 and rng.random() < 0.4:
        parts = parts[::-1]
    style = rng.random()
    if style < 0.55:
        out = [p[:1].upper() + p[1:] for p in parts]  # "Conflict; Natural disaster"
    elif style < 0.8:
        out = parts  # "conflict"
    elif style < 0.92:
        out = [p.title() for p in parts]  # "Natural Disaster"
    else:
        out = [p.upper() for p in parts]  # "CONFLICT"
    return "; ".join(out)


def _provider_code(op: Operation, code: str) -> str:
    """The code as DTM writes it (Chad: `TCD0704` -> `TD0704`)."""
    if op.provider_prefix and code.startswith(op.iso3):
        return op.provider_prefix + code[len(op.iso3):]
    return code


@dataclass
class _Row:
    level: int
    admin1: str | None  # COD codes
    admin2: str | None
    round_index: int
    reason: str  # normalised category
    idps: int
    males: int | None = None
    females: int | None = None
    origin: str | None = None  # COD admin1 code


def _simulate(op: Operation, places: dict[str, Place], rounds: int, rng: random.Random) -> list[_Row]:
    """admin2 figures as a random walk per place and reason; admin1 and admin0 are their sums."""
    admin2 = sorted(c for c, p in places.items() if p.level == 2 and p.parent in op.admin1)
    rows: list[_Row] = []
    for code in admin2:
        # Each place has a main reason and sometimes one or two more; a place may only be
        # assessed from a later round on, and one in twenty is dropped for a round now and then.
        level = rng.lognormvariate(math.log(op.scale), 0.9)
        extra = [r for r in op.reasons[1:] if rng.random() < 0.35]
        shares = {op.reasons[0]: 1.0, **{r: rng.uniform(0.05, 0.35) for r in extra}}
        start = 0 if rng.random() < 0.85 else rng.randrange(1, max(2, rounds // 2))
        for k in range(rounds):
            level *= math.exp(op.trend + rng.gauss(0, 0.12))
            if k < start or rng.random() < 0.03:
                continue
            reasons = dict(shares)
            if rng.random() < 0.08:  # a flood or a clash adds a reason for one round
                reasons.setdefault(rng.choice(op.reasons), rng.uniform(0.02, 0.2))
            total = sum(reasons.values())
            for reason, share in sorted(reasons.items()):
                n = round(level * share / total)
                row = _Row(2, places[code].parent, code, k, reason, n)
                if rng.random() < SEX_SHARE:
                    row.females = int(n * rng.uniform(0.50, 0.56))
                    row.males = min(n - row.females, int(n * rng.uniform(0.40, 0.47)))
                if rng.random() < ORIGIN_SHARE:
                    row.origin = places[code].parent if rng.random() < 0.6 else rng.choice(op.admin1)
                rows.append(row)
    sums1: dict[tuple, int] = {}
    sums0: dict[tuple, int] = {}
    for r in rows:
        k1, k0 = (r.admin1, r.round_index, r.reason), (r.round_index, r.reason)
        sums1[k1] = sums1.get(k1, 0) + r.idps
        sums0[k0] = sums0.get(k0, 0) + r.idps
    upper = [_Row(1, a1, None, k, reason, n) for (a1, k, reason), n in sums1.items()]
    upper += [_Row(0, None, None, k, reason, n) for (k, reason), n in sums0.items()]
    upper.sort(key=lambda r: (r.level, r.round_index, r.admin1 or "", r.reason))
    rows.sort(key=lambda r: (r.round_index, r.admin1 or "", r.admin2 or "", r.reason))
    return sorted(upper, key=lambda r: r.level) + rows


def _records(op: Operation, places: dict[str, Place], rounds: int,
             rng: random.Random) -> Iterator[dict[str, Any]]:
    """Rows as DTM publishes them (camelCase fields, provider codes and names)."""
    next_id = rng.randrange(10_000, 90_000)
    dates = [_month_end(op.last_date, op.months_between * (rounds - 1 - k)) for k in range(rounds)]
    for r in _simulate(op, places, rounds, rng):
        d = dates[r.round_index]
        a1 = places[r.admin1] if r.admin1 else None
        a2 = places[r.admin2] if r.admin2 else None
        origin = places[r.origin] if r.origin else None
        rec: dict[str, Any] = {
            "id": None,
            "operation": op.name,
            "admin0Name": op.country,
            "admin0Pcode": op.iso3,
            "admin1Name": a1.name if a1 else None,
            "admin1Pcode": _provider_code(op, a1.code) if a1 else None,
            "admin2Name": PROVIDER_NAMES.get(a2.code, a2.name) if a2 else None,
            "admin2Pcode": _provider_code(op, a2.code) if a2 else None,
            "adminLevel": r.level,
            "numPresentIdpInd": r.idps,
            "reportingDate": d.isoformat() + "T00:00:00",
            "yearReportingDate": d.year,
            "monthReportingDate": d.month,
            "roundNumber": op.first_round + r.round_index,
            "displacementReason": _render_reason(r.reason, rng),
            "numberMales": r.males,
            "numberFemales": r.females,
            "idpOriginAdmin1Name": origin.name if origin else "Not available",
            "idpOriginAdmin1Pcode": _provider_code(op, origin.code) if origin else "Not available",
            "assessmentType": op.assessment,
            "operationStatus": "Active",
        }
        if r.level > 0:
            next_id += rng.randrange(1, 40)
            rec["id"] = next_id
        yield rec


def _write_csv(path: Path, records: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(list(COLUMNS))
        w.writerow(HXL_ROW)
        for rec in records:
            w.writerow(["" if rec.get(c) is None else rec[c] for c in COLUMNS])


def _write_api(path: Path, records: list[dict[str, Any]], level: int) -> None:
    """A DTM API v3 `/displacement/admin{level}` response. No `id` on admin0 rows, no adminLevel or
    operationStatus (the API has neither); admin0 rows carry their admin1/admin2 fields as null."""
    skip = {"adminLevel", "operationStatus"} | ({"id"} if level == 0 else set())
    rows = [{c: rec[c] for c in COLUMNS if c not in skip} for rec in records]
    doc = {"result": rows, "statusCode": 200, "isSuccess": True, "errorMessages": [],
           "totalRecordsCount": len(rows)}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def _slug(op: Operation) -> str:
    return op.iso3.lower()


def generate_dtm(out_dir: Path, *, seed: int = 2020, rounds: int = 12) -> list[Path]:
    """Write the demo's DTM files into `out_dir`; the same seed gives the same bytes."""
    if rounds < 2:
        raise UsageError("the demo needs at least 2 rounds", code="usage.rounds")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    places = packaged_places()
    paths: list[Path] = []
    for n, op in enumerate(OPERATIONS):
        rng = random.Random(f"{seed}:{op.iso3}:{n}")
        records = list(_records(op, places, rounds, rng))
        if op.layout == "csv":
            path = out_dir / f"hdx-dtm-{_slug(op)}.csv"
            _write_csv(path, records)
            paths.append(path)
        else:
            for level in (0, 1, 2):
                path = out_dir / f"dtm-api-v3-displacement-admin{level}-{_slug(op)}.json"
                _write_api(path, [r for r in records if r["adminLevel"] == level], level)
                paths.append(path)
    return paths


# ------------------------------------------------------------------------------ benchmark-sized files


def generate_rows_csv(path: Path, n_rows: int, seed: int = 1) -> Path:
    """N DTM-shaped rows in the HDX CSV layout (header + HXL row), every key unique, fast.

    Row i is place `i mod P` (the 4 countries and every admin1 and admin2 P-code of the
    packaged table; Chad with ISO2 prefixes), then one of six displacement reasons (mixed
    case, `; `-joined), one of three assessment types, then a round; the last round is
    dated 2024-06-30 and each earlier one a month before, so dates stay in the past.
    Figures, sex disaggregation (20 % of rows, within the total) and origins (30 %, the
    rest `Not available`) come from a multiplicative hash of (i, seed): deterministic.

    DuckDB renders each line from pre-quoted CSV fragments and writes the body (10 M rows,
    1.7 GB, in about 15 s here); the two header lines are written first and the body appended.
    """
    import duckdb

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cod = packaged_places()
    ops = {op.iso3: op for op in OPERATIONS}
    countries = [Place(op.iso3, 0, op.country, "", op.iso3) for op in OPERATIONS]
    places = sorted(countries, key=lambda p: p.code) + sorted(
        (p for p in cod.values() if p.level in (1, 2) and p.country in ops), key=lambda p: p.code)  # the bundle is global

    def provider(p: Place | None) -> str:
        if p is None:
            return ""
        return ops[p.country].provider_prefix + p.code[3:] if ops[p.country].provider_prefix else p.code

    def fragment(values: list[Any]) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow(values)
        return buf.getvalue()

    def lit(values: list[str]) -> str:
        assert not any("\t" in v or "\x01" in v for v in values)
        return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"

    place_frags, origin_frags, levels = [], [], []
    for p in places:
        a1 = None if p.level == 0 else p if p.level == 1 else cod[p.parent]
        a2 = p if p.level == 2 else None
        place_frags.append(fragment([ops[p.country].name, ops[p.country].country, p.country,
                                     a1.name if a1 else "", provider(a1), a2.name if a2 else "", provider(a2),
                                     p.level]))
        origin_frags.append(fragment([a1.name, provider(a1)]) if a1 else "Not available,Not available")
        levels.append(p.level)
    n_places = len(places)
    reasons = ["Conflict", "conflict; Natural disaster", "Natural Disaster", "communal clashes", "Insecurity",
               "Other reason"]
    types = ["BA", "SA", "ETT"]
    per_round = n_places * len(reasons) * len(types)
    n_rounds = max(1, -(-int(n_rows) // per_round))
    date_frags = []
    for r in range(n_rounds):
        d = _month_end(date(2024, 6, 30), n_rounds - 1 - r)
        date_frags.append(f"{d.isoformat()}T00:00:00,{d.year},{d.month},{r}")

    def h(salt: int) -> str:  # a deterministic pseudo-random number in [0, 1) per row (multiplicative hash)
        return f"((((i + {seed * 7919}) * 2654435761 + {salt}) % 4294967296) / 4294967296.0)"

    first_place = len(countries)  # rows of places below this index are admin0 rows: no id
    body = f"""
    SELECT concat(
      CASE WHEN pi < {first_place} THEN '' ELSE CAST(i + 1 AS VARCHAR) END, ',',
      {lit(place_frags)}[pi + 1], ',', idps, ',',
      {lit(date_frags)}[CAST(i // {per_round} AS BIGINT) + 1], ',',
      {lit(reasons)}[((i // {n_places}) % {len(reasons)}) + 1], ',',
      CASE WHEN {h(23)} < 0.2 THEN CAST(floor(idps * 0.45) AS BIGINT) || ',' || CAST(floor(idps * 0.52) AS BIGINT)
           ELSE ',' END, ',',
      CASE WHEN {h(37)} < 0.3 THEN {lit(origin_frags)}[pi + 1] ELSE 'Not available,Not available' END, ',',
      {lit(types)}[((i // {n_places * len(reasons)}) % {len(types)}) + 1], ',Active')
    FROM (
      SELECT i, i % {n_places} AS pi, CAST(floor(50 + 20000 * pow({h(11)}, 3)) AS BIGINT) AS idps
      FROM (SELECT range AS i FROM range({int(n_rows)}))
    )
    """
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute("SET preserve_insertion_order = true")
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            part = Path(tmp) / "body.csv"
            # one pre-rendered column per line: a delimiter and quote that never occur, so nothing is re-quoted
            con.execute(f"COPY ({body}) TO '{part}' (FORMAT csv, HEADER false, DELIMITER '\t', "
                        "QUOTE '\x01', ESCAPE '\x01')")
            with path.open("wb") as out:
                head = io.StringIO()
                cw = csv.writer(head, lineterminator="\n")
                cw.writerow(list(COLUMNS))
                cw.writerow(HXL_ROW)
                out.write(head.getvalue().encode("utf-8"))
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 24)
    finally:
        con.close()
    return path


# -------------------------------------------------------------------------------------------- the demo


def _headline_measures() -> dict[str, Any]:
    from passage.measures import parse_measures
    from passage.plugins import load_pack

    return {m.name: m for m in parse_measures(load_pack("dtm").spec.get("measures") or [], "dtm")}


def headline(store, table: Any = None) -> dict[str, Any]:
    """Headline figures over the current `dtm_idps` records (or the Ibis `table`: what a reader may see).

    IDPs per country are the `idps_by_country` indicator, the one definition the country chart, the map and
    `passage indicators show` use too; the counts come from the pack's `headline_*` measures (pack.yaml).
    """
    from passage.indicators import get_indicator
    from passage.measures import compute, expression

    measures = _headline_measures()

    def rows(name: str) -> list[dict[str, Any]]:
        return compute(store, measures[f"headline_{name}"], table=table).to_pylist()

    def value(name: str) -> Any:
        found = rows(name)
        return found[0]["value"] if found else None

    figure = get_indicator("idps_by_country", store)
    names = {r["admin0_pcode"]: r["value"] for r in rows("country_names")}
    latest = expression(store, figure.model_copy(update={"rollup": None}), table=table)
    rounds = {r["admin0_pcode"]: r for r in latest.group_by("admin0_pcode").aggregate(
        round=latest.round_number.max(), reporting_date=latest.reporting_date.max()).to_pyarrow().to_pylist()}
    by_country = []
    for r in compute(store, figure, table=table).to_pylist():
        iso3 = r["admin0_pcode"]
        by_country.append({
            "country": iso3, "name": names.get(iso3), "idps": int(r["value"]), "previous": int(r["previous"]),
            "change": int(r["change"]), "change_pct": None if r["change_pct"] is None else float(r["change_pct"]),
            "round": int(rounds[iso3]["round"]), "reporting_date": str(rounds[iso3]["reporting_date"])[:10]})
    first, last = value("first_date"), value("last_date")
    return {
        "records": int(value("records") or 0),
        "countries": int(value("countries") or 0),
        "operations": int(value("operations") or 0),
        "rounds": len(rows("rounds")),
        "places": int(value("places") or 0),
        "warnings": int(value("warnings") or 0),
        "first_date": None if first is None else str(first)[:10],
        "last_date": None if last is None else str(last)[:10],
        "total_idps": sum(c["idps"] for c in by_country),
        "by_country": by_country,
    }


def run_demo(store, work_dir: Path, *, seed: int = 2020, rounds: int = 12, progress=None) -> dict[str, Any]:
    """Load the packaged places if needed, generate the demo files, import them, return headline figures."""
    from passage.ingest import import_files

    say = progress or (lambda msg: None)
    work_dir = Path(work_dir)
    loaded = ensure_places(store)
    if loaded["pcodes"]:
        say(f"loaded {loaded['pcodes']:,} P-codes (OCHA's global admin 1-2 list)")
    paths = generate_dtm(work_dir, seed=seed, rounds=rounds)
    imports = []
    for p in paths:
        r = expect_accepted(import_files(store, "dtm", [p], user=DEMO_USER), f"the demo's {p.name}")
        imports.append({"file": p.name, "status": r.status, "inserted": r.inserted,
                        "warnings": r.report.warning_count()})
        say(f"{p.name}: {r.status}" + (f", {r.inserted} records" if r.status == "committed" else ""))
    out = headline(store)
    out["files"] = [str(p) for p in paths]
    out["imports"] = imports
    return out


def _fmt(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def format_headline(d: dict[str, Any]) -> str:
    """The headline figures as a few lines of text for a terminal."""
    lines = [
        (f"{_fmt(d['records'])} records over {_fmt(d['places'])} places in {d['countries']} countries, "
        f"{d['operations']} operations, {d['rounds']} rounds ({d['first_date']} to {d['last_date']}); "
        f"{_fmt(d['warnings'])} records carry warnings."),
        "",
        f"{'country':<28} {'round':>5}  {'date':<10} {'IDPs':>12} {'previous':>12} {'change':>10} {'%':>7}",
    ]
    for c in d["by_country"]:
        pct = "-" if c["change_pct"] is None else f"{c['change_pct']:+.1f}"
        lines.append(f"{(c['name'] or c['country']) + ' (' + c['country'] + ')':<28} {c['round']:>5}  "
                     f"{c['reporting_date']:<10} {_fmt(c['idps']):>12} {_fmt(c['previous']):>12} "
                     f"{c['change']:>+10,} {pct:>7}")
    lines.append(f"{'total':<28} {'':>5}  {'':<10} {_fmt(d['total_idps']):>12}")
    lines.append("")
    lines.append("IDPs: the idps_by_country indicator (each admin 1 place's latest round, summed over displacement "
                 "reasons and places). Generated data over real OCHA P-codes; not real displacement figures.")
    return "\n".join(lines)
