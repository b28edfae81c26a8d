"""Who sees what, through every channel: the role matrix over a running portal.

The demo holds Afghanistan unpublished, Nigeria, South Sudan and Chad released. Here an editor for Nigeria
changes a Nigerian figure after its release, so Nigeria also has an unpublished change. Every actor then
looks at the three countries through the API (records, indicators, exports) and the pages (country page,
records page, record page, download), and must see exactly what the table below says. Editors are then
held to their places when they import, edit or publish, and a restricted dataset is shown only to readers
whose places it covers.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import quote

import httpx
import pytest

from dtm_rows import api_rows, write_csv
from passage.releases import set_visibility
from passage.store import open_store

RECORDS = "/api/v1/datasets/dtm_idps/records"
PLACE = "NG008001"  # Abadam, Borno: the Nigerian place whose latest figure is changed after the release
BUMP = 1_000_000  # added to one of its records: a figure no released number can be mistaken for

ACTORS = ("public", "admin", "editor-nga", "editor-tcd", "viewer-ssd", "token-nga")
CHANNELS = ("api-records", "api-indicators", "api-export-csv", "country-page", "records-page", "record-page",
            "download")

# What each actor sees, whatever the channel:
#   AFG: "visible" / "hidden"                     (never released)
#   NGA: "edited" / "released" (the figure at the release) (released, then changed by editor-nga)
#   TCD: "visible" / "hidden"                     (released)
EXPECT = {
    #  actor          AFG        NGA         TCD
    "public":       ("hidden",  "released", "visible"),
    "admin":        ("visible", "edited",   "visible"),
    "editor-nga":   ("hidden",  "edited",   "visible"),
    "editor-tcd":   ("hidden",  "released", "visible"),
    "viewer-ssd":   ("hidden",  "released", "visible"),
    "token-nga":    ("hidden",  "edited",   "visible"),
}
SUBJECTS = ("AFG", "NGA", "TCD")


# ---- reading pages ------------------------------------------------------------------------------------------

class _Tables(HTMLParser):
    """Every <table> of a page as {id, class, head, rows} with cell texts (links' hrefs kept per row)."""

    def __init__(self):
        super().__init__()
        self.tables: list[dict] = []
        self._cell: list[str] | None = None
        self._section = "body"

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.tables.append({"id": a.get("id"), "class": a.get("class") or "", "head": [], "rows": [],
                                "links": []})
        elif not self.tables:
            return
        elif tag in ("thead", "tbody"):
            self._section = tag
        elif tag == "tr" and self._section == "tbody":
            self.tables[-1]["rows"].append([])
            self.tables[-1]["links"].append([])
        elif tag in ("td", "th"):
            self._cell = []
            self._column = a.get("data-column")  # the records page heads columns by label, names them here
        elif tag == "a" and self._section == "tbody" and self.tables[-1]["links"]:
            self.tables[-1]["links"][-1].append(a.get("href"))

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.tables:
            text = "".join(self._cell).strip()
            if self._section == "thead" and getattr(self, "_column", None):
                text = self._column
            t = self.tables[-1]
            (t["head"] if self._section == "thead" else t["rows"][-1] if t["rows"] else t["head"]).append(text)
            self._cell = None
        elif tag == "thead":
            self._section = "body"


def html_tables(html: str) -> list[dict]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def number(text: str) -> int:
    return int(re.sub(r"[^\d-]", "", text))


def csrf_of(client: httpx.Client) -> str:
    """The token for changes: a signed-in user's from `<body hx-headers>`, the anonymous one from a form."""
    page = client.get("/login")
    return page.text.split('name="csrf_token" value="')[1].split('"')[0]


# ---- the scene: a released Nigerian figure changed afterwards ----------------------------------------------

@dataclass
class Scene:
    clients: dict[str, httpx.Client]
    nga_id: str
    nga_round: int
    released_value: int
    edited_value: int
    released_sum: int  # the place's figure in that round (over every reason and origin), at the release
    afg_id: str
    tcd_id: str

    @property
    def edited_sum(self) -> int:
        return self.released_sum + BUMP

    def nga_label(self, total: int | None) -> str:
        labels = {self.edited_sum: "edited", self.released_sum: "released", None: "hidden"}
        assert total in labels, f"{total} is neither the released {self.released_sum} nor the edited figure"
        return labels[total]


def sign_in(portal, user: str) -> httpx.Client:
    return portal.client(user)


@pytest.fixture(scope="module")
def scene(portal) -> Scene:
    clients = {"public": portal.client(), **{u: sign_in(portal, u) for u in ACTORS if u not in ("public",
                                                                                                 "token-nga")}}
    nga = clients["editor-nga"]
    r = nga.post("/api/v1/tokens", data={"name": "matrix"}, headers={"X-CSRF-Token": csrf_of(nga)})
    clients["token-nga"] = httpx.Client(base_url=portal.url, timeout=60,
                                        headers={"Authorization": f"Bearer {r.json()['token']}"})

    admin = clients["admin"]
    place_rows = admin.get(RECORDS, params={"place": PLACE, "level": 2, "limit": 1000}).json()["data"]
    latest = max(x["round_number"] for x in place_rows)
    in_round = [x for x in place_rows if x["round_number"] == latest]
    target = in_round[0]
    released_sum = sum(x["num_present_idp_ind"] for x in in_round)
    edited = target["num_present_idp_ind"] + BUMP
    r = nga.post(f"/records/dtm_idps/{quote(target['_record_id'], safe='')}",
                 data={"csrf_token": csrf_of(nga), "f_num_present_idp_ind": str(edited)})
    assert r.status_code == 303, r.text[:300]

    afg = admin.get(RECORDS, params={"country": "AFG", "level": 2, "limit": 1}).json()["data"]
    tcd = clients["public"].get(RECORDS, params={"country": "TCD", "level": 2, "limit": 1}).json()["data"]
    return Scene(clients, target["_record_id"], latest, target["num_present_idp_ind"], edited, released_sum,
                 afg[0]["_record_id"], tcd[0]["_record_id"])


# ---- one observation per channel ----------------------------------------------------------------------------

def _export_rows(client: httpx.Client, path: str, iso3: str) -> list[dict]:
    r = client.get(path, params={"format": "csv", "country": iso3})
    assert r.status_code == 200, r.text[:300]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert all(x["admin0Pcode"] == iso3 for x in rows)
    return rows


def _export_figure(rows: list[dict], scene: Scene) -> int | None:
    mine = [x for x in rows if x["admin2Pcode"] == PLACE and int(x["roundNumber"]) == scene.nga_round]
    return sum(int(x["numPresentIdpInd"]) for x in mine) if mine else None


def _records_table(client: httpx.Client, **params) -> tuple[list[str], list[list[str]], list[list[str]]]:
    r = client.get("/datasets/dtm_idps/records", params=params)
    assert r.status_code == 200, r.text[:300]
    table = next(t for t in html_tables(r.text) if "records-table" in t["class"])
    rows = [(row, links) for row, links in zip(table["rows"], table["links"]) if links]  # "No records." has none
    return table["head"], [row for row, _ in rows], [links for _, links in rows]


def observe(channel: str, client: httpx.Client, subject: str, scene: Scene) -> str:
    """What `client` sees of `subject` through `channel`: visible/hidden, or edited/released/hidden for NGA."""
    nga = subject == "NGA"
    if channel == "api-records":
        if nga:
            rows = client.get(RECORDS, params={"place": PLACE, "round": scene.nga_round}).json()["data"]
            return scene.nga_label(sum(x["num_present_idp_ind"] for x in rows) if rows else None)
        rows = client.get(RECORDS, params={"country": subject, "limit": 5}).json()["data"]
        assert all(x["admin0_pcode"] == subject for x in rows)
        return "visible" if rows else "hidden"
    if channel == "api-indicators":
        if nga:
            rows = client.get("/api/v1/indicators/idps", params={"place": PLACE, "round": scene.nga_round,
                                                                  "level": 2}).json()["data"]
            return scene.nga_label(sum(x["value"] for x in rows) if rows else None)
        rows = client.get("/api/v1/indicators/idps", params={"country": subject, "level": 1}).json()["data"]
        return "visible" if rows else "hidden"
    if channel in ("api-export-csv", "download"):
        path = "/api/v1/exports/dtm_idps" if channel == "api-export-csv" else "/download/dtm_idps"
        rows = _export_rows(client, path, subject)
        if nga:
            return scene.nga_label(_export_figure(rows, scene))
        return "visible" if rows else "hidden"
    if channel == "country-page":
        r = client.get(f"/countries/{subject}", params={"level": 2})
        assert r.status_code == 200, r.text[:300]
        table = next(t for t in html_tables(r.text) if t["id"] == "place-table")
        figures = {row[1]: number(row[2]) for row in table["rows"] if len(row) == 3}
        if nga:
            return scene.nga_label(figures.get(PLACE))
        return "visible" if figures else "hidden"
    if channel == "records-page":
        if nga:
            head, rows, _ = _records_table(client, place=PLACE, round=scene.nga_round)
            col = head.index("num_present_idp_ind")
            return scene.nga_label(sum(number(row[col]) for row in rows) if rows else None)
        head, rows, _ = _records_table(client, country=subject)
        assert all(row[head.index("admin0_pcode")] == subject for row in rows)
        return "visible" if rows else "hidden"
    if channel == "record-page":
        record_id = {"AFG": scene.afg_id, "NGA": scene.nga_id, "TCD": scene.tcd_id}[subject]
        r = client.get(f"/records/dtm_idps/{quote(record_id, safe='')}")
        if r.status_code == 404:
            return "hidden"
        assert r.status_code == 200, r.text[:300]
        if not nga:
            return "visible"
        shown = number(re.search(r'data-field="num_present_idp_ind"[^>]*>([^<]*)<', r.text).group(1))
        if shown != scene.edited_value:  # nothing of the change leaks anywhere on the page
            assert str(scene.edited_value) not in r.text and f"{scene.edited_value:,}" not in r.text
        label = {scene.edited_value: "edited", scene.released_value: "released"}[shown]
        return label
    raise AssertionError(channel)


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("subject", SUBJECTS)
def test_each_actor_sees_exactly_its_share(scene, actor, channel, subject):
    expected = EXPECT[actor][SUBJECTS.index(subject)]
    assert observe(channel, scene.clients[actor], subject, scene) == expected


# ---- editors stay inside their places -----------------------------------------------------------------------

# actor, action, country, expected status, expected code (error code, or the import report's finding)
SCOPE = [
    ("editor-nga", "edit", "TCD", 403, "forbidden"),
    ("editor-nga", "edit", "AFG", 403, "forbidden"),
    ("editor-tcd", "edit", "NGA", 403, "forbidden"),
    ("viewer-ssd", "edit", "TCD", 403, "forbidden"),
    ("token-nga", "edit", "TCD", 403, "forbidden"),
    ("public", "edit", "TCD", 401, "auth.required"),  # the public is told to sign in, as for publish and import
    ("editor-nga", "publish", "TCD", 403, "forbidden"),
    ("editor-nga", "publish", "AFG", 403, "forbidden"),
    ("editor-tcd", "publish", "NGA", 403, "forbidden"),
    ("viewer-ssd", "publish", "SSD", 403, "forbidden"),
    ("token-nga", "publish", "TCD", 403, "forbidden"),
    ("public", "publish", "NGA", 401, "auth.required"),
    ("editor-nga", "import", "TCD", 422, "out-of-scope"),
    ("editor-tcd", "import", "NGA", 422, "out-of-scope"),
    ("token-nga", "import", "TCD", 422, "out-of-scope"),
    ("viewer-ssd", "import", "NGA", 403, "forbidden"),
    ("public", "import", "NGA", 401, "auth.required"),
]
IMPORT_ROWS = {
    "NGA": api_rows("NGA", [(2, "NG008", "Borno", "NG008001", "Abadam", 90, "2025-01-31", "Conflict", 10, None,
                             None)]),
    "TCD": api_rows("TCD", [(2, "TD07", "Lac", "TD0704", "Mamdi", 90, "2025-01-31", "Conflict", 10, None, None)]),
}


def _state(scene: Scene) -> tuple:
    """What refused changes must leave as it was: releases, counts per country, the TCD record."""
    admin = scene.clients["admin"]
    counts = {c["code"]: c["records"] for c in admin.get("/api/v1/countries").json()["data"]}
    releases = [r["release_id"] for r in admin.get("/api/v1/releases").json()["data"]]
    tcd = admin.get(f"/api/v1/records/dtm_idps/{quote(scene.tcd_id, safe='')}").json()["record"]
    return counts, releases, tcd["num_present_idp_ind"], tcd["_version"]


@pytest.mark.parametrize(("actor", "action", "country", "status", "code"), SCOPE,
                         ids=[f"{a}-{b}-{c}" for a, b, c, *_ in SCOPE])
def test_changes_outside_ones_places_are_refused(scene, tmp_path, actor, action, country, status, code):
    client = scene.clients[actor]
    headers = {} if actor == "token-nga" else {"X-CSRF-Token": csrf_of(client)}
    before = _state(scene)
    if action == "edit":
        record_id = {"TCD": scene.tcd_id, "AFG": scene.afg_id, "NGA": scene.nga_id}[country]
        r = client.post(f"/records/dtm_idps/{quote(record_id, safe='')}",
                        data={"csrf_token": headers.get("X-CSRF-Token", ""), "f_num_present_idp_ind": "1"})
    elif action == "publish":
        r = client.post("/api/v1/datasets/dtm_idps/releases", data={"country": country}, headers=headers)
    else:
        path = write_csv(tmp_path / f"{country.lower()}-r90.csv", IMPORT_ROWS[country])
        with path.open("rb") as fh:
            r = client.post("/api/v1/imports", data={"kind": "dtm"}, headers=headers,
                            files={"file": (path.name, fh, "text/csv")})
    assert r.status_code == status, r.text[:500]
    body = r.json()
    if status == 422:
        assert body["status"] == "rejected" and body["inserted"] == 0
        assert code in {f["code"] for f in body["report"]["findings"] if f["severity"] == "error"}
    else:
        assert body["error"]["code"] == code
    assert _state(scene) == before


def test_editors_may_read_provenance_of_their_places_only(scene):
    path = f"/api/v1/records/dtm_idps/{quote(scene.nga_id, safe='')}"
    versions = {a: scene.clients[a].get(path).json()["versions"] for a in ACTORS}
    assert [(v["_version"], v["_user"]) for v in versions["editor-nga"]] == [(1, "demo"), (2, "editor-nga")]
    assert versions["admin"] == versions["token-nga"] == versions["editor-nga"]
    assert versions["public"] is versions["editor-tcd"] is versions["viewer-ssd"] is None
    afg = f"/api/v1/records/dtm_idps/{quote(scene.afg_id, safe='')}"
    assert {a: scene.clients[a].get(afg).status_code for a in ACTORS} == \
        {a: 200 if a == "admin" else 404 for a in ACTORS}


def test_after_the_release_everyone_sees_the_change(scene):
    """Last in this module: editor-nga publishes Nigeria, and the change reaches every reader."""
    nga = scene.clients["editor-nga"]
    r = nga.post("/datasets/dtm_idps/publish", data={"country": "NGA", "csrf_token": csrf_of(nga)})
    assert r.status_code == 303
    for actor in ACTORS:
        for channel in ("api-records", "records-page", "api-export-csv"):
            assert observe(channel, scene.clients[actor], "NGA", scene) == "edited", (actor, channel)
        assert observe("api-records", scene.clients[actor], "AFG", scene) == EXPECT[actor][0]


# ---- a restricted dataset --------------------------------------------------------------------------------------

# Countries each reader sees once `dtm_idps` is restricted: viewers and editors inside their places only.
RESTRICTED = {
    "public": set(),
    "admin": {"AFG", "NGA", "SSD", "TCD"},
    "editor-nga": {"NGA"},
    "editor-tcd": {"TCD"},
    "viewer-ssd": {"SSD"},
}
ALL = ("AFG", "NGA", "SSD", "TCD")


@pytest.fixture(scope="module")
def restricted(seeded_portal_store, tmp_path_factory):
    """A second portal over a copy where the DTM dataset is restricted, with an unpublished South Sudan edit."""
    from portal import copy_store, serve

    path, accounts = seeded_portal_store
    copy = copy_store(path, tmp_path_factory.mktemp("restricted"))
    with open_store(str(copy)) as store:
        set_visibility(store, "dtm_idps", "restricted")
    running = serve(str(copy), accounts)
    clients = {u: running.client(None if u == "public" else u) for u in RESTRICTED}
    admin = clients["admin"]
    ssd = admin.get(RECORDS, params={"country": "SSD", "level": 2, "limit": 1}).json()["data"][0]
    r = admin.post(f"/records/dtm_idps/{quote(ssd['_record_id'], safe='')}",
                   data={"csrf_token": csrf_of(admin), "f_num_present_idp_ind": str(ssd["num_present_idp_ind"] + BUMP)})
    assert r.status_code == 303
    yield clients, ssd
    running.stop()


def _restricted_view(channel: str, client: httpx.Client) -> set[str]:
    if channel == "api-countries":
        r = client.get("/api/v1/countries")
        return set() if r.status_code == 404 else {c["code"] for c in r.json()["data"]}
    if channel == "api-records":
        seen = set()
        for iso3 in ALL:
            r = client.get(RECORDS, params={"country": iso3, "limit": 1})
            if r.status_code != 404 and r.json()["data"]:
                seen.add(iso3)
        return seen
    if channel == "records-page":
        seen = set()
        for iso3 in ALL:
            r = client.get("/datasets/dtm_idps/records", params={"country": iso3})
            if r.status_code != 404 and any(t["links"] and any(t["links"]) for t in html_tables(r.text)):
                seen.add(iso3)
        return seen
    if channel == "api-export-csv":
        r = client.get("/api/v1/exports/dtm_idps", params={"format": "csv"})
        return set() if r.status_code == 404 else {x["admin0Pcode"] for x in csv.DictReader(io.StringIO(r.text))}
    raise AssertionError(channel)


@pytest.mark.parametrize("channel", ["api-countries", "api-records", "records-page", "api-export-csv"])
@pytest.mark.parametrize("actor", list(RESTRICTED))
def test_a_restricted_dataset_shows_only_inside_ones_places(restricted, actor, channel):
    clients, _ = restricted
    assert _restricted_view(channel, clients[actor]) == RESTRICTED[actor]


def test_the_public_is_not_told_a_restricted_dataset_exists(restricted):
    clients, ssd = restricted
    public = clients["public"]
    assert "dtm_idps" not in {d["name"] for d in public.get("/api/v1/datasets").json()["data"]}
    assert "dtm_idps" not in {t["name"] for t in public.get("/api/v1/exports").json()["data"]}
    for path in ("/api/v1/datasets/dtm_idps", RECORDS, "/api/v1/indicators/idps", "/api/v1/exports/dtm_idps",
                 "/api/v1/countries/NGA/map", f"/api/v1/records/dtm_idps/{quote(ssd['_record_id'], safe='')}",
                 "/datasets/dtm_idps", "/datasets/dtm_idps/records", "/countries/NGA", "/download/dtm_idps"):
        r = public.get(path)
        assert r.status_code == 404, path
        assert r.json()["error"]["code"] == "not_found", path
    assert "dtm_idps" not in public.get("/datasets").text
    assert "dtm_idps" in clients["viewer-ssd"].get("/datasets").text


def test_a_viewer_sees_the_released_figure_of_a_restricted_dataset(restricted):
    clients, ssd = restricted
    path = f"/api/v1/records/dtm_idps/{quote(ssd['_record_id'], safe='')}"
    assert clients["viewer-ssd"].get(path).json()["record"]["num_present_idp_ind"] == ssd["num_present_idp_ind"]
    assert clients["admin"].get(path).json()["record"]["num_present_idp_ind"] == ssd["num_present_idp_ind"] + BUMP
    assert clients["viewer-ssd"].get(path).json()["versions"] is None
    assert clients["editor-nga"].get(path).status_code == 404
