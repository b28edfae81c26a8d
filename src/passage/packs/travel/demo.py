"""The travel demo: real OxCGRT levels, and generated IOM-model measures, PoE registry and PoE assessments.

Only the OxCGRT subset is real (packs/travel/demo_data, CC BY 4.0, Hale et al. 2021). The rest is drawn from a
seeded generator so that it behaves like the real thing without being it:

- IOM-model measures for a dozen countries follow each country's OxCGRT level runs (4 -> a complete closure,
  3 -> a partial entry restriction, 1-2 -> a condition for authorised entry) with a few days' noise on the dates,
  some liftings recorded weeks late and a few runs coded differently, plus the tests, locator forms and health
  apps of the second half of 2020;
  so IOM and OxCGRT mostly agree, and `passage travel compare` has disagreements to show;
- about 150 points of entry in the same countries: airports at their real places, land border crossing
  points on the Natural Earth border the country shares with its neighbour (just inside it), blue border
  crossing points on coasts, lakes and rivers, internal transit points;
- PoE assessments every two to five weeks from spring 2020, their operational status following the
  country's level that day.

All files are imported through the ordinary importers (`oxcgrt`, `xlsform-data`), so the demo exercises the
same pipeline as real data.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from passage.store import Store

DEMO_DIR = Path(__file__).resolve().parent / "demo_data"
OXCGRT_FILE = DEMO_DIR / "c8_internationaltravel_subset.csv"
COUNTRIES = ("ARG", "BIH", "CHE", "GRC", "IND", "ITA", "LBN", "NPL", "PHL", "TCD", "UGA", "ZWE")
FIRST, LAST = date(2020, 1, 15), date(2021, 3, 31)  # the measures' period
ASSESS_LAST = date(2020, 12, 31)
# IATA code, city, latitude, longitude: real airports.
AIRPORTS = {
    "ARG": [("EZE", "Buenos Aires Ezeiza", -34.82, -58.54), ("COR", "Córdoba", -31.32, -64.21),
            ("MDZ", "Mendoza", -32.83, -68.79)],
    "BIH": [("SJJ", "Sarajevo", 43.82, 18.33), ("TZL", "Tuzla", 44.46, 18.72)],
    "CHE": [("ZRH", "Zurich", 47.46, 8.55), ("GVA", "Geneva", 46.24, 6.11), ("BRN", "Bern", 46.91, 7.50)],
    "GRC": [("ATH", "Athens", 37.94, 23.94), ("SKG", "Thessaloniki", 40.52, 22.97), ("HER", "Heraklion", 35.34, 25.18)],
    "IND": [("DEL", "Delhi", 28.56, 77.10), ("BOM", "Mumbai", 19.09, 72.87), ("MAA", "Chennai", 12.99, 80.17),
            ("CCU", "Kolkata", 22.65, 88.45)],
    "ITA": [("FCO", "Rome Fiumicino", 41.80, 12.25), ("MXP", "Milan Malpensa", 45.63, 8.72),
            ("VCE", "Venice", 45.50, 12.35), ("NAP", "Naples", 40.88, 14.29)],
    "LBN": [("BEY", "Beirut", 33.82, 35.49)],
    "NPL": [("KTM", "Kathmandu", 27.70, 85.36), ("BWA", "Bhairahawa", 27.51, 83.42)],
    "PHL": [("MNL", "Manila", 14.51, 121.02), ("CEB", "Cebu", 10.31, 123.98), ("DVO", "Davao", 7.13, 125.65)],
    "TCD": [("NDJ", "N'Djamena", 12.13, 15.03)],
    "UGA": [("EBB", "Entebbe", 0.04, 32.44)],
    "ZWE": [("HRE", "Harare", -17.93, 31.09), ("VFA", "Victoria Falls", -18.10, 25.84), ("BUQ", "Bulawayo", -20.02, 28.62)],
}
# Blue borders: sea coasts, or the lake / river a landlocked country shares with a neighbour.
BLUE = {"ARG": "sea", "GRC": "sea", "IND": "sea", "ITA": "sea", "LBN": "sea", "PHL": "sea", "BIH": "river",
        "CHE": "lake", "NPL": "river", "TCD": "lake", "UGA": "lake", "ZWE": "lake"}
MEASURE_FIELDS = ["source", "source_id", "iso3", "country_name", "applies_to", "departure_countries",
                  "nationality_countries", "residence_countries", "category", "subcategory", "condition_group",
                  "exceptions", "action", "date_issued", "date_in_force", "date_lifted", "native_category",
                  "native_measure", "native_value", "source_name", "source_url", "notes"]
POE_FIELDS = ["code", "name", "poe_type", "blue_border_kind", "iata_code", "iso3", "admin1_pcode", "latitude",
              "longitude", "neighbour_iso3"]
ASSESSMENT_FIELDS = ["poe_code", "assessment_date", "operational_status", "entry_restrictions", "exit_restrictions",
                     "measures", "populations", "iso3", "notes"]
POE_MEASURES = ("entry_restrictions", "exit_restrictions", "visa_changes", "nationality_disembarkation",
                "identity_document_changes", "health_staffing", "sops", "risk_communication",
                "infection_prevention_control", "surveillance_referral")
POPULATIONS = ("regular_travellers", "nationals", "migrants_stranded", "migrants_returning", "idps", "asylum_seekers")


# ---- OxCGRT levels --------------------------------------------------------------------------------------------

def oxcgrt_levels(path: Path = OXCGRT_FILE) -> dict[str, dict[date, int]]:
    """The wide C8 file as {iso3: {day: level}} (blank cells left out), read with csv."""
    from passage.packs.travel.importers.oxcgrt import parse_wide_date

    out: dict[str, dict[date, int]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        days = {i: parse_wide_date(h) for i, h in enumerate(header)}
        for row in reader:
            levels = out.setdefault(row[1], {})
            for i, cell in enumerate(row):
                if days.get(i) and cell.strip().replace(".", "", 1).isdigit():  # blank or NA: no data
                    levels[date.fromisoformat(days[i])] = int(float(cell))
    return out


def level_runs(levels: dict[date, int], first: date, last: date) -> list[tuple[int, date, date]]:
    """(level, first day, last day) runs of equal levels between first and last."""
    runs: list[tuple[int, date, date]] = []
    day = first
    while day <= last:
        v = levels.get(day)
        if v is not None:
            if runs and runs[-1][0] == v and runs[-1][2] == day - timedelta(days=1):
                runs[-1] = (v, runs[-1][1], day)
            else:
                runs.append((v, day, day))
        day += timedelta(days=1)
    return runs


# ---- IOM-model measures ---------------------------------------------------------------------------------------

def generate_measures(path: Path, levels: dict[str, dict[date, int]], *, seed: int = 2020) -> Path:
    """IOM-model measures for COUNTRIES, following their OxCGRT runs with noise (see the module docstring)."""
    import pycountry

    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []

    def add(iso3: str, category: str, subcategory: str, start: date, lifted: date | None, **extra: Any) -> None:
        n = sum(1 for r in rows if r["iso3"] == iso3) + 1
        group = {"quarantine": "medical", "negative_test": "medical", "health_screening": "medical",
                 "health_certificate": "medical", "test_on_arrival": "medical",
                 "passenger_locator_form": "location_surveillance", "health_app": "location_surveillance",
                 "visa_document_requirement": "visa_document", "insurance": "other"}.get(subcategory, "other")
        rows.append({"source": "iom", "source_id": f"IOM-{iso3}-{n:04d}", "iso3": iso3,
                     "country_name": pycountry.countries.get(alpha_3=iso3).name, "applies_to": "all",
                     "category": category, "subcategory": subcategory,
                     "condition_group": group if category == "entry_condition" else "",
                     "action": "introduce", "date_issued": (start - timedelta(days=rng.randint(0, 4))).isoformat(),
                     "date_in_force": start.isoformat(), "date_lifted": lifted.isoformat() if lifted else "",
                     "source_name": "Government announcement (generated for the demo)", **extra})

    def jitter(d: date) -> date:
        return d + timedelta(days=rng.choice((0, 0, 0, 1, 2, -1, 3)))

    for iso3 in COUNTRIES:
        runs = level_runs(levels.get(iso3, {}), FIRST, LAST)
        for level, start, end in runs:
            lifted = end + timedelta(days=1) if end < LAST else None
            start, lifted = jitter(start), (jitter(lifted) if lifted else None)
            if lifted is not None and rng.random() < 0.35:  # a lifting recorded weeks late
                lifted += timedelta(days=rng.randint(7, 28))
            if lifted is not None and lifted <= start:
                continue
            if level == 4:
                if rng.random() < 0.12:  # coded as a flight suspension: a partial restriction for IOM
                    add(iso3, "entry_restriction", "flight_suspension", start, lifted)
                else:
                    add(iso3, "entry_restriction", "complete_closure", start, lifted,
                        exceptions=" ".join(rng.sample(["nationals", "residents", "diplomats", "health_workers",
                                                        "transport_workers", "humanitarian_staff"], 3)))
                if rng.random() < 0.2:
                    add(iso3, "exit_restriction", "", start, lifted)
            elif level == 3 and rng.random() < 0.2:  # read as a quarantine requirement only
                add(iso3, "entry_condition", "quarantine", start, lifted)
            elif level == 3:
                sub = rng.choice(["nationality_ban", "border_closure", "visa_suspension", "flight_suspension"])
                listed = sub == "nationality_ban"
                add(iso3, "entry_restriction", sub, start, lifted, applies_to="listed" if listed else "all",
                    nationality_countries=" ".join(sorted(rng.sample(["CHN", "IRN", "ITA", "KOR", "ESP", "GBR",
                                                                      "BRA", "USA", "ZAF"], 3))) if listed else "")
                if rng.random() < 0.6:
                    add(iso3, "entry_condition", "quarantine", start, lifted)
            elif level in (1, 2) and rng.random() < 0.9:  # a tenth of these runs go unrecorded: no restriction
                add(iso3, "entry_condition", "health_screening" if level == 1 else "quarantine", start, lifted)
        # The second half of 2020: conditions for authorised entry that outlive the restrictions.
        add(iso3, "entry_condition", "negative_test", date(2020, 7, 1) + timedelta(days=rng.randint(0, 100)), None)
        if rng.random() < 0.6:
            add(iso3, "entry_condition", "passenger_locator_form",
                date(2020, 8, 1) + timedelta(days=rng.randint(0, 90)), None)
        if rng.random() < 0.3:
            add(iso3, "entry_condition", "health_app", date(2020, 9, 1) + timedelta(days=rng.randint(0, 60)), None)
    _write_csv(path, MEASURE_FIELDS, rows)
    return path


# ---- points of entry -----------------------------------------------------------------------------------------

def _rings(geometry: dict) -> list[list[list[float]]]:
    polys = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    return [ring for poly in polys for ring in poly[:1]]  # outer rings


def _inside(lon: float, lat: float, rings: list[list[list[float]]]) -> bool:
    """Ray casting over the outer rings (even-odd)."""
    hit = False
    for ring in rings:
        j = len(ring) - 1
        for i in range(len(ring)):
            (xi, yi), (xj, yj) = ring[i], ring[j]
            if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
                hit = not hit
            j = i
    return hit


def _inward(lon: float, lat: float, ring: list[list[float]], rings: list, rng: random.Random) -> tuple[float, float]:
    """A point just inside the outline, moved from a border vertex towards the ring's centre."""
    cx = sum(p[0] for p in ring) / len(ring)
    cy = sum(p[1] for p in ring) / len(ring)
    for step in (0.25, 0.15, 0.08, 0.04, 0.02):
        d = ((cx - lon) ** 2 + (cy - lat) ** 2) ** 0.5 or 1
        f = step * rng.uniform(0.6, 1.2) / d
        x, y = lon + (cx - lon) * f, lat + (cy - lat) * f
        if _inside(x, y, rings):
            return round(x, 4), round(y, 4)
    return round(lon, 4), round(lat, 4)


