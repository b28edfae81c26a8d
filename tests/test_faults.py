"""Faults: SIGKILL the importer at several points of a large import.

The store must then hold either the whole import or none of it, the killed import must be
logged as failed (or be absent, if it died before writing its log row), and the next import
of the same file must succeed. The importer runs as a child process; it reports its phases
on stdout (`progress`), and two barriers make it wait for the kill at exact points: after
every record is inserted but before the transaction commits, and after the commit.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from passage.ingest import import_files
from passage.plugins import install_pack
from passage.store import Store, open_store

pytestmark = pytest.mark.slow

BIG_ROWS = 300_000
PG_BIG_ROWS = 60_000

HEADER = (
    "id,operation,admin0Name,admin0Pcode,admin1Name,admin1Pcode,admin2Name,admin2Pcode,adminLevel,numPresentIdpInd,"
    "reportingDate,yearReportingDate,monthReportingDate,roundNumber,displacementReason,numberMales,numberFemales,"
    "idpOriginAdmin1Name,idpOriginAdmin1Pcode,assessmentType,operationStatus\n"
    ",#operation+name,#country+name,#country+code,#adm1+name,#adm1+code,#adm2+name,#adm2+code,#adm+level,"
    "#affected+idps,#date+reported,#date+year+reported,#date+month+reported,#round+code,#cause+type,"
    "#affected+idps+m,#affected+idps+f,#adm1+name+origin,#adm1+code+origin,#assessment+type,#operation+status\n"
)
SMALL = HEADER + (
    "1,Chad,Chad,TCD,Lac,TCD07,,,1,800,2023-05-31T00:00:00,2023,5,10,Conflict,,,Not available,Not available,BA,Active\n"
    "2,Chad,Chad,TCD,Lac,TCD07,Fouli,TCD0704,2,300,2023-05-31T00:00:00,2023,5,10,conflict,100,150,,,BA,Active\n"
    "3,Nigeria - North-East,Nigeria,NGA,Borno,NG008,Abadam,NG008001,2,1200,2023-06-30T00:00:00,2023,6,45,Conflict,"
    ",,Borno,NG008,BA,Active\n"
)
SMALL_ROWS = 3

# The importer, as a separate process. argv: store, file, barrier ("", "loaded" or "committed").
CHILD = r"""
import sys
from pathlib import Path

from passage import records
from passage.ingest import import_files
from passage.store import open_store

db, src, barrier = sys.argv[1], sys.argv[2], sys.argv[3]


def say(msg):
    print(msg, flush=True)


def hold(msg):
    say(msg)
    sys.stdin.readline()  # the parent kills us while we wait here


if barrier == "loaded":
    real_load = records.load

    def load(*args, **kwargs):
        counts = real_load(*args, **kwargs)
        hold(f"loaded {counts[0]}")  # every row inserted, the transaction still open
        return counts

    records.load = load

store = open_store(db)
if store.dialect == "postgres":
    say(f"backend {store.scalar('SELECT pg_backend_pid()')}")
say("start")
result = import_files(store, "dtm", [Path(src)], user="fault", progress=say)
say(f"result {result.status} {result.inserted}")
if barrier == "committed":
    hold("committed")  # committed, the store not closed
store.close()
"""


@dataclass
class Kill:
    name: str
    after: str  # "spawn" (seconds after the process starts), "start" (seconds after the store is open) or a line prefix
    delay: float = 0.0
    barrier: str = ""


@dataclass
class Killed:
    kill: Kill
    lines: list[str]
    elapsed: float

    @property
    def phase(self) -> str:
        return self.lines[-1] if self.lines else "(before the store was opened)"


def run_and_kill(url: str, src: Path, kill: Kill, timeout: float = 60) -> Killed:
    """Start the importer, SIGKILL it at the kill point, and return what it had said by then. It runs in the
    source file's folder: a PostgreSQL store archives into ./passage.files there."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, url, str(src), kill.barrier], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
                            cwd=src.parent)
    t0 = time.monotonic()
    lines: queue.Queue[tuple[float, str]] = queue.Queue()

    def read() -> None:
        for line in proc.stdout:
            lines.put((time.monotonic(), line.strip()))
        lines.put((time.monotonic(), "<eof>"))

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []
    deadline = t0 + timeout
    try:
        if kill.after == "spawn":
            time.sleep(kill.delay)
        else:
            while True:
                at, line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
                if line == "<eof>":
                    proc.wait(timeout=5)
                    pytest.fail(f"{kill.name}: the importer ended before its kill point "
                                f"(exit {proc.returncode}, said {seen}): {proc.stderr.read()[-2000:]}")
                seen.append(line)
                if kill.after == "start" and line == "start":
                    time.sleep(max(0.0, at + kill.delay - time.monotonic()))
                    break
                if kill.after not in ("start", "spawn") and line.startswith(kill.after):
                    break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    elapsed = time.monotonic() - t0
    while not lines.empty():
        _, line = lines.get_nowait()
        if line != "<eof>":
            seen.append(line)
    assert proc.returncode == -signal.SIGKILL, (
        f"{kill.name}: the importer was not killed but exited {proc.returncode}: {proc.stderr.read()[-2000:]}")
    proc.stdout.close()
    proc.stderr.close()
    return Killed(kill, seen, elapsed)


