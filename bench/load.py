"""A mixed read/write load on a PostgreSQL store: readers, importers and a publisher at once, then a check that
nothing was lost or doubled.

    .venv/bin/python bench/load.py --rows 1000000 --out docs/performance.md
    .venv/bin/python bench/load.py --rows 100000 --seconds 20        # checks the script in a few minutes

What it does:

1. The store: a fresh PostgreSQL schema `bench_load_N` with `--rows` DTM-shaped records imported, released and an
   admin token (as `bench/serve.py` builds its store), served by `passage --db URL serve --no-demo` in a subprocess.
2. For `--seconds`: `--readers` asyncio clients (keep-alive) request the map, indicator and records endpoints
   as the public and as an admin; `--importers` threads each POST DTM files of new rounds (`--file-rows` rows,
   round numbers no other file uses) to /api/v1/imports; one publisher POSTs a release of a random country every
   `--publish-every` seconds.
3. Afterwards, from the store itself: every import the API answered `committed` holds exactly the rows it
   reported; every row sent by a committed import is there once as a current record; no record id has two
   current versions; imports answered `rejected` left nothing. Errors are any answer other than 200/201
   (readers and writers), a timeout or a connection error.

Writes the section between `<!-- load:start -->` and `<!-- load:end -->` of `--out`, raw figures to bench/out/.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import random
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))
import serve

START, END = "<!-- load:start -->", "<!-- load:end -->"


def _post(port: int, path: str, token: str, body: bytes, content_type: str, timeout: float) -> tuple[int, dict]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST",
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _multipart(fields: dict[str, str], name: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for k, v in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
              f"Content-Type: text/csv\r\n\r\n".encode() + data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def new_round_files(template: Path, n_files: int, rows: int, first_round: int) -> list[tuple[int, bytes, int]]:
    """DTM CSV files of `rows` rows each, cut from the benchmark CSV, every file with round numbers of its own
    (so no two files share a record key): [(round offset, bytes, data rows)]."""
    with template.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header, tags = next(reader), next(reader)
        body = [r for _, r in zip(range(rows * 4), reader)]
    rnd = header.index("roundNumber")
    out = []
    for i in range(n_files):
        picked = random.Random(i).sample(body, min(rows, len(body)))
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(header)
        w.writerow(tags)
        offset = first_round + i * 1000
        seen = set()
        for r in picked:
            r = list(r)
            r[rnd] = str(int(r[rnd]) + offset)
            key = tuple(r)
            if key not in seen:
                seen.add(key)
                w.writerow(r)
        out.append((offset, buf.getvalue().encode(), len(seen)))
    return out


def run(a) -> dict:
    from passage.packs.dtm.demo import generate_rows_csv

    csv_path = a.data / f"dtm-{a.rows}.csv"
    if not csv_path.exists():
        generate_rows_csv(csv_path, a.rows)
    schema = f"bench_load_{a.rows}"  # made afresh every run: the load writes into it
    print(f"importing {csv_path} into PostgreSQL schema {schema} ...", flush=True)
    url = serve._fresh_pg_schema(a.pg_url, schema)
    facts = serve.build_store(csv_path, url)
    facts["csv"] = str(csv_path)
    token = facts.pop("token")
    server = serve.Server("passage", [str(serve.VENV_BIN / "passage"), "--db", url, "serve", "--no-demo",
                                      "--port", "{port}"], "/api/v1/datasets", a.work / "load-server.log")
    files = new_round_files(Path(facts["csv"]), a.files, a.file_rows, first_round=100_000)
    countries = facts["countries"]
    targets = [(serve.passage_path(e, c, lv), h) for e in serve.ENDPOINTS for c in countries for lv in serve.LEVELS
               for h in ({}, {"Authorization": f"Bearer {token}"})]
    server.start()
    stop = threading.Event()
    writes: dict[str, list] = {"imports": [], "publishes": [], "errors": []}
    lock = threading.Lock()
    queue = list(enumerate(files))

    def importer() -> None:
        while not stop.is_set():
            with lock:
                if not queue:
                    return
                i, (offset, data, n) = queue.pop(0)
            body, ctype = _multipart({"kind": "dtm"}, "file", f"load-{i}.csv", data)
            t = time.perf_counter()
            try:
                status, answer = _post(server.port, "/api/v1/imports", token, body, ctype, a.timeout)
            except OSError as exc:
                status, answer = 0, {"error": type(exc).__name__}
            ms = (time.perf_counter() - t) * 1000
            with lock:
                writes["imports"].append({"file": i, "offset": offset, "rows": n, "status": status, "ms": ms,
                                          "answer": {k: answer.get(k) for k in ("status", "import_id", "inserted")}})
                if status not in (200, 422):
                    writes["errors"].append(f"import {i}: {status} {answer}")

    def publisher() -> None:
        while not stop.wait(a.publish_every):
            country = random.choice(countries)
            body = urllib.parse.urlencode({"country": country, "note": "load test"}).encode()
            t = time.perf_counter()
            try:
                status, answer = _post(server.port, "/api/v1/datasets/dtm_idps/releases", token, body,
                                       "application/x-www-form-urlencoded", a.timeout)
            except OSError as exc:
                status, answer = 0, {"error": type(exc).__name__}
            with lock:
                writes["publishes"].append({"country": country, "status": status,
                                            "ms": (time.perf_counter() - t) * 1000})
                if status != 201:
                    writes["errors"].append(f"publish {country}: {status} {answer}")

    async def readers() -> dict:
        conns = [serve.Connection(server.port) for _ in range(a.readers)]
        per: dict[str, list[float]] = {}
        errors: dict[str, int] = {}
        deadline = time.perf_counter() + a.seconds

        async def worker(k: int) -> None:
            i = k
            while time.perf_counter() < deadline:
                path, headers = targets[i % len(targets)]
                i += a.readers
                endpoint = "map" if "/map?" in path else "indicator" if "/indicators/" in path else "records"
                t = time.perf_counter()
                try:
                    status, _ = await asyncio.wait_for(conns[k].get(path, headers), a.timeout)
                except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
                    conns[k].close()
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    continue
                if status == 200:
                    per.setdefault(endpoint, []).append((time.perf_counter() - t) * 1000)
                else:
                    errors[str(status)] = errors.get(str(status), 0) + 1

        try:
            await asyncio.gather(*(worker(k) for k in range(a.readers)))
        finally:
            for c in conns:
                c.close()
        return {"endpoints": {e: {"requests": len(v), "p50": serve.percentile(sorted(v), 50),
                                  "p95": serve.percentile(sorted(v), 95), "max": max(v)} for e, v in per.items()},
                "errors": errors}

    try:
        threads = [threading.Thread(target=importer) for _ in range(a.importers)] + [threading.Thread(target=publisher)]
        for t in threads:
            t.start()
        t0 = time.perf_counter()
        reads = asyncio.run(readers())
        stop.set()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
    finally:
        server.stop()
    checks = verify(url, writes["imports"], files)
    return {"machine": serve.bench_run.machine(),
            "date": datetime.now(UTC).isoformat(timespec="seconds"), "records": facts["records"],
            "seconds": elapsed, "readers": a.readers, "importers": a.importers, "reads": reads,
            "imports": writes["imports"], "publishes": writes["publishes"], "write_errors": writes["errors"],
            "checks": checks}


def verify(url: str, imports: list[dict], files: list[tuple[int, bytes, int]]) -> dict:
    """What the store holds against what the API answered."""
    from passage.store import open_store

    problems = []
    with open_store(url) as store:
        doubled = store.scalar("SELECT count(*) FROM (SELECT _record_id FROM rec_dtm_idps WHERE _current "
                               "GROUP BY _record_id HAVING count(*) > 1) d")
        if doubled:
            problems.append(f"{doubled} record ids with two current versions")
        for imp in imports:
            answer, offset, n = imp["answer"], imp["offset"], imp["rows"]
            held = store.scalar("SELECT count(*) FROM dtm_idps WHERE round_number >= ? AND round_number < ?",
                                [offset, offset + 1000])
            if answer.get("status") == "committed":
                by_id = store.scalar("SELECT count(*) FROM rec_dtm_idps WHERE _import_id = ?", [answer["import_id"]])
                if by_id != answer["inserted"] or held != n:
                    problems.append(f"file {imp['file']}: answered {answer['inserted']} inserted, sent {n}, "
                                    f"store holds {by_id} by import id and {held} by round")
            elif answer.get("status") is None:  # no answer (the client gave up): all or nothing, never part
                if held not in (0, n):
                    problems.append(f"file {imp['file']}: no answer, and {held} of its {n} rows are there")
            elif held:
                problems.append(f"file {imp['file']}: answered {answer.get('status')} but {held} rows are there")
    committed = sum(1 for i in imports if i["answer"].get("status") == "committed")
    return {"problems": problems, "committed": committed, "sent": len(imports)}


def section(res: dict) -> str:
    reads = res["reads"]
    intro = (f"{res['readers']} readers, {res['importers']} importers and 1 publisher for {res['seconds']:.0f} s "
             f"over {res['records']:,} DTM records (`bench/load.py`).")
    m = res["machine"]
    where = (f"Machine: {m.get('cpu')}, {m.get('cores')} cores, {m.get('ram_gb')} GB; Python {m.get('python')}; "
             "the server, PostgreSQL and the clients share it.")
    lines = [START, "", f"### Mixed load on PostgreSQL ({res['date'][:10]})", "", intro, where, "",
             "| endpoint | requests | p50 ms | p95 ms | max ms |", "|---|---:|---:|---:|---:|"]
    for e, r in sorted(reads["endpoints"].items()):
        lines.append(f"| {e} | {r['requests']:,} | {r['p50']:.0f} | {r['p95']:.0f} | {r['max']:.0f} |")
    ims = sorted(i["ms"] for i in res["imports"])
    pubs = sorted(p["ms"] for p in res["publishes"])
    imports = (f"- imports: {len(ims)} files, {res['checks']['committed']} committed; "
               f"p95 {serve.percentile(ims, 95):,.0f} ms") if ims else "- imports: none finished"
    publishes = (f"- publishes: {len(pubs)}; p95 {serve.percentile(pubs, 95):,.0f} ms") if pubs else "- publishes: none"
    errors = (f"- errors: readers {sum(reads['errors'].values())} {reads['errors'] or ''}, "
              f"writers {len(res['write_errors'])}")
    after = (f"- afterwards: {len(res['checks']['problems'])} problems (duplicate or lost records, counts that "
             "differ from what the API answered)")
    why = ("Each publish (here every few seconds) makes every kept answer stale, so under this load most reads are "
           "cold: their time is the cold query on PostgreSQL, queued behind the others on 2 shared cores.")
    lines += ["", imports, publishes, errors, after, "", why]
    lines += [f"  - {p}" for p in res["checks"]["problems"][:10]]
    lines += ["", END]
    return "\n".join(lines)


def write_section(path: Path, sec: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if START in text and END in text:
        text = text[:text.index(START)] + sec + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n" + sec + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--readers", type=int, default=50)
    p.add_argument("--importers", type=int, default=2)
    p.add_argument("--files", type=int, default=40, help="Files the importers may send (each its own rounds).")
    p.add_argument("--file-rows", type=int, default=2000)
    p.add_argument("--publish-every", type=float, default=3.0)
    p.add_argument("--timeout", type=float, default=120, help="Seconds a client waits for one answer.")
    p.add_argument("--pg-url", default=serve.PG_URL)
    p.add_argument("--out", type=Path)
    a = p.parse_args(argv)
    a.work, a.data = BENCH / "data" / "work", BENCH / "data"
    res = run(a)
    (BENCH / "out").mkdir(exist_ok=True)
    (BENCH / "out" / f"load-{a.rows}.json").write_text(json.dumps(res, indent=1, default=str))
    sec = section(res)
    print(sec)
    if a.out:
        write_section(a.out, sec)
    bad = res["checks"]["problems"] or res["write_errors"] or res["reads"]["errors"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
