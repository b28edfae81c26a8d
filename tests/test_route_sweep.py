"""Every route the portal serves, read by those who may not see unpublished data: none of it shows.

The routes are enumerated from the app's router, so a new route is swept as soon as it exists; a route
whose path parameter has no sample here fails the sweep until one is added. Each GET route is rendered,
with each of its formats, as the public, as a viewer (South Sudan) and as an editor of another country
(Nigeria). The demo keeps Afghanistan's DTM data and Uganda's travel data unpublished; neither their codes
nor the figures only their records make (Afghanistan's totals, and every total that counts them) may appear
in any answer, be it HTML, JSON, CSV, XLSX, Parquet or PDF.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import re
import shutil
from urllib.parse import urlencode

import pytest

from passage.auth.principal import PUBLIC, Principal
from passage.store import open_store

READERS = (None, "viewer-ssd", "editor-nga")
FORMATS = ("json", "csv", "hxl", "xlsx", "parquet", "geojson")
ADMIN = Principal("admin", "admin")
# Reference data any reader may read (place names and codes, boundaries, the language switch, static files)
# and public documents: codes may appear there, figures may not.
REFERENCE = ("/api/v1/places", "/api/v1/boundaries/", "/static", "/language/", "/api/v1/openapi.json", "/api/docs",
             # documents are published by their own visibility, and may well be about Afghanistan's places
             "/api/v1/documents", "/documents", "/search")
YEAR_DTM = 2023  # a year the demo's DTM rounds cover, Afghanistan's included


def _routes(app):
    """(path, methods, query parameter names) of every route, through included routers."""
    def walk(routes):
        for r in routes:
            if hasattr(r, "original_router"):
                yield from walk(r.original_router.routes)
            elif hasattr(r, "routes"):
                yield from walk(r.routes)
            else:
                yield r

    def query_params(dep):
        return [p.name for p in dep.query_params] + [n for d in dep.dependencies for n in query_params(d)]

    out = []
    for r in walk(app.routes):
        if not hasattr(r, "dependant"):
            continue
        out.append((r.path, set(r.methods or ()), query_params(r.dependant)))
    return out


@pytest.fixture(scope="module")
def secrets(seeded_portal_store, tmp_path_factory):
    """What the admin's store holds that the readers here may not see: codes and figures."""
    from passage.access import readable
    from passage.indicators import compute
    from passage.packs.dtm.demo import headline
    from passage.packs.institutional import indicator_values
    from passage.releases import dataset_for_form

    path, _ = seeded_portal_store
    copy = tmp_path_factory.mktemp("secrets") / path.name
    shutil.copyfile(path, copy)
    with open_store(str(copy)) as s:
        afg_pcodes = {c for (c,) in s.query(
            "SELECT DISTINCT _place_code FROM dtm_idps WHERE admin0_pcode = 'AFG' AND _place_code IS NOT NULL")}
        unpublished_travel = {c for (c,) in s.query(
            "SELECT DISTINCT iso3 FROM travel_measure WHERE iso3 NOT IN "
            "(SELECT country_code FROM releases WHERE dataset = 'travel_measures')")}
        ds = dataset_for_form(s, "dtm_idps")
        figures: set[int] = set()
        # Afghanistan's own figures: every indicator value of its records at admin 0 and 1.
        afg = readable(s, ADMIN, ds)
        afg = afg.filter(afg.admin0_pcode == "AFG")
        figures |= _indicator_values(s, afg, levels=(0, 1))
        # Totals that count Afghanistan: the admin's, where they differ from the public's.
        mine, public = headline(s), headline(s, readable(s, PUBLIC, ds))
        if mine["total_idps"] != public["total_idps"]:
            figures.add(mine["total_idps"])
        admin_rows = compute(s, "idps", {"admin_level": 0}, table=readable(s, ADMIN, ds)).to_pylist()
        public_rows = compute(s, "idps", {"admin_level": 0}, table=readable(s, PUBLIC, ds)).to_pylist()
        for year in range(2021, 2026):
            a, p = _latest_total(admin_rows, year), _latest_total(public_rows, year)
            if a != p:
                figures.add(a)
        # A number the public may read anyway (another country's record or figure) proves nothing: left out.
        pub = readable(s, PUBLIC, ds)
        public_numbers: set[int] = set()
        for col, dtype in pub.schema().items():  # numbers, and text that reads as one (ids such as dtm_id)
            if dtype.is_numeric() or dtype.is_string():
                public_numbers |= {int(float(v)) for v in pub.select(col).distinct().to_pyarrow().column(0).to_pylist()
                                   if v is not None and re.fullmatch(r"\d+(?:\.0*)?", str(v))}
        public_numbers |= _indicator_values(s, pub, levels=(0, 1, 2))
        figures -= public_numbers
        samples = {
            "record_afg": s.scalar("SELECT _record_id FROM dtm_idps WHERE admin0_pcode = 'AFG' ORDER BY 1 LIMIT 1"),
            "record_nga": s.scalar("SELECT _record_id FROM dtm_idps WHERE admin0_pcode = 'NGA' ORDER BY 1 LIMIT 1"),
            "doc_ids": [d for (d,) in s.query("SELECT doc_id FROM documents ORDER BY doc_id")],
            "offices": [c for (c,) in s.query(
                "SELECT code FROM places WHERE kind = 'office' AND (code LIKE '%AFG' OR code LIKE '%NGA') "
                "ORDER BY code")] or ["CO-NGA"],
            "questionnaire_indicators": sorted(indicator_values(s, 2020))[:2],
        }
    codes = {"AFG", *afg_pcodes, *unpublished_travel}
    figures = {f for f in figures if f >= 10_000}  # distinctive: no small count is mistaken for one
    assert "AFG" in codes and afg_pcodes and figures, "the demo must keep Afghanistan unpublished"
    assert unpublished_travel, "the travel demo must keep a country unpublished"
    return {"codes": codes, "figures": figures, **samples}