def write_big_csv(store: Store, path: Path, n: int) -> None:
    """n valid admin1 rows over Nigeria's and Chad's states, every key distinct, written by DuckDB."""
    places = store.query(
        "SELECT code, name, country_code FROM places WHERE level = 1 AND country_code IN ('NGA', 'TCD') ORDER BY code")
    k = len(places)
    assert k > 50
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE p (idx INTEGER, code VARCHAR, name VARCHAR, cc VARCHAR)")
        con.executemany("INSERT INTO p VALUES (?, ?, ?, ?)", [(i, c, nm, cc) for i, (c, nm, cc) in enumerate(places)])
        data = path.with_suffix(".data")
        con.execute(f"""
            COPY (
              SELECT i + 1, CASE cc WHEN 'NGA' THEN 'Nigeria - North-East' ELSE 'Chad' END,
                     CASE cc WHEN 'NGA' THEN 'Nigeria' ELSE 'Chad' END, cc, name, code, NULL, NULL, 1,
                     100 + i % 5000,
                     strftime(DATE '2000-01-01' + CAST(i // {k} % 8000 AS INTEGER), '%Y-%m-%dT00:00:00'),
                     NULL, NULL, i // {k}, CASE i % 3 WHEN 0 THEN 'Conflict' WHEN 1 THEN 'conflict'
                     ELSE 'Conflict; Natural disaster' END,
                     CASE WHEN i % 7 = 0 THEN 40 END, CASE WHEN i % 7 = 0 THEN 50 END,
                     'Not available', 'Not available', 'BA', 'Active'
              FROM range({n}) r(i) JOIN p ON p.idx = i % {k}
            ) TO '{data}' (FORMAT csv, HEADER false)""")
    finally:
        con.close()
    with path.open("wb") as out:
        out.write(HEADER.encode("utf-8"))
        with data.open("rb") as fh:
            shutil.copyfileobj(fh, out, 1 << 22)
    data.unlink()


def record_state(store: Store) -> dict:
    """What the fault test compares: rows per import, and the log."""
    per_import = dict(store.query("SELECT _import_id, count(*) FROM rec_dtm_idps GROUP BY _import_id"))
    log = {r[0]: (r[1], r[2]) for r in store.query("SELECT import_id, status, rows_inserted FROM imports")}
    return {"rows": sum(per_import.values()), "per_import": per_import, "log": log}


def check_all_or_nothing(state: dict, before: dict, big: int, killed: Killed) -> bool:
    """After a kill: the earlier rows, or the earlier rows plus the whole new import. Returns whether it committed."""
    where = f"{killed.kill.name} (killed after {killed.elapsed:.2f}s, last said {killed.phase!r})"
    new_ids = set(state["log"]) - set(before["log"])
    assert state["rows"] in (before["rows"], before["rows"] + big), f"{where}: partial import, {state['rows']} rows"
    for import_id, n in state["per_import"].items():
        status, inserted = state["log"][import_id]
        assert status == "committed" and inserted == n, f"{where}: rows of import {import_id} ({status}) in the store"
    assert {k: v for k, v in state["log"].items() if k in before["log"]} == before["log"]
    assert len(new_ids) <= 1, f"{where}: {new_ids}"
    running = [k for k, (status, _) in state["log"].items() if status == "running"]
    assert not running, f"{where}: imports still 'running' after the store was reopened: {running}"
    if state["rows"] == before["rows"] + big:
        (new_id,) = new_ids
        assert state["log"][new_id] == ("committed", big), where
        return True
    for new_id in new_ids:
        assert state["log"][new_id][0] == "failed", f"{where}: the killed import is logged {state['log'][new_id]}"
    return False


# --- DuckDB --------------------------------------------------------------------------------------------------


KILLS = [
    Kill("0.3s after spawn", "spawn", 0.3),
    Kill("0.3s after open", "start", 0.3),
    # Phase lines, not seconds: a fast machine finishes 300 000 rows in about 2 s.
    Kill("while parsing", "parsing"),
    Kill("while validating", "validating"),
    Kill("while archiving", "archiving"),
    Kill("inserted, before commit", "loaded", barrier="loaded"),
]


