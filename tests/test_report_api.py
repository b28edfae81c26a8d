"""The annual report's API and its PDF in the background: the figures under /api/v1 equal the page's, bearer tokens
read them in the reader's scope, the PDF answers 202 ("preparing") and then the PDF, and requests at the same time
start one build. The PDF is printed once in this module (it takes seconds)."""

from __future__ import annotations

import threading
import time
from contextlib import closing

from lxml import html as lhtml

from passage.packs.institutional.report import web as report_web
from passage.packs.institutional.report.pdf_jobs import PdfBuilds

YEAR = 2020


def _page_figures(client, year: int, headers: dict | None = None) -> dict[str, tuple[str, str, str]]:
    """name -> (the text the page prints, its note id, the note's text), read from the portal page's HTML."""
    r = client.get(f"/reports/annual/{year}", headers={"accept": "text/html", **(headers or {})})
    assert r.status_code == 200, r.text[:300]
    doc = lhtml.fromstring(r.text)
    out = {}
    for span in doc.xpath("//article[contains(@class, 'passage-report')]//span[contains(@class, 'rpt-figure')]"):
        note = span.get("data-note")
        li = doc.get_element_by_id(note)
        text = span.xpath(".//span[@class='rpt-value']")[0].text_content()
        out[span.get("data-indicator")] = (text, note, " ".join(li.text_content().split()))
    return out


def _csrf(client) -> str:
    page = client.get("/login")
    return page.text.split('name="csrf_token" value="')[1].split('"')[0]


def test_api_figures_equal_the_page_figures(portal):
    with closing(portal.client("admin")) as c:
        page = _page_figures(c, YEAR)
        r = c.get(f"/api/v1/reports/annual/{YEAR}/figures")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["year"] == YEAR and body["language"] == "en"
    api = {f["name"]: f for f in body["figures"]}
    assert len(api) >= 20 and set(api) == set(page)
    for name, (text, note, note_text) in page.items():
        f = api[name]
        assert (f["text"], f"note-{f['note']}", f["note_text"]) == (text, note, note_text), name
        assert f["label"] and f["label"] in note_text
    assert [f["note"] for f in body["figures"]] == sorted(f["note"] for f in body["figures"])
    revenue = api["revenue"]["provenance"]
    assert "/records/finance/finance-2020" in revenue["records"] and revenue["record_count"] == 2
    assert any("finance-demo.csv" in s for s in revenue["sources"])
    submitted = api["offices_submitted"]
    assert submitted["provenance"]["record_count"] == submitted["value"] > 0
    assert {x["rule"] for x in body["failures"]} >= {"table4.percentage"}


def test_bearer_tokens_read_the_figures_in_the_readers_scope(portal):
    """A token reads what its user reads on the page; the public is told to sign in; the language follows the
    request's, country names included (CLDR's)."""
    year = 2021  # the demo's DTM rounds start in 2021
    with closing(portal.client()) as public:
        assert public.get(f"/api/v1/reports/annual/{year}/figures").status_code == 401
    with closing(portal.client("viewer-ssd")) as viewer:
        made = viewer.post("/api/v1/tokens", data={"name": "report"}, headers={"X-CSRF-Token": _csrf(viewer)})
        assert made.status_code == 201, made.text
        page = _page_figures(viewer, year)
    token = {"Authorization": f"Bearer {made.json()['token']}"}
    with closing(portal.client()) as c:
        r = c.get(f"/api/v1/reports/annual/{year}/figures", headers=token)
        assert r.status_code == 200
        mine = {f["name"]: f["text"] for f in r.json()["figures"]}
        assert mine == {name: text for name, (text, _, _) in page.items()}
        assert "idps_total" in mine
        fr = c.get(f"/api/v1/reports/annual/{year}/figures", headers={**token, "Accept-Language": "fr"}).json()
    assert fr["language"] == "fr"
    countries = next(f for f in fr["figures"] if f["name"] == "idps_countries")["definition"]
    assert "Soudan du Sud" in countries and "SSD" not in countries
    with closing(portal.client("admin")) as admin:
        everything = {f["name"]: f for f in admin.get(f"/api/v1/reports/annual/{year}/figures").json()["figures"]}
    assert everything["idps_countries"]["value"] >= int(mine["idps_countries"])


