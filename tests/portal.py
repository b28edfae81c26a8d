"""A running portal for HTTP and browser tests: a seeded store copied per module, served by uvicorn."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from passage.demo_portal import seed_portal
from passage.settings import Settings
from passage.store import open_store
from passage.web.app import create_app


def seed(directory: Path) -> tuple[Path, dict[str, tuple[str, str, str]]]:
    """A DuckDB store with the portal demo (records, boundaries, documents, users, releases)."""
    path = directory / "portal.duckdb"
    with open_store(str(path)) as store:
        summary = seed_portal(store, directory / "demo")
    return path, summary["accounts"]


def copy_store(path: Path, directory: Path) -> Path:
    target = directory / path.name
    shutil.copyfile(path, target)
    files = path.with_name(path.stem + ".files")
    if files.exists():
        shutil.copytree(files, target.with_name(target.stem + ".files"))
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningPortal:
    url: str
    db: str
    accounts: dict[str, tuple[str, str, str]]  # user -> (role, places, password)
    server: uvicorn.Server
    thread: threading.Thread

    def password(self, user: str) -> str:
        return self.accounts[user][2]

    def client(self, user: str | None = None) -> httpx.Client:
        """An HTTP client, signed in through the login form when a user is given."""
        c = httpx.Client(base_url=self.url, follow_redirects=False, timeout=60)
        if user:
            page = c.get("/login")
            csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
            r = c.post("/login", data={"user_name": user, "password": self.password(user), "csrf_token": csrf,
                                       "next": "/"})
            assert r.status_code == 303, r.text[:500]
        return c

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve(db: str, accounts: dict, **options) -> RunningPortal:
    """`options` go to `create_app` (e.g. `settings=Settings(cache={"export_bytes": 1000})`). Without settings the
    portal writes no access log (tests/test_access_log.py checks it): the lines would only fill pytest's output."""
    options.setdefault("settings", Settings(server={"access_log": ""}))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # held from here on: no other run in parallel can take the port meanwhile
    port = sock.getsockname()[1]
    app = create_app(db, **options)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    else:
        raise RuntimeError("the portal did not start")
    return RunningPortal(f"http://127.0.0.1:{port}", db, accounts, server, thread)


def sign_in(page, portal, user: str) -> None:
    """Through the sign-in form, as a person does."""
    page.goto("/login")
    page.fill("input[name=user_name]", user)
    page.fill("input[name=password]", portal.password(user))
    page.click("main form button")
    page.wait_for_url(re.compile(r"/$"))
    assert page.locator(".who").inner_text().startswith(user)


def csrf_of(client: httpx.Client) -> str:
    """A client's CSRF token, as every page carries it in `<body hx-headers>` (signed in or not)."""
    page = client.get("/")
    assert page.status_code == 200
    return re.search(r'hx-headers=\'\{"X-CSRF-Token": "([^"]+)"\}\'', page.text).group(1)


def error_of(response: httpx.Response, status: int) -> dict:
    """The API's error body: `{"error": {"code", "message"}}` as JSON with the given status."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]