def test_sigkill_leaves_all_or_nothing_duckdb(store_path, tmp_path):
    t_start = time.monotonic()
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    small.write_text(SMALL, encoding="utf-8")
    with open_store(str(store_path)) as store:
        install_pack(store, "dtm")
        r = import_files(store, "dtm", [small])
        assert r.status == "committed" and r.inserted == SMALL_ROWS, r.report.findings
        write_big_csv(store, big, BIG_ROWS)
        before = record_state(store)
    assert before["rows"] == SMALL_ROWS

    timeline = []
    for kill in KILLS:
        killed = run_and_kill(str(store_path), big, kill)
        with open_store(str(store_path)) as store:  # reopening marks a dead import 'failed'
            state = record_state(store)
            committed = check_all_or_nothing(state, before, BIG_ROWS, killed)
            store.execute("CHECKPOINT")
        timeline.append(f"{kill.name}: {killed.elapsed:.2f}s, last phase {killed.phase!r}")
        assert not committed, f"{kill.name} came after the commit: {timeline}"
        before = state

    # A normal import of the same file, killed only once it has committed and before the store is closed.
    killed = run_and_kill(str(store_path), big, Kill("committed, not closed", "committed", barrier="committed"))
    assert f"result committed {BIG_ROWS}" in killed.lines, killed.lines
    with open_store(str(store_path)) as store:
        state = record_state(store)
        assert check_all_or_nothing(state, before, BIG_ROWS, killed)
        assert state["rows"] == SMALL_ROWS + BIG_ROWS
        assert store.scalar("SELECT count(*) FROM dtm_idps") == SMALL_ROWS + BIG_ROWS
        big_id = max(state["per_import"])
        assert store.scalar("SELECT sum(num_present_idp_ind) FROM rec_dtm_idps WHERE _import_id = ?", [big_id]) == sum(
            100 + i % 5000 for i in range(BIG_ROWS))
        assert store.scalar("SELECT count(DISTINCT _source_row) FROM rec_dtm_idps WHERE _import_id = ?",
                            [big_id]) == BIG_ROWS
        statuses = sorted(s for s, _ in state["log"].values())
        assert statuses.count("committed") == 2
        assert set(statuses) <= {"committed", "failed"}
        # the same file again is a no-op; another file still imports
        assert import_files(store, "dtm", [big]).status == "unchanged"
        other = tmp_path / "other.csv"
        other.write_text(SMALL.replace(",10,", ",11,").replace(",45,", ",46,"), encoding="utf-8")
        r = import_files(store, "dtm", [other])
        assert r.status == "committed" and r.inserted == SMALL_ROWS, r.report.findings
    timeline.append(f"{killed.kill.name}: {killed.elapsed:.2f}s")
    print("\n".join(["", *timeline, f"total {time.monotonic() - t_start:.1f}s"]))


# --- PostgreSQL ----------------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_sigkill_during_load_rolls_back_postgres(pg_store, tmp_path):
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    small.write_text(SMALL, encoding="utf-8")
    r = import_files(pg_store, "dtm", [small])
    assert r.status == "committed" and r.inserted == SMALL_ROWS, r.report.findings
    write_big_csv(pg_store, big, PG_BIG_ROWS)
    before = record_state(pg_store)

    killed_ids, timeline = [], []
    t_start = time.monotonic()
    for kill in [Kill("loading", "loading", 0.0), Kill("inserted, before commit", "loaded", barrier="loaded")]:
        killed = run_and_kill(pg_store.url, big, kill)
        t = time.monotonic()
        # the server notices the dead client and rolls its transaction back; wait for its backend to end
        pid = int(next(line for line in killed.lines if line.startswith("backend ")).split()[1])
        for _ in range(100):
            if not pg_store.scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = ?", [pid]):
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"{kill.name}: the killed importer's backend {pid} is still there")
        timeline.append(f"{kill.name}: killed after {killed.elapsed:.2f}s ({killed.phase!r}), "
                        f"its backend gone {time.monotonic() - t:.2f}s later")
        state = record_state(pg_store)
        assert state["rows"] == before["rows"], f"{kill.name}: {state['rows']} rows after the kill"
        assert state["per_import"] == before["per_import"]
        killed_ids += sorted(set(state["log"]) - set(before["log"]))
        before = state

    t = time.monotonic()
    r = import_files(pg_store, "dtm", [big])
    assert r.status == "committed" and r.inserted == PG_BIG_ROWS, r.report.findings
    assert pg_store.scalar("SELECT count(*) FROM rec_dtm_idps") == SMALL_ROWS + PG_BIG_ROWS
    timeline.append(f"normal import: {time.monotonic() - t:.2f}s")
    print("\n".join(["", *timeline, f"total {time.monotonic() - t_start:.1f}s"]))

    # Reopening the store (as the next `passage` command does) must show the dead imports as failed.
    reopened = open_store(pg_store.url)
    try:
        statuses = {i: reopened.scalar("SELECT status FROM imports WHERE import_id = ?", [i]) for i in killed_ids}
    finally:
        reopened.close()
    assert len(killed_ids) == 2
    assert set(statuses.values()) == {"failed"}, f"killed imports are logged {statuses}"