def test_the_pdf_is_prepared_in_the_background_once_then_served(portal):
    """The first requests (a browser's and an API client's, at the same time) both answer 202 and start one build;
    asking again (bounded) gets the PDF; the finished PDF is served at once afterwards."""
    app_portal = portal.server.config.app.state.portal
    url = f"/api/v1/reports/annual/{YEAR}/report.pdf"
    with closing(portal.client("admin")) as c:
        c.get("/")  # signed in; the builds of this portal start with this test
        before = report_web._builds.get(app_portal).builds_started if app_portal in report_web._builds else 0
        start = threading.Barrier(2)
        answers: dict[str, object] = {}

        def ask(name: str, path: str, accept: str) -> None:
            start.wait()
            answers[name] = c.get(path, headers={"accept": accept})

        threads = [threading.Thread(target=ask, args=("page", f"/reports/annual/{YEAR}/report.pdf", "text/html")),
                   threading.Thread(target=ask, args=("api", url, "application/json"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        page, api = answers["page"], answers["api"]
        assert page.status_code == api.status_code == 202
        assert 'http-equiv="refresh"' in page.text and "being prepared" in page.text
        assert api.json()["status"] == "preparing" and api.json()["state"] in ("queued", "building")
        assert int(api.headers["retry-after"]) > 0
        for _ in range(1200):
            r = c.get(url)
            if r.status_code != 202:
                break
            assert r.json()["status"] == "preparing"
            time.sleep(0.25)
        assert r.status_code == 200 and r.content[:4] == b"%PDF"
        assert r.headers["content-type"] == "application/pdf"
        assert report_web._builds[app_portal].builds_started - before == 1, "two requests, one build"
        again = c.get(f"/reports/annual/{YEAR}/report.pdf", headers={"accept": "text/html"})
        assert again.status_code == 200 and again.content == r.content
        shown = c.get(f"/reports/annual/{YEAR}", headers={"accept": "text/html"}).text
        assert "Download the PDF" in shown and "being prepared" not in shown.split("<article")[0]


# ---- the build registry itself, with a printer the test holds back -------------------------------------------

def _held_printer():
    release, calls = threading.Event(), []

    def make_pdf(html: str, progress) -> tuple[bytes, int]:
        calls.append(html)
        progress("layout")
        assert release.wait(30)
        return b"%PDF " + html.encode(), 1

    return release, calls, make_pdf


def test_one_build_per_key_and_a_new_generation_builds_anew():
    builds = PdfBuilds()
    release, calls, make_pdf = _held_printer()
    jobs = []
    ready = threading.Barrier(8)

    def ask():
        ready.wait()
        jobs.append(builds.request((5, YEAR, "en", "admin"), lambda: "gen 5", make_pdf))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(j) for j in jobs}) == 1 and jobs[0].state in ("queued", "building")
    release.set()
    assert jobs[0].done.wait(30)
    assert jobs[0].state == "ready" and jobs[0].data == b"%PDF gen 5" and calls == ["gen 5"]
    assert builds.request((5, YEAR, "en", "admin"), lambda: "again", make_pdf) is jobs[0]  # served, not rebuilt
    release.clear()
    other = builds.request((5, YEAR, "fr", "admin"), lambda: "gen 5 fr", make_pdf)  # another language: its own
    assert other is not jobs[0]
    newer = builds.request((6, YEAR, "en", "admin"), lambda: "gen 6", make_pdf)  # the data changed
    assert newer is not jobs[0]
    assert builds.get((5, YEAR, "en", "admin")) is None, "an older generation's PDF is not served again"
    release.set()
    for job in (other, newer):
        assert job.done.wait(30)
    assert newer.state == "ready" and newer.data == b"%PDF gen 6"
    # the French one of generation 5 was built before the data changed, or skipped if it was still waiting
    assert (other.state, builds.builds_started) in (("ready", 3), ("failed", 2))
    assert builds.get((5, YEAR, "fr", "admin")) is None


def test_a_failed_build_says_why_and_the_next_request_builds_again():
    builds = PdfBuilds()

    def broken(html: str, progress):
        raise ValueError("no fonts")

    job = builds.request((1, YEAR, "en", "admin"), lambda: "x", broken)
    assert job.done.wait(30) and job.state == "failed" and "no fonts" in job.status()["error"]
    again = builds.request((1, YEAR, "en", "admin"), lambda: "x", lambda html, progress: (b"%PDF", 1))
    assert again is not job and again.done.wait(30) and again.state == "ready"


def test_builds_wait_in_a_bounded_queue_and_few_pdfs_are_kept():
    from passage.packs.institutional.report.pdf_jobs import PdfBusy

    builds = PdfBuilds(max_waiting=2, max_kept=2)
    release, _calls, make_pdf = _held_printer()
    first = builds.request((1, 2001, "en", "admin"), lambda: "2001", make_pdf)
    for _ in range(3000):  # the worker takes it (and holds it until released)
        if first.state != "queued":
            break
        first.done.wait(0.01)
    assert first.state == "building"
    waiting = [builds.request((1, y, "en", "admin"), lambda y=y: str(y), make_pdf) for y in (2002, 2003)]
    try:
        builds.request((1, 2004, "en", "admin"), lambda: "2004", make_pdf)
    except PdfBusy as exc:
        assert exc.http_status == 503 and exc.code == "report.pdf_busy"
    else:
        raise AssertionError("a third waiting build is refused")
    release.set()
    for job in (first, *waiting):
        assert job.done.wait(30) and job.state == "ready"
    kept = [y for y in (2001, 2002, 2003) if builds.get((1, y, "en", "admin")) is not None]
    assert kept == [2002, 2003], "the oldest finished PDF went first"
