"""The portal's access log (`server.access_log`): one combined-log-format line per request, with the user and
the duration, and never a token, a password or a cookie."""

from __future__ import annotations

import re

import httpx
import pytest

from passage.web.access_log import line, redact

# host ident user [time] "request" status bytes "referer" "user agent" microseconds
COMBINED = re.compile(r'^(?P<client>\S+) - (?P<user>\S+) \[(?P<time>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000)\] '
                      r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/(?P<protocol>[\d.]+)" (?P<status>\d{3}) '
                      r'(?P<bytes>\d+|-) "(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)" '
                      r'(?P<micros>\d+)$')


@pytest.fixture(scope="module")
def logged(seeded_portal_store, tmp_path_factory):
    """A running portal over a private copy of the seeded store, logging to a file: (portal, log path)."""
    from passage.settings import Settings
    from portal import copy_store, serve

    path, accounts = seeded_portal_store
    folder = tmp_path_factory.mktemp("logged")
    log = folder / "logs" / "access.log"
    running = serve(str(copy_store(path, folder)), accounts, settings=Settings(server={"access_log": str(log)}))
    yield running, log
    running.stop()


def lines_of(log) -> list[dict]:
    out = []
    for text in log.read_text(encoding="utf-8").splitlines():
        m = COMBINED.match(text)
        assert m, text
        out.append(m.groupdict())
    return out


def test_every_request_gets_one_line_with_its_user_status_and_size(logged):
    running, log = logged
    before = len(lines_of(log)) if log.exists() else 0
    public = httpx.Client(base_url=running.url, headers={"User-Agent": 'probe "one"'})
    home = public.get("/api/v1/countries/NGA/map?level=1", headers={"Referer": "http://example.org/page"})
    missing = public.get("/api/v1/no-such-route")
    admin = running.client("admin")  # GET /login, POST /login
    me = admin.get("/api/v1/me")
    nul = public.get("/api/v1/places?q=%00")
    got = lines_of(log)[before:]
    assert [(x["method"], x["target"], x["status"]) for x in got] == [
        ("GET", "/api/v1/countries/NGA/map?level=1", "200"), ("GET", "/api/v1/no-such-route", "404"),
        ("GET", "/login", "200"), ("POST", "/login", "303"), ("GET", "/api/v1/me", "200"),
        ("GET", "/api/v1/places?q=%00", "400")]
    assert got[0]["bytes"] == str(len(home.content)) and got[1]["bytes"] == str(len(missing.content))
    assert got[5]["bytes"] == str(len(nul.content))
    assert got[0]["referer"] == "http://example.org/page" and got[0]["agent"] == 'probe \\"one\\"'
    assert got[0]["user"] == "-" and got[4]["user"] == "admin" and me.json()["user"] == "admin"
    assert got[0]["client"] == "127.0.0.1" and got[0]["protocol"] == "1.1"
    assert all(int(x["micros"]) > 0 for x in got)


def test_no_token_password_or_cookie_reaches_the_log(logged):
    running, log = logged
    admin = running.client("admin")
    csrf = re.search(r'X-CSRF-Token": "([^"]+)"', admin.get("/").text).group(1)
    r = admin.post("/api/v1/tokens", data={"name": "logged"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201
    token = r.json()["token"]
    bearer = httpx.Client(base_url=running.url, headers={"Authorization": f"Bearer {token}"})
    assert bearer.get("/api/v1/me").json()["user"] == "admin"
    bearer.get(f"/api/v1/places?token={token}&q=Bor", headers={"Referer": f"http://x/?password={running.password('admin')}"})
    bearer.get("/api/v1/places", params={"q": token})  # a token pasted where it does not belong
    text = log.read_text(encoding="utf-8")
    secrets = [token, token.split("_", 2)[2], running.password("admin"), csrf,
               *(v for v in admin.cookies.values()), *(v for v in bearer.cookies.values())]
    assert not [s for s in secrets if s and s in text]
    got = lines_of(log)
    assert any(x["user"] == "admin" and x["target"] == "/api/v1/me" for x in got)  # the token's user is named
    assert any(x["target"].startswith("/api/v1/places?token=[redacted]&q=Bor")
               and x["referer"] == "http://x/?password=[redacted]" for x in got)


def test_the_line_format_and_redaction():
    text = line("10.0.0.1", "amina", 0, "GET", "/x?csrf_token=abc&session=def&next=/", "1.1", 200, 0, None, None, 5)
    assert text == '10.0.0.1 - amina [01/Jan/1970:00:00:00 +0000] "GET /x?csrf_token=[redacted]&session=[redacted]' \
                   '&next=/ HTTP/1.1" 200 - "-" "-" 5'
    assert COMBINED.match(text)
    assert redact("/a?api_key=1&KEY=2&q=psg_0123abcd_s3cr3t-value") == "/a?api_key=[redacted]&KEY=[redacted]&q=psg_[redacted]"
    assert COMBINED.match(line(None, "a b\n", 0, "GET", '/"quoted"\n', "1.1", 500, 3, "\x1b[31m", "", 1))
