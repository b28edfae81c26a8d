"""Many readers at once: every request gets its own store handle, answers stay right."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

PATHS = ["/", "/countries/NGA", "/api/v1/countries/NGA/map?level=1", "/api/v1/countries/SSD/map?level=2",
         "/api/v1/indicators/idps_latest?country=TCD&level=1", "/datasets/dtm_idps/records?country=SSD",
         "/api/v1/datasets/dtm_idps/records?country=NGA&limit=50", "/documents?q=displacement"]


def test_parallel_reads_all_succeed_and_agree(portal):
    expected = {p: httpx.get(portal.url + p, timeout=60).text for p in PATHS if p.startswith("/api/")}

    def fetch(i: int) -> tuple[str, int, str]:
        path = PATHS[i % len(PATHS)]
        r = httpx.get(portal.url + path, timeout=60)
        return path, r.status_code, r.text

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(fetch, range(160)))
    assert [r for r in results if r[1] != 200] == []
    for path, _, text in results:
        if path in expected:
            assert text == expected[path]


def test_unknown_pages_use_the_error_model(portal):
    api = httpx.get(portal.url + "/api/v1/nothing-here")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
    page = httpx.get(portal.url + "/nothing-here", headers={"accept": "text/html"})
    assert page.status_code == 404 and "<html" in page.text and "not_found" in page.text
