"""A short fuzz run in CI: every harness in fuzz/ runs as a subprocess for its share of 60 seconds, from its
seed corpus, and must end without a crash (an uncaught exception, a hang past -timeout, memory past
-rss_limit_mb: see fuzz/_harness.py). `bench/fuzz.sh` runs them for longer."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HARNESSES = sorted(p.stem.removeprefix("fuzz_") for p in (ROOT / "fuzz").glob("fuzz_*.py"))
TOTAL_SECONDS = 60


def test_every_target_has_a_harness():
    assert {"csv", "xlsx", "json", "xml", "geojson", "expr", "hxl"} <= set(HARNESSES)


@pytest.mark.parametrize("name", HARNESSES)
def test_harness_runs_without_a_crash(name, tmp_path):
    share = max(TOTAL_SECONDS // len(HARNESSES), 1)
    corpus = tmp_path / "corpus"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "fuzz" / f"fuzz_{name}.py"), f"-max_total_time={share}", "-timeout=20",
         "-rss_limit_mb=3072", "-max_len=65536", f"-artifact_prefix={tmp_path}/", "-print_final_stats=1",
         str(corpus)],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=share + 240)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"fuzz_{name} crashed:\n{log[-4000:]}"
    assert not list(tmp_path.glob("crash-*")) and not list(tmp_path.glob("timeout-*"))
    runs = re.search(r"Done (\d+) runs", log)
    assert runs and int(runs.group(1)) > 0, log[-2000:]
    assert any(p.name.startswith("seed-") for p in corpus.iterdir()), "the harness wrote no seeds"