def _border_vertices(iso3: str, world: dict[str, dict]) -> tuple[dict[str, list], list]:
    """Vertices of a country's outline shared with each neighbour (TopoJSON arcs are shared), and the rest."""
    owner: dict[tuple[float, float], str] = {}
    for code, f in world.items():
        if code != iso3 and f["geometry"]:
            for ring in _rings(f["geometry"]):
                for x, y in ring:
                    owner[(round(x, 6), round(y, 6))] = code
    shared: dict[str, list] = {}
    coast: list = []
    for ring in _rings(world[iso3]["geometry"]):
        for x, y in ring[:-1]:
            other = owner.get((round(x, 6), round(y, 6)))
            (shared.setdefault(other, []) if other else coast).append((x, y, ring))
    return shared, coast


def generate_poes(path: Path, *, seed: int = 2020) -> Path:
    """About 150 points of entry over COUNTRIES (see the module docstring)."""
    import pycountry

    from passage.places.topojson import world_countries

    rng = random.Random(seed)
    world = world_countries()
    rows: list[dict[str, Any]] = []
    for iso3 in COUNTRIES:
        name = pycountry.countries.get(alpha_3=iso3).name
        rings = _rings(world[iso3]["geometry"])
        shared, coast = _border_vertices(iso3, world)
        n = 0

        def add(kind: str, label: str, lon: float, lat: float, iso3: str = iso3, **extra: Any) -> None:
            nonlocal n
            n += 1
            rows.append({"code": f"{iso3}-{kind}-{n:03d}", "name": label, "iso3": iso3, "latitude": lat,
                         "longitude": lon, **extra})

        for iata, city, lat, lon in AIRPORTS[iso3]:
            add("AP", f"{city} International Airport", lon, lat, poe_type="airport", iata_code=iata)
        neighbours = sorted(shared, key=lambda c: -len(shared[c]))
        for k in range(8 if neighbours else 0):
            other = neighbours[k % len(neighbours)]
            x, y, ring = rng.choice(shared[other])
            lon, lat = _inward(x, y, ring, rings, rng)
            other_name = pycountry.countries.get(alpha_3=other)
            add("LB", f"{name} – {other_name.name if other_name else other} crossing {k + 1}", lon, lat,
                poe_type="land_border", neighbour_iso3=other)
        kind = BLUE[iso3]
        blue = 9 if not neighbours else 3
        for k in range(blue):
            if kind == "sea" and coast:
                x, y, ring = rng.choice(coast)
                other = ""
            else:
                other = neighbours[k % len(neighbours)]
                x, y, ring = rng.choice(shared[other])
            lon, lat = _inward(x, y, ring, rings, rng)
            add("BB", f"{name} {kind} port {k + 1}", lon, lat, poe_type="blue_border", blue_border_kind=kind,
                neighbour_iso3=other)
        xs = [p[0] for r in rings for p in r]
        ys = [p[1] for r in rings for p in r]
        for k in range(rng.randint(1, 2)):
            for _ in range(200):
                lon, lat = rng.uniform(min(xs), max(xs)), rng.uniform(min(ys), max(ys))
                if _inside(lon, lat, rings):
                    break
            add("IT", f"{name} internal transit point {k + 1}", round(lon, 4), round(lat, 4),
                poe_type="internal_transit")
    _write_csv(path, POE_FIELDS, rows)
    return path


