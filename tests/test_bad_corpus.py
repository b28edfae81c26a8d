"""The bad-file corpus: every case is rejected with its code, located, and leaves the store as it was.

The cases and their bytes live in `tests/bad_files/make.py`. Each runs on a store that already
holds one committed import (`earlier.csv`), so "unchanged" is checked against real records.
"""

from __future__ import annotations

import csv
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from passage.findings import MAX_VALUE_CHARS, Report
from passage.findings import all_codes as _all_codes
from passage.ingest import import_files
from passage.plugins import install_pack
from passage.store import Store, open_store


def _load_make():
    path = Path(__file__).parent / "bad_files" / "make.py"
    spec = importlib.util.spec_from_file_location("passage_bad_files", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


make = _load_make()
CASES = {c.id: c for c in make.CASES}
# A few cases from each stage (parse, header, value, place, key) run on PostgreSQL too.
PG_CASES = ["nul-byte", "truncated-mid-quote", "hxl-row-missing", "text-in-count", "pcode-parent-mismatch",
            "duplicate-key-in-store", "json-count-mismatch"]


# --- helpers -------------------------------------------------------------------------------------------------


def snapshot(store: Store) -> dict:
    """Everything an import may not change when it is rejected: record tables, places, forms, file links."""
    tables = [r[0] for r in store.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
        "AND table_name LIKE 'rec\\_%' ESCAPE '\\' ORDER BY table_name")]
    snap: dict = {"tables": tables}
    for t in tables:
        snap[t] = sorted(store.query(f"SELECT * FROM {t}"), key=repr)
    snap["places"] = store.scalar("SELECT count(*) FROM places")
    snap["forms"] = store.query("SELECT form_id, version, sha256 FROM forms ORDER BY form_id, version")
    snap["import_files"] = sorted(store.query("SELECT * FROM import_files"), key=repr)
    return snap


def import_log(store: Store) -> dict[int, tuple]:
    return {r[0]: r[1:] for r in store.query(
        "SELECT import_id, status, errors, rows_inserted, rows_updated FROM imports ORDER BY import_id")}


def _windows(line: str) -> list[str]:
    """Runs of three neighbouring non-empty cells, as they stand in the line: a finding holding one copies a row."""
    out = []
    for delim in (",", ";", "\t"):
        cells = next(csv.reader([line], delimiter=delim), [])
        for i in range(len(cells) - 2):
            run = cells[i:i + 3]
            if all(c.strip() for c in run):
                joined = delim.join(run)
                if len(joined) >= 12:
                    out.append(joined)
    return out


def assert_no_whole_rows(report: Report, data: bytes) -> None:
    """A finding holds at most one cell value (<= 80 characters), never a row or a piece of one."""
    text = data[:200_000].decode("utf-8", errors="replace")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    windows = {w for ln in lines for w in _windows(ln[:5000])}
    long_lines = [ln for ln in lines if len(ln) > MAX_VALUE_CHARS]
    for f in report.findings:
        assert f.value is None or len(f.value) <= MAX_VALUE_CHARS, f
        assert f.column is None or len(f.column) <= MAX_VALUE_CHARS, f"column name is a whole line: {f.column[:120]!r}"
        for text_field in (f.message, f.value, f.column):
            if not text_field:
                continue
            assert not any(ln in text_field for ln in long_lines), f"{f.code} copies a whole line: {text_field[:160]!r}"
            leaked = [w for w in windows if w in text_field]
            assert not leaked, f"{f.code} copies several cells of a row ({leaked[0]!r}): {text_field[:160]!r}"


def check_rejected(store: Store, case, path: Path, run) -> None:
    """Run one case's import on `store` and check everything the design promises about a rejection."""
    before, log_before = snapshot(store), import_log(store)
    kwargs = {"max_bytes": case.max_bytes} if case.max_bytes else {}
    result = run(store, path, kwargs)
    report = result.report
    found = dict(report.counts)

    assert result.status == "rejected", f"{case.id}: {result.status} with {found}"
    assert not report.ok
    assert result.inserted == result.updated == 0
    for code in case.codes:
        assert found.get(code, 0) >= 1, f"{case.id}: expected {code}, got {found}"
    errors = report.errors
    assert errors and all(f.code in _all_codes() for f in errors)
    for f in errors:
        assert f.file == case.filename, f"{case.id}: finding not located in its file: {f}"
    first = next(f for f in report.findings if f.code == case.codes[0])
    if case.row is not None:
        assert first.row == case.row, f"{case.id}: first {case.codes[0]} should be on row {case.row}: {first}"
    if case.column is not None:
        assert first.column == case.column, f"{case.id}: first {case.codes[0]} should be in {case.column}: {first}"
    assert_no_whole_rows(report, path.read_bytes())

    # the store holds exactly what it held before ...
    assert snapshot(store) == before, f"{case.id}: the store changed"
    # ... and the log says the attempt was rejected, with its error count
    log_after = import_log(store)
    assert {k: v for k, v in log_after.items() if k in log_before} == log_before
    new = {k: v for k, v in log_after.items() if k not in log_before}
    assert len(new) == 1, f"{case.id}: expected one new 'rejected' log row, found {new}"
    (import_id, (status, errors_logged, inserted, updated)), = new.items()
    assert result.import_id == import_id
    assert status == "rejected"
    assert errors_logged == report.error_count() >= 1
    assert not inserted and not updated


