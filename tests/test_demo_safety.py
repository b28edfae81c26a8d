"""Demo and CLI safety: each store's demo accounts live in a folder of its own, never overwritten by another
store's seed, git-ignored and readable by their owner only; CLI reads without an admin's --user show what
the public sees."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys

import httpx
import pytest

from cli_run import passage_cli
from portal import free_port
from test_serve import _start, _wait


def accounts_of(lines: list[str]) -> dict[str, str]:
    """user -> password from the accounts `passage serve` printed."""
    return {p[0]: p[3] for p in (line.split("\t") for line in lines) if len(p) == 4 and p[0] != "user"}


def signs_in(url: str, user: str, password: str) -> bool:
    with httpx.Client(base_url=url, timeout=60) as c:
        csrf = c.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
        return c.post("/login", data={"user_name": user, "password": password, "csrf_token": csrf,
                                      "next": "/"}).status_code == 303


def serve(folder, *db: str) -> tuple[subprocess.Popen, list[str], str]:
    port = free_port()
    proc, lines = _start_with(folder, port, db)
    url = f"http://127.0.0.1:{port}"
    _wait(url + "/")
    return proc, lines, url


def _start_with(folder, port: int, db: tuple[str, ...]):
    if not db:
        return _start(folder, port)  # ./passage.duckdb, as the README runs it
    proc = subprocess.Popen([sys.executable, "-c", "from passage.cli import main; main()", "--db", *db, "serve",
                             "--port", str(port)], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={k: v for k, v in os.environ.items() if not k.startswith("PASSAGE_")})
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line.rstrip())
        if "Passage is running at" in line:
            return proc, lines
    proc.kill()
    raise AssertionError("serve did not print its URL:\n" + "\n".join(lines))


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=60)


@pytest.mark.postgres
def test_postgresql_serve_then_duckdb_serve_keep_both_accounts_files_working(pg_store, tmp_path):
    """The README runs the DuckDB portal, then the PostgreSQL one in the same folder: each seeds its own demo
    folder, prints its own accounts, and both sets of passwords sign in."""
    pg_url = pg_store.url
    proc, lines, url = serve(tmp_path, pg_url)
    try:
        pg_accounts = accounts_of(lines)
        assert signs_in(url, "admin", pg_accounts["admin"])
    finally:
        stop(proc)
    pg_folders = list(tmp_path.glob("passage-demo-pg-*"))
    assert len(pg_folders) == 1 and pg_folders[0].name.startswith("passage-demo-pg-127.0.0.1-5432-test-t_")
    proc, lines, url = serve(tmp_path)  # the DuckDB store, ./passage.duckdb
    try:
        duck_accounts = accounts_of(lines)
        assert duck_accounts["admin"] != pg_accounts["admin"]
        assert signs_in(url, "admin", duck_accounts["admin"])
        assert not signs_in(url, "admin", pg_accounts["admin"])
        # a second terminal: the demo's CLI token (saved by the first start) runs the command through the portal
        done = subprocess.run([sys.executable, "-m", "passage", "users", "disable", "viewer-ssd"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300, check=False,
                              env={k: v for k, v in os.environ.items() if not k.startswith("PASSAGE_")})
        assert done.returncode == 0 and "user viewer-ssd disabled" in done.stdout, done.stderr
        assert not signs_in(url, "viewer-ssd", duck_accounts["viewer-ssd"])
        assert (tmp_path / "passage-demo" / "cli-token").stat().st_mode & 0o077 == 0
    finally:
        stop(proc)
    proc, lines, url = serve(tmp_path, pg_url)  # again: no seeding, and its accounts still work
    try:
        assert not any("first run" in line for line in lines)
        assert accounts_of(lines) == pg_accounts
        assert signs_in(url, "editor-nga", pg_accounts["editor-nga"])
    finally:
        stop(proc)
    for folder in (tmp_path / "passage-demo", pg_folders[0]):
        assert (folder / "accounts.txt").stat().st_mode & 0o077 == 0
        assert (folder / ".gitignore").read_text(encoding="utf-8").splitlines()[-1] == "*"
    assert "passage.duckdb" in (tmp_path / "passage-demo" / ".passage-store").read_text(encoding="utf-8")


def test_a_folder_holding_another_stores_demo_is_refused(tmp_path):
    demo = tmp_path / "shared-demo"
    demo.mkdir()
    (demo / ".passage-store").write_text(str(tmp_path / "first.duckdb") + "\n", encoding="utf-8")
    (demo / "accounts.txt").write_text("user\trole\tplaces\tpassword\nadmin\tadmin\t-\tsecret-of-first\n")
    r = subprocess.run([sys.executable, "-m", "passage", "--db", "second.duckdb", "serve", "--dir", str(demo)],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 2
    assert f"{demo} holds the demo accounts of {tmp_path / 'first.duckdb'}, not of this store" in r.stderr
    assert "secret-of-first" in (demo / "accounts.txt").read_text(encoding="utf-8")  # untouched


def test_passage_demo_writes_to_the_stores_own_folder(tmp_path):
    """`passage demo` picks the folder as `serve` does: the store's own by default (passage-demo-energy beside
    energy.duckdb), and never a folder holding another store's demo."""
    from passage.demo_portal import chosen_folder
    from passage.settings import load_settings
    from passage.store import open_store

    with open_store(str(tmp_path / "energy.duckdb")) as store:
        assert chosen_folder(store, load_settings(cwd=tmp_path)) == tmp_path / "passage-demo-energy"
    demo = tmp_path / "passage-demo-energy"
    demo.mkdir()
    (demo / ".passage-store").write_text(str(tmp_path / "first.duckdb") + "\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "passage", "--db", "energy.duckdb", "demo"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 2
    assert f"passage-demo-energy holds the demo accounts of {tmp_path / 'first.duckdb'}, not of this store" in r.stderr
    assert not (tmp_path / "passage-demo").exists() and sorted(p.name for p in demo.iterdir()) == [".passage-store"]


def test_the_repository_ignores_demo_folders_and_store_side_files():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    names = ["passage-demo/accounts.txt", "passage-demo-pg-127.0.0.1-5432-test-public/accounts.txt",
             "passage-demo-energy/accounts.txt", "passage.duckdb.serving.json", "passage.duckdb.token"]
    r = subprocess.run(["git", "check-ignore", "--no-index", *names], cwd=root, capture_output=True, text=True,
                       check=False)
    assert r.stdout.split() == names


# ---- reads without an admin's --user: what the public sees ---------------------------------------------

@pytest.fixture(scope="module")
def seeded(seeded_portal_store, tmp_path_factory) -> str:
    path, _ = seeded_portal_store
    folder = tmp_path_factory.mktemp("cli-safety")
    shutil.copyfile(path, folder / path.name)
    shutil.copytree(path.with_name(path.stem + ".files"), folder / (path.stem + ".files"))
    return str(folder / path.name)


def countries(csv_text: str) -> set[str]:
    return {r["admin0Pcode"] for r in csv.DictReader(io.StringIO(csv_text))}


def test_export_without_user_has_no_unpublished_rows_and_says_so(seeded):
    public = passage_cli("--db", seeded, "export", "dtm_idps", "--format", "csv")
    assert public.returncode == 0, public.stderr
    assert "Showing what the public sees: published rows only" in public.stderr
    seen = countries(public.stdout)
    assert seen and "AFG" not in seen  # the demo leaves Afghanistan unpublished
    every = passage_cli("--db", seeded, "--user", "admin", "export", "dtm_idps", "--format", "csv", "--all")
    assert every.returncode == 0, every.stderr
    assert countries(every.stdout) == seen | {"AFG"}


@pytest.mark.parametrize("user", [None, "editor-nga", "viewer-ssd"])
def test_all_needs_an_admins_user(seeded, user):
    for command in (["export", "dtm_idps", "--all"], ["indicators", "show", "idps_by_country", "--all"]):
        r = passage_cli("--db", seeded, *(["--user", user] if user else []), *command)
        assert r.returncode == 2
        assert "--all shows unpublished" in r.stderr and "needs --user naming an admin" in r.stderr
        assert r.stdout == ""


def test_indicators_show_without_user_shows_published_figures(seeded):
    public = passage_cli("--db", seeded, "indicators", "show", "idps_by_country")
    assert public.returncode == 0 and "published figures only" in public.stderr
    rows = [line.split()[0] for line in public.stdout.splitlines() if line[:3].isupper() and line[3:4] == " "]
    assert "NGA" in rows and "AFG" not in rows
    every = passage_cli("--db", seeded, "--user", "admin", "indicators", "show", "idps_by_country", "--all")
    assert "AFG" in every.stdout