def _indicator_values(store, table, levels: tuple[int, ...]) -> set[int]:
    """Every value of the DTM indicators over `table` at these admin levels."""
    from passage.indicators import compute

    out: set[int] = set()
    for level in levels:
        for name in ("idps", "idps_latest"):
            out |= {int(r["value"]) for r in compute(store, name, {"admin_level": level}, table=table).to_pylist()
                    if r.get("value")}
    return out


def _latest_total(rows: list[dict], year: int) -> int:
    """IDPs at each operation's latest round by the end of `year`, summed: the annual report's total."""
    latest: dict[tuple, tuple] = {}
    for r in rows:
        day = r["reporting_date"]
        day = day.date() if hasattr(day, "date") else day
        if day.year > year:
            continue
        key, rank = (r["admin0_pcode"], r["operation"], r["assessment_type"]), (r["round_number"], day)
        if key not in latest or rank > latest[key][0]:
            latest[key] = (rank, int(r["value"] or 0))
    return sum(v for _, v in latest.values())


def _samples(path: str, secrets: dict) -> dict[str, list[str]]:
    """Values for each path parameter of `path`."""
    from passage.indicators import all_indicators
    from passage.publish.tables import list_tables
    from passage.releases import pack_datasets

    datasets = sorted(pack_datasets())
    if path.startswith("/api/v1/indicators"):
        names = sorted(all_indicators())
    elif path.startswith("/questionnaire"):
        names = secrets["questionnaire_indicators"]
    else:
        names = datasets
    return {
        "iso3": ["AFG", "NGA", *sorted(secrets["codes"] - {"AFG"} - {c for c in secrets["codes"] if len(c) > 3})],
        "year": [str(YEAR_DTM)] if path.startswith("/reports") else ["2020", str(YEAR_DTM)],
        "name": names,
        "table": [n for n, _ in list_tables()],
        "form_id": ["dtm_idps"],
        "record_id": [secrets["record_afg"], secrets["record_nga"]],
        "doc_id": [str(d) for d in secrets["doc_ids"]],
        "office": secrets["offices"],
        "code": ["en"],
        "user_name": ["admin", "editor-nga"],  # the admin pages: refused to every reader swept here
        "import_id": ["1"],
        "quarantine_id": ["1"],  # the seeded portal holds no quarantined row: answered 404 to everyone
    }


def _query_variants(path: str, params: list[str]) -> list[dict[str, str]]:
    base: dict[str, str] = {}
    if path == "/questionnaire/{year}/trace":
        base["question"] = "collected_data"
    variants = [base]
    if "format" in params:
        variants = [{**base, "format": f} for f in FORMATS]
    if "country" in params:
        variants += [{**base, "country": "AFG"}]
    if "dataset" in params:
        from passage.releases import pack_datasets

        variants += [{**base, "dataset": d} for d in sorted(pack_datasets())]
    if "q" in params:
        variants += [{**base, "q": "Afghanistan"}, {**base, "q": "AF"}]
    if "level" in params and path.startswith("/api/v1/countries"):
        variants += [{**base, "level": "1"}]
    return variants


def _text(response) -> str:
    """Every readable character of an answer, whatever its format."""
    kind = response.headers.get("content-type", "")
    body = response.content
    if "spreadsheetml" in kind:  # calamine reads a workbook ten times faster than openpyxl; values as Excel shows
        from python_calamine import CalamineWorkbook

        wb = CalamineWorkbook.from_filelike(io.BytesIO(body))
        return "\n".join(" ".join("" if v is None else str(v) for v in row)
                         for name in wb.sheet_names for row in wb.get_sheet_by_name(name).to_python())
    if "parquet" in kind:
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        out = io.BytesIO()
        pacsv.write_csv(pq.read_table(io.BytesIO(body)), out)
        return out.getvalue().decode("utf-8")
    if "pdf" in kind:
        from pypdf import PdfReader

        return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(body)).pages)
    return response.text


