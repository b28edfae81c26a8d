"""The README's main job: `passage serve` seeds the demo on first run, prints the URL and serves it."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx

from portal import free_port


def _start(tmp_path, port: int) -> tuple[subprocess.Popen, list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from passage.cli import main; main()", "--db", str(tmp_path / "passage.duckdb"),
         "serve", "--port", str(port)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if "Passage is running at" in line:
            return proc, lines
    proc.kill()
    raise AssertionError("serve did not print its URL:\n" + "\n".join(lines))


def _wait(url: str) -> httpx.Response:
    for _ in range(100):
        try:
            return httpx.get(url, timeout=30)
        except httpx.ConnectError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def test_serve_seeds_the_demo_prints_accounts_and_serves(tmp_path):
    port = free_port()
    proc, lines = _start(tmp_path, port)
    try:
        url = f"http://127.0.0.1:{port}/"
        assert any(url in line for line in lines)
        assert any(line.startswith("admin\tadmin") for line in lines), lines
        home = _wait(url)
        assert home.status_code == 200 and "Nigeria" in home.text
        assert httpx.get(url + "countries/NGA").status_code == 200
        assert (tmp_path / "passage-demo" / "accounts.txt").stat().st_mode & 0o077 == 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # A second start keeps the store: no second seeding, the same accounts are printed.
    proc, lines = _start(tmp_path, port)
    try:
        assert not any("first run" in line for line in lines)
        assert any(line.startswith("editor-nga\teditor\tNGA") for line in lines)
        assert _wait(f"http://127.0.0.1:{port}/api/v1/me").json()["role"] == "public"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