def _import(store: Store, path: Path, kwargs: dict):
    return import_files(store, "dtm", [path], user="tester", **kwargs)


# --- fixtures ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def earlier_template(places_template, tmp_path_factory) -> Path:
    """A DuckDB store with the DTM pack and one committed import of earlier.csv."""
    folder = tmp_path_factory.mktemp("earlier")
    path = folder / "passage.duckdb"
    shutil.copyfile(places_template, path)
    src = folder / "earlier.csv"
    src.write_bytes(make.earlier_csv())
    with open_store(str(path)) as s:
        install_pack(s, "dtm")
        r = import_files(s, "dtm", [src], user="tester")
        assert r.status == "committed", r.report.findings
    return path


@pytest.fixture
def earlier_store(earlier_template, tmp_path):
    path = tmp_path / "passage.duckdb"
    shutil.copyfile(earlier_template, path)
    archive = earlier_template.with_name(earlier_template.stem + ".files")
    if archive.exists():
        shutil.copytree(archive, path.with_name(path.stem + ".files"))
    with open_store(str(path)) as s:
        yield s


# --- the corpus itself ---------------------------------------------------------------------------------------


def test_corpus_is_well_formed():
    assert len(make.CASES) >= 20
    assert len({c.id for c in make.CASES}) == len(make.CASES)
    assert len({c.filename for c in make.CASES}) == len(make.CASES)
    for c in make.CASES:
        assert c.codes and all(code in _all_codes() for code in c.codes), c.id


def test_base_files_are_valid(earlier_store, tmp_path):
    """The bad files are the base files with one thing wrong: the base files themselves import cleanly."""
    csv_path = tmp_path / "base.csv"
    csv_path.write_bytes(make.base_csv())
    r = import_files(earlier_store, "dtm", [csv_path])
    assert r.status == "committed", r.report.findings
    assert r.inserted == len(make.base_rows())
    json_path = tmp_path / "base.json"
    doc = make.api_doc()
    for row in doc["result"]:
        row["roundNumber"] += 100  # other keys than the CSV's
    json_path.write_bytes(make._json(doc))
    r = import_files(earlier_store, "dtm", [json_path])
    assert r.status == "committed", r.report.findings
    assert r.inserted == len(doc["result"])


def test_make_writes_the_corpus(tmp_path):
    written = make.write_corpus(tmp_path)
    assert len(written) == len(make.CASES)
    assert (tmp_path / "expected.json").exists()
    assert (tmp_path / "empty.csv").read_bytes() == b""
    assert (tmp_path / "utf16.csv").read_bytes().startswith(b"\xff\xfe")


# --- every case ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case_id", list(CASES))
def test_bad_file_is_rejected(case_id, earlier_store, tmp_path):
    case = CASES[case_id]
    folder = tmp_path / "in"
    folder.mkdir()
    path = case.write(folder)
    check_rejected(earlier_store, case, path, _import)


@pytest.mark.postgres
@pytest.mark.parametrize("case_id", PG_CASES)
def test_bad_file_is_rejected_postgres(case_id, pg_store, tmp_path):
    src = tmp_path / "earlier.csv"
    src.write_bytes(make.earlier_csv())
    assert import_files(pg_store, "dtm", [src]).status == "committed"
    case = CASES[case_id]
    folder = tmp_path / "in"
    folder.mkdir()
    check_rejected(pg_store, case, case.write(folder), _import)


def test_rejected_then_fixed_file_imports(earlier_store, tmp_path):
    """A rejection leaves nothing behind that stops the corrected file from importing."""
    case = CASES["text-in-count"]
    bad = case.write(tmp_path)
    assert _import(earlier_store, bad, {}).status == "rejected"
    good = tmp_path / case.filename
    good.write_bytes(make.base_csv())
    r = _import(earlier_store, good, {})
    assert r.status == "committed", r.report.findings
    assert r.inserted == len(make.base_rows())


def test_cr_only_line_endings_do_not_crash(earlier_store, tmp_path):
    """Classic-Mac line endings (CR only): imported or rejected with a located finding, never an exception."""
    path = tmp_path / "cr.csv"
    path.write_bytes(make.render(make.base_rows(), newline="\r").encode("utf-8"))
    before = snapshot(earlier_store)
    result = import_files(earlier_store, "dtm", [path])
    if result.status == "committed":
        assert result.inserted == len(make.base_rows())
    else:
        assert result.status == "rejected"
        assert "csv-malformed" in result.report.counts, result.report.counts
        assert snapshot(earlier_store) == before
