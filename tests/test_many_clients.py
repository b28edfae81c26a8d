"""One store, many clients: while `passage serve` holds a DuckDB store, `passage` commands run through the
portal's API with a token, or say exactly what to do — never DuckDB's own lock message.

A real `passage serve` process over a copy of the seeded demo store, and `passage` commands as processes of
their own, as a newcomer runs them in a second terminal."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import duckdb
import httpx
import pytest

from cli_run import passage_cli
from portal import free_port
from test_serve import _start, _wait

LOCK_TEXT = "Could not set lock"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PASSAGE_")}


def cli(folder, *args, env: dict | None = None, input: str | None = None) -> subprocess.CompletedProcess:
    """`passage ARGS` as a process of its own in `folder` (the store: ./passage.duckdb, the default)."""
    return subprocess.run([sys.executable, "-m", "passage", *map(str, args)], cwd=folder, env={**_env(), **(env or {})},
                          capture_output=True, text=True, timeout=300, input=input, check=False)


@pytest.fixture(scope="module")
def served(seeded_portal_store, tmp_path_factory):
    """The seeded store copied to ./passage.duckdb, an admin token saved beside it, and `passage serve` on it."""
    path, accounts = seeded_portal_store
    folder = tmp_path_factory.mktemp("many-clients")
    shutil.copyfile(path, folder / "passage.duckdb")
    shutil.copytree(path.with_name(path.stem + ".files"), folder / "passage.files")
    made = passage_cli("--db", folder / "passage.duckdb", "users", "tokens", "create", "admin", "--name", "cli", "--save")
    assert made.returncode == 0, made.stderr
    assert (folder / "passage.duckdb.token").stat().st_mode & 0o077 == 0
    port = free_port()
    proc, _ = _start(folder, port)
    url = f"http://127.0.0.1:{port}"
    _wait(url + "/")
    yield folder, url, proc, accounts
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=30)


def sign_in(url: str, user: str, password: str) -> int:
    with httpx.Client(base_url=url, timeout=60) as c:
        csrf = c.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
        return c.post("/login", data={"user_name": user, "password": password, "csrf_token": csrf,
                                      "next": "/"}).status_code


def test_serve_records_its_url_and_pid_beside_the_store(served):
    folder, url, proc, _ = served
    holder = json.loads((folder / "passage.duckdb.serving.json").read_text(encoding="utf-8"))
    assert (holder["url"], holder["pid"]) == (url, proc.pid) and holder["started"]
    assert (folder / "passage.duckdb.serving.json").stat().st_mode & 0o077 == 0


def test_reads_through_the_portal_show_the_public_view_unless_an_admin_asks_for_all(served):
    folder, _, _, _ = served
    public = cli(folder, "indicators", "show", "idps_by_country")
    assert public.returncode == 0, public.stderr
    assert "published figures only" in public.stderr and "NGA" in public.stdout and "AFG" not in public.stdout
    every = cli(folder, "--user", "admin", "indicators", "show", "idps_by_country", "--all")
    assert every.returncode == 0, every.stderr
    assert "AFG" in every.stdout
    other = cli(folder, "--user", "editor-nga", "export", "dtm_idps")  # the token file is admin's
    assert other.returncode == 2 and "the API token given is admin's" in other.stderr


def test_users_disable_through_the_portal_then_the_user_cannot_sign_in(served):
    folder, url, _, accounts = served
    assert sign_in(url, "editor-tcd", accounts["editor-tcd"][2]) == 303
    done = cli(folder, "users", "disable", "editor-tcd")
    assert done.returncode == 0, done.stderr
    assert "user editor-tcd disabled" in done.stdout and f"The portal at {url}" in done.stderr
    assert sign_in(url, "editor-tcd", accounts["editor-tcd"][2]) != 303
    assert LOCK_TEXT not in done.stdout + done.stderr


def test_publish_through_the_portal_and_export_shows_what_the_public_sees(served):
    folder, url, _, _ = served
    before = cli(folder, "export", "dtm_idps", "--format", "csv")
    assert before.returncode == 0, before.stderr
    assert "what the public sees" in before.stderr and ",AFG," not in before.stdout  # Afghanistan: unpublished
    done = cli(folder, "publish", "dtm_idps", "--country", "AFG", "--note", "from a second terminal")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("release ") and "dtm_idps for AFG" in done.stdout
    public = httpx.get(url + "/api/v1/exports/dtm_idps", params={"format": "csv"}, timeout=120).text
    assert ",AFG," in public
    assert ",AFG," in cli(folder, "export", "dtm_idps", "--format", "csv").stdout
    releases = httpx.get(url + "/api/v1/releases", params={"dataset": "dtm_idps", "country": "AFG"}).json()["data"]
    assert releases[0]["note"] == "from a second terminal" and releases[0]["published_by"] == "admin"


def test_import_through_the_portal_loads_or_reports_as_in_the_store(served, tmp_path):
    from dtm_rows import NGA, api_rows, write_csv

    folder, _, _, _ = served
    rows = api_rows("NGA", NGA)
    rows[3]["numPresentIdpInd"] = "about 300"
    bad = cli(folder, "import", "dtm", write_csv(tmp_path / "bad.csv", rows), "--report", tmp_path / "report.json")
    assert bad.returncode == 1 and "type-integer" in bad.stderr and "nothing was imported" in bad.stderr
    assert any(f["code"] == "type-integer" and f["row"] == 6
               for f in json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["findings"])
    assert "through its API" in bad.stderr and LOCK_TEXT not in bad.stderr


def test_a_command_without_a_route_says_exactly_what_to_do(served):
    folder, url, proc, _ = served
    done = cli(folder, "datasets", "list")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"Error: The portal at {url} (pid {proc.pid}) holds passage.duckdb. Its API has no route for "
        "`passage datasets list`: stop the portal (Ctrl+C where it runs) and run this again, or use PostgreSQL "
        "for many processes (docs/operations.md).")
    assert LOCK_TEXT not in done.stdout + done.stderr
    migrate = cli(folder, "migrate", "--status")  # opens the store by itself, and is told the same
    assert migrate.returncode == 1 and "Its API has no route for `passage migrate`" in migrate.stderr
    again = cli(folder, "serve", "--port", str(free_port()))
    assert again.returncode == 1
    assert f"holds passage.duckdb. Open it at {url}/, or stop it" in again.stderr and LOCK_TEXT not in again.stderr


def test_a_backup_while_the_portal_runs(served, tmp_path):
    from passage.store import open_store
    from passage.store.backup import restore

    folder, url, _, _ = served
    done = cli(folder, "backup", "-o", tmp_path / "running.zip")
    assert done.returncode == 0, done.stderr
    assert f"through the portal at {url}" in done.stdout and LOCK_TEXT not in done.stdout + done.stderr
    manifest = restore(tmp_path / "running.zip", str(tmp_path / "restored.duckdb"))
    with open_store(str(tmp_path / "restored.duckdb")) as r:
        assert r.scalar("SELECT count(*) FROM rec_dtm_idps") == manifest.tables["rec_dtm_idps"]["rows"] > 0


def test_without_a_token_the_command_is_shown_with_the_token_form(served):
    folder, url, proc, _ = served
    saved = folder / "passage.duckdb.token"
    aside = folder / "token.aside"
    saved.rename(aside)
    try:
        done = cli(folder, "users", "disable", "editor-nga")
    finally:
        aside.rename(saved)
    assert done.returncode == 1 and LOCK_TEXT not in done.stderr
    assert (f"The portal at {url} (pid {proc.pid}) holds passage.duckdb. Run this through it with an API token: "
            f"passage --url {url} --token … users disable editor-nga") in done.stderr
    assert sign_in(url, "editor-nga", served[3]["editor-nga"][2]) == 303  # nothing changed
    wrong = cli(folder, "--token", "psg_nope", "users", "disable", "editor-nga")
    assert wrong.returncode == 1 and "unknown or revoked API token" in wrong.stderr


def test_url_and_token_options_reach_the_portal_from_anywhere(served, tmp_path):
    folder, url, _, _ = served
    token = (folder / "passage.duckdb.token").read_text(encoding="utf-8").strip()
    log = cli(tmp_path, "--url", url, "--token", token, "log", "--limit", "3")  # no store here at all
    assert log.returncode == 0, log.stderr
    assert "committed" in log.stdout
    assert not (tmp_path / "passage.duckdb").exists()
    # a --url is never sent the store's own token file: it might be any server
    untold = cli(folder, "--url", url, "log")
    assert untold.returncode == 1 and f"Run this through it with an API token: passage --url {url} --token … log" \
        in untold.stderr
    as_env = cli(tmp_path, "indicators", "show", "idps_by_country", env={"PASSAGE_URL": url})
    assert as_env.returncode == 0, as_env.stderr
    assert "NGA" in as_env.stdout


def test_another_process_not_a_portal_and_a_stale_holder_file(tmp_path):
    """A lock held by a process that is no portal is named as such; a holder file whose process is gone
    (a portal that crashed) is ignored."""
    db = tmp_path / "passage.duckdb"
    assert cli(tmp_path, "users", "list").returncode == 0  # creates the store
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                           check=True)
    (tmp_path / "passage.duckdb.serving.json").write_text(json.dumps(
        {"url": "http://127.0.0.1:9", "pid": int(ended.stdout), "started": "2026-01-01T00:00:00+00:00"}))
    holder = duckdb.connect(str(db))  # this test's process holds the file
    try:
        done = cli(tmp_path, "users", "disable", "nobody")
    finally:
        holder.close()
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"Error: Another process (pid {os.getpid()}) holds passage.duckdb: DuckDB lets one process at a time use "
        "a store file. Wait for it to finish and run this again, or use PostgreSQL for many processes "
        "(docs/operations.md).")


def test_a_clean_shutdown_removes_the_holder_file(served):
    folder, _, proc, _ = served
    proc.terminate()
    proc.wait(timeout=60)
    assert not (folder / "passage.duckdb.serving.json").exists()
    done = cli(folder, "users", "list")  # the store is free again: the command runs on it
    assert done.returncode == 0 and "editor-tcd" in done.stdout, done.stderr