NUMBER = re.compile(r"(?<![\d.,])\d{1,3}(?:[,\u202f\u00a0]\d{3})+(?![\d]|[.,]\d)|(?<![\d.,])\d+(?![\d]|[.,]\d)")
TOKEN = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")  # an office code such as CO-AFG is a name of its own


def _secrets_in(text: str, secrets: dict) -> tuple[frozenset[str], frozenset[int]]:
    """The secret codes (whole tokens) and figures (whole numbers, grouped or not) in a text: one pass each."""
    text = re.sub(r"(\d)\.0+(?!\d)", r"\1", text)  # 45000.0 in JSON is the figure 45000
    numbers = {int(re.sub(r"\D", "", n)) for n in NUMBER.findall(text)}
    return frozenset(set(TOKEN.findall(text)) & secrets["codes"]), frozenset(numbers & secrets["figures"])


def _leaks(text: str, url: str, secrets: dict, found: tuple | None = None) -> list[str]:
    """What a reader may not see in an answer to `url`: the secrets in it, but for the codes the URL names."""
    codes, figures = found if found is not None else _secrets_in(text, secrets)
    codes = codes - {c for c in secrets["codes"] if c in url}
    return [f"code {c}" for c in sorted(codes)] + [f"figure {n:,}" for n in sorted(figures)]


@pytest.fixture(scope="module")
def swept(portal, secrets):
    """(url, reader, status, leaks) of every GET variant of every route, for each reader."""
    routes = _routes(portal.server.config.app)
    clients = {reader: portal.client(reader) for reader in READERS}
    results, missing = [], []
    read: dict[tuple, tuple] = {}  # the secrets in each answer, by its bytes: the same answer is read once
    for path, methods, params in routes:
        if "GET" not in methods:
            continue
        names = re.findall(r"{(\w+)(?::\w+)?}", path)
        samples = _samples(path, secrets)
        if any(n not in samples for n in names):
            missing.append(path)
            continue
        for values in itertools.product(*(samples[n] for n in names)):
            url = path
            for n, v in zip(names, values):
                url = re.sub(rf"{{{n}(?::\w+)?}}", v, url)
            for q in _query_variants(path, params):
                full = url + ("?" + urlencode(q) if q else "")
                for reader, client in clients.items():
                    r = client.get(full, headers={"accept": "text/html" if not full.startswith("/api/")
                                                  else "application/json"})
                    key = (r.status_code < 300, r.headers.get("content-type", ""), hashlib.sha256(r.content).digest())
                    if key not in read:
                        read[key] = _secrets_in(_text(r) if r.status_code < 300 else r.text, secrets)
                    found = _leaks("", full, secrets, read[key])
                    if path.startswith(REFERENCE):  # codes are reference data there; figures are not
                        found = [x for x in found if x.startswith("figure")]
                    results.append((full, reader or "public", r.status_code, found))
    for c in clients.values():
        c.close()
    return {"results": results, "missing": missing, "routes": routes}


def test_every_route_has_samples(swept):
    assert not swept["missing"], f"add path-parameter samples for: {swept['missing']}"


def test_every_get_route_was_swept(swept):
    asked = {re.sub(r"\?.*", "", u) for u, *_ in swept["results"]}
    for path, methods, _ in swept["routes"]:
        if "GET" in methods:
            pattern = re.sub(r"{\w+(?::path)?}", "[^?]+", re.escape(path).replace(r"\{", "{").replace(r"\}", "}"))
            assert any(re.fullmatch(pattern, a) for a in asked), f"{path} was never requested"


def test_no_route_shows_unpublished_codes_or_figures(swept):
    leaks = [f"{reader} {status} {url}: {', '.join(found[:4])}" for url, reader, status, found in swept["results"]
             if found]
    assert not leaks, f"{len(leaks)} answers show unpublished data:\n" + "\n".join(leaks[:40])


def test_no_route_fails_with_a_server_error(swept):
    errors = [f"{reader} {url}" for url, reader, status, _ in swept["results"] if status >= 500]
    assert not errors, "\n".join(errors[:40])


def test_the_sweep_is_not_vacuous(swept, portal, secrets):
    """The admin does see what the readers may not: the same routes would catch a leak."""
    c = portal.client("admin")
    try:
        r = c.get(f"/reports/annual/{YEAR_DTM}", headers={"accept": "text/html"})
        assert r.status_code == 200
        assert _leaks(_text(r), "/reports", secrets), "the admin's report counts Afghanistan"
        r = c.get("/api/v1/countries/AFG/series")
        assert r.status_code == 200 and _leaks(_text(r), "", secrets)
        for fmt in ("xlsx", "parquet"):  # files are read too: Afghanistan's codes are in the admin's
            r = c.get(f"/api/v1/exports/dtm_idps?format={fmt}")
            assert r.status_code == 200 and "code AFG" in _leaks(_text(r), "", secrets), fmt
    finally:
        c.close()
    ok = sum(1 for _, _, status, _ in swept["results"] if status == 200)
    assert ok > 100, f"only {ok} answers were 200: the sweep reads too little to prove anything"