STATUS_WEIGHTS = {  # level -> (fully_closed, partially_operational, fully_operational, unknown)
    4: (0.75, 0.2, 0.02, 0.03), 3: (0.2, 0.6, 0.17, 0.03), 2: (0.05, 0.4, 0.52, 0.03), 1: (0.02, 0.25, 0.7, 0.03),
    0: (0.01, 0.08, 0.88, 0.03)}


def generate_assessments(path: Path, registry: Path, levels: dict[str, dict[date, int]], *,
                         seed: int = 2020) -> Path:
    """Assessments of each PoE every two to five weeks from spring 2020, following the country's level."""
    rng = random.Random(seed)
    with registry.open(encoding="utf-8", newline="") as fh:
        poes = list(csv.DictReader(fh))
    rows = []
    for p in poes:
        day = date(2020, 3, 16) + timedelta(days=rng.randint(0, 60))
        while day <= ASSESS_LAST:
            level = levels.get(p["iso3"], {}).get(day, 0)
            status = rng.choices(("fully_closed", "partially_operational", "fully_operational", "unknown"),
                                 STATUS_WEIGHTS[level])[0]
            entry = {"fully_closed": "yes", "partially_operational": "yes", "fully_operational": "no",
                     "unknown": "unknown"}[status]
            rows.append({"poe_code": p["code"], "assessment_date": day.isoformat(), "operational_status": status,
                         "entry_restrictions": entry, "exit_restrictions": rng.choice(("yes", "no", "no", "unknown")),
                         "measures": " ".join(m for m in POE_MEASURES if rng.random() < 0.35),
                         "populations": " ".join(m for m in POPULATIONS if rng.random() < 0.3), "iso3": p["iso3"]})
            day += timedelta(days=rng.randint(14, 35))
    _write_csv(path, ASSESSMENT_FIELDS, rows)
    return path


def _write_csv(path: Path, fields: list[str], rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows({f: r.get(f, "") for f in fields} for r in rows)


# ---- loading --------------------------------------------------------------------------------------------------

UNPUBLISHED = ("UGA",)  # left unreleased: only editors for it and admins see it
DATASET_FORMS = {"travel_levels": "travel_level", "travel_measures": "travel_measure",
                 "points_of_entry": "poe_assessment"}


def load_demo(store: Store, work_dir: Path, *, user: str = "demo", seed: int = 2020,
              progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Write the generated files under `work_dir` and import them with the OxCGRT subset."""
    from passage.findings import expect_accepted
    from passage.ingest import import_files
    from passage.plugins import install_pack

    say = progress or (lambda msg: None)
    work_dir = Path(work_dir)
    install_pack(store, "travel")
    levels = oxcgrt_levels()
    files = {"travel_level": ("oxcgrt", OXCGRT_FILE),
             "travel_measure": ("xlsform-data", generate_measures(work_dir / "iom_measures.csv", levels, seed=seed)),
             "poe": ("xlsform-data", generate_poes(work_dir / "poe_registry.csv", seed=seed))}
    files["poe_assessment"] = ("xlsform-data", generate_assessments(work_dir / "poe_assessments.csv",
                                                                    files["poe"][1], levels, seed=seed))
    counts = {}
    for form, (kind, path) in files.items():
        result = expect_accepted(import_files(store, kind, [path], form_id=form, user=user), f"the demo's {path.name}")
        counts[form] = result.inserted
        say(f"{form}: {result.inserted} records from {path.name}")
    return counts


def publish_demo(store: Store, *, user: str = "demo", unpublished: tuple[str, ...] = UNPUBLISHED) -> int:
    """Release every travel dataset for each of its countries but `unpublished`; returns the number of releases."""
    from passage.releases import publish

    n = 0
    for dataset, form in DATASET_FORMS.items():
        for (iso3,) in store.query(f"SELECT DISTINCT iso3 FROM {form} WHERE iso3 IS NOT NULL ORDER BY iso3"):
            if iso3 not in unpublished:
                publish(store, dataset, iso3, user=user, note="demo release")
                n += 1
    return n
