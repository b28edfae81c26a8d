"""Hostile files: huge cells, rows a parser drops, zip bombs, deep JSON, a full disk.

Each is refused with a located, coded finding (or, for a full disk, one clear error) and leaves the store
as it was; the next import works. The large files are written per test by `tests/bad_files/hostile.py`
and removed afterwards; the zip bomb is a 1 MB file declaring 1 GiB.
"""

from __future__ import annotations

import csv
import errno
import importlib.util
import io
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from passage.errors import DiskFull, ImportRejected
from passage.findings import Report
from passage.forms import compile_xlsform, install_form
from passage.ingest import csvfile, csvscan, files, import_files
from passage.ingest.files import describe
from passage.ingest.xlsx import MAX_RATIO, check_workbook, open_workbook
from passage.plugins import install_pack
from passage.store import open_store

HERE = Path(__file__).parent
MIB = 1 << 20


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


make = _load("passage_bad_files", HERE / "bad_files" / "make.py")
hostile = _load("passage_hostile_files", HERE / "bad_files" / "hostile.py")
KOBO = HERE / "fixtures" / "xlsform"
WHERE = {"first": 0, "middle": 1, "last": 2, "only": 0}


@pytest.fixture
def dtm_store(store):
    install_pack(store, "dtm")
    return store


@pytest.fixture
def kobo_store(store):
    install_form(store, compile_xlsform(KOBO / "household_survey.xlsx"))
    return store


@pytest.fixture
def big(tmp_path):
    """A folder for large files, emptied after the test (pytest keeps old tmp folders)."""
    folder = tmp_path / "big"
    folder.mkdir()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def log(store) -> list[tuple]:
    return store.query("SELECT import_id, status FROM imports ORDER BY import_id")


def records(store, table: str) -> int:
    return store.scalar(f"SELECT count(*) FROM {table}") if store.table_exists(table) else 0


def _dtm_lines(where: str) -> tuple[list[bytes], int]:
    """The DTM HDX CSV (header, HXL row, 3 data rows; 1 for "only"), the data line to enlarge."""
    rows = make.base_rows()[:1 if where == "only" else 3]
    rows[WHERE[where]]["admin1Name"] = "HUGE"
    text = make.render(rows).encode("utf-8")
    return text.splitlines(keepends=True), 2 + WHERE[where]


def _kobo_lines(where: str, style: str) -> tuple[list[bytes], int]:
    """Kobo's CSV export (`;`, every value quoted, CRLF; 6 submissions, or 1 for "only"); `plain`: the same
    rows comma-separated, quoted only where needed, LF."""
    lines = (KOBO / "export.csv").read_bytes().splitlines(keepends=True)
    if style == "plain":
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(csv.reader(io.StringIO((KOBO / "export.csv").read_text()),
                                                                   delimiter=";"))
        lines = out.getvalue().encode().splitlines(keepends=True)
    data = lines[1:2] if where == "only" else lines[1:]
    index = {"first": 0, "middle": 2, "last": len(data) - 1, "only": 0}[where]
    return [lines[0], *data], 1 + index


# --- item 4: a huge cell anywhere is a located cell-too-long; rows a parser drops are a mismatch -------------


@pytest.mark.parametrize("where", ["first", "middle", "last", "only"])
def test_huge_cell_in_dtm_csv_is_located(where, dtm_store, big):
    """50 MiB in one cell: before, the last row was dropped without a word ("committed: 2 new of 2 rows"),
    the first or middle one crashed DuckDB's parallel reader, the only one read as `file-empty`."""
    lines, line = _dtm_lines(where)
    path = hostile.huge_cell_file(big / "dtm.csv", lines, line, b"HUGE")
    before = log(dtm_store)
    result = import_files(dtm_store, "dtm", [path], user="tester")
    assert result.status == "rejected", result.report.flat()
    first = result.report.errors[0]
    assert (first.code, first.file, first.row) == ("cell-too-long", "dtm.csv", line + 1)
    assert first.value is None and len(first.message) < 200
    assert records(dtm_store, "rec_dtm_idps") == 0
    assert log(dtm_store)[len(before):] == [(result.import_id, "rejected")]


@pytest.mark.parametrize("style", ["kobo", "plain"])
@pytest.mark.parametrize("where", ["first", "middle", "last", "only"])
def test_huge_cell_in_kobo_csv_is_located(where, style, kobo_store, big):
    lines, line = _kobo_lines(where, style)
    marker = next(m for m in (b"borehole", b"truck", b"piped") if m in lines[line])
    path = hostile.huge_cell_file(big / "export.csv", lines, line, marker)
    result = import_files(kobo_store, "xlsform-data", [path], form_id="household_survey", user="tester")
    assert result.status == "rejected", result.report.flat()
    first = result.report.errors[0]
    assert (first.code, first.file, first.row) == ("cell-too-long", "export.csv", line + 1)
    assert records(kobo_store, "rec_household_survey") == 0


def test_rows_the_parser_drops_are_a_mismatch(dtm_store, big):
    """The count check on its own, against DuckDB's real reader: a 50 MiB last row that DuckDB drops
    silently (its line is over max_line_size) makes the staged rows differ from the file's records."""
    lines, line = _dtm_lines("last")
    path = hostile.huge_cell_file(big / "dtm.csv", lines, line, b"HUGE")
    f = describe(path)
    assert f.shape.records.count == 5 and f.shape.records.long[0] == 5
    header = make.COLUMNS
    eng = dtm_store.engine()
    csvfile.raw_view(eng, path, "t_raw", header, skip=2)
    report = Report()
    staged = csvfile.materialise(eng, "t_raw", "t_stage", "src.*", report, f.name, append=False)
    assert report.ok and staged == 2  # what the importer used to load: 2 of 3 rows, no error
    csvfile.check_row_count(f, f.shape.records, staged, skip=2, columns=len(header), report=report)
    assert [(x.code, x.file, x.value) for x in report.errors] == [("row-count-mismatch", "dtm.csv", "3")]


@pytest.mark.parametrize("text, ncols, delim", [
    (b"a,b\n1,2\n3,4\n", 2, ","),
    (b"a,b\r\n1,2\r\n\r\n3,4\r\n\r\n", 2, ","),  # blank lines are skipped
    (b"a,b\r1,2\r3,4", 2, ","),  # classic Mac line ends, no final one
    (b'\xef\xbb\xbf"a","b"\n"1","x\ny"\n', 2, ","),  # BOM, a line end inside a quoted cell
    (b'a,b\n1,ab"c\n3,4\n', 2, ","),  # a stray quote is a literal: counted exactly by the csv module
    (b'a;b\n"1;2";"3"\n4;5\n', 2, ";"),
    (b"a\n1\n\n3\n\n", 1, ","),  # one column: an empty line is a row
    (b'a,b\n1,"q"",\r\n""x"\n', 2, ","),
])
def test_record_count_agrees_with_duckdb(text, ncols, delim, tmp_path):
    """The scan counts what DuckDB's reader returns (line ends, quotes, blank lines, BOM, stray quotes)."""
    assert _agree(text, tmp_path, ncols, delim)


def test_record_count_agrees_with_duckdb_on_generated_files(tmp_path):
    rng = random.Random(7)
    cells = ["a", "", "xy", '"q,u"', '"a""b"', '"multi\nline"', '"cr\r\nx"', 'ab"c', "x y"]
    compared = 0
    for _ in range(250):
        ncols, nl, delim = rng.choice([1, 2, 3]), rng.choice(["\n", "\r\n", "\r"]), rng.choice([",", ";", "\t"])
        rows = ["" if rng.random() < 0.15 else delim.join(rng.choice(cells).replace(",", delim)
                                                          for _ in range(ncols)) for _ in range(rng.randint(0, 6))]
        header = delim.join((f'"h{i}"' if rng.random() < 0.5 else f"h{i}") for i in range(ncols))
        text = nl.join([header, *rows]) + (nl if rng.random() < 0.7 else "")
        compared += _agree(text.encode(), tmp_path, ncols, delim)
    assert compared > 150  # most generated files are ones DuckDB reads


def _agree(data: bytes, tmp_path: Path, ncols: int, delim: str) -> bool:
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(ncols)) + "}"
    try:
        want = len(duckdb.sql(
            f"SELECT * FROM read_csv('{path}', auto_detect=false, header=false, skip=1, columns={cols}, "
            f"delim='{delim}', quote='\"', escape='\"', strict_mode=true)").fetchall())
    except duckdb.Error:
        return False  # DuckDB refuses the file: the import reports that, no count is compared
    for block in (1, 3, 1 << 22):  # line ends and quotes split across blocks
        s = csvscan.Scanner()
        for i in range(0, len(data), block):
            s.feed(data[i:i + block])
        got = csvscan.records(path, s.result(), delim)
        assert got is not None and got.data_rows(1, ncols) == want, (data, block, got)
    assert csvscan.count_exact(path, delim).data_rows(1, ncols) == want
    return True


# --- item 8: zip bombs refused from the zip directory; JSON nested too deep ----------------------------------


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """1 MB on disk, 1 GiB of sheet XML once unzipped: one cell of a thousand million "x"s."""
    path = hostile.xlsx_bomb(tmp_path_factory.mktemp("bomb") / "export.xlsx")
    assert path.stat().st_size < 2 * MIB
    return path


def test_bomb_is_a_genuine_workbook(bomb, tmp_path):
    """The bomb is real: the same construction at 4 MiB opens in openpyxl and holds the whole cell."""
    import openpyxl

    small = hostile.xlsx_bomb(tmp_path / "small.xlsx", mib=4)
    wb = openpyxl.load_workbook(small, read_only=True)
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    wb.close()
    assert rows[0] == ("start",) and len(rows[1][0]) == 4 * MIB
    import zipfile

    with zipfile.ZipFile(bomb) as z:
        part = z.getinfo("xl/worksheets/sheet1.xml")
        assert part.file_size > 1 << 30
        with z.open(part) as fh:
            assert fh.read(1 << 20).count(b"x") > 900_000  # it does inflate to what it declares


def test_zip_bomb_refused_before_parsing(bomb, store_path, tmp_path):
    """An xlsform-data import of the bomb, in a child process: refused with `workbook-too-large`, and the
    child never held more than a few hundred MB (parsing it took 4.6 GB)."""
    with open_store(str(store_path)) as s:
        install_form(s, compile_xlsform(KOBO / "household_survey.xlsx"))
    child = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from passage.ingest import import_files\n"
        "from passage.store import open_store\n"
        "with open_store(sys.argv[1]) as store:\n"
        "    r = import_files(store, 'xlsform-data', [Path(sys.argv[2])], form_id='household_survey')\n"
        # VmHWM: this process's own peak (ru_maxrss keeps the parent's size across fork and exec)
        "hwm = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
        "print(json.dumps({'status': r.status, 'findings': [f.as_dict() for f in r.report.findings],\n"
        "                  'rss_mb': hwm // 1024}))\n"
    )
    out = subprocess.run([sys.executable, "-c", child, str(store_path), str(bomb)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["status"] == "rejected"
    assert [(f["code"], f["file"]) for f in got["findings"]] == [("workbook-too-large", "export.xlsx")]
    assert "xl/worksheets/sheet1.xml" in got["findings"][0]["message"]
    assert got["rss_mb"] < 600, got


def test_zip_bomb_refused_everywhere_a_workbook_is_opened(bomb, store):
    """ACAPS import, XLSForm install (pyxform) and the shared opener all refuse it from the directory."""
    result = import_files(store, "acaps", [bomb])
    assert result.status == "rejected"
    assert [(f.code, f.file) for f in result.report.errors] == [("workbook-too-large", "export.xlsx")]
    with pytest.raises(ImportRejected) as exc:
        compile_xlsform(bomb)
    assert [f.code for f in exc.value.report.errors] == ["workbook-too-large"]
    report = Report()
    assert open_workbook(bomb, report) is None and report.flat() == [(None, None, "workbook-too-large")]


def test_workbook_limits(tmp_path):
    """Each limit on its own: parts, total size, ratio; ordinary workbooks pass."""
    for ok in (KOBO / "export.xlsx", KOBO / "household_survey.xlsx"):
        assert check_workbook(ok) is None
    many = hostile.write_zip(tmp_path / "many.xlsx", [hostile._part(f"p{i}.xml", b"<a/>") for i in range(30)])
    assert check_workbook(many, max_parts=20).code == "workbook-too-large"
    assert check_workbook(many) is None
    sheet = hostile.xlsx_bomb(tmp_path / "two.xlsx", mib=2)  # ~1000 to 1, 2 MiB
    assert check_workbook(sheet).code == "workbook-too-large"
    assert check_workbook(sheet, max_ratio=2000) is None
    assert check_workbook(sheet, max_ratio=2000, max_expanded=MIB).code == "workbook-too-large"
    assert MAX_RATIO == 100
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    assert check_workbook(broken).code == "file-unreadable"


def test_json_nested_too_deep_is_malformed(dtm_store, tmp_path):
    """100,000 nested arrays (the parser recurses once per level): a finding, not a server error."""
    for name, data in (("deep.json", b"[" * 100_000 + b"]" * 100_000),
                       ("deep_count.json", b'{"result": [], "isSuccess": false, "errorMessages": ['
                        + b"[" * 900 + b"]" * 900 + b"]}")):
        path = tmp_path / name
        path.write_bytes(data)
        result = import_files(dtm_store, "dtm", [path])
        assert result.status == "rejected"
        assert result.report.errors[0].file == name
        assert result.report.errors[0].code in ("json-malformed", "dtm.api-unsuccessful")


# --- item 11: a full disk -------------------------------------------------------------------------------------


def _mount_tiny(folder: Path, size: str = "1m") -> bool:
    """A tmpfs of `size` at `folder` (root only, where mounting is allowed): a real disk that fills up."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True)
    return done.returncode == 0


def _umount(folder: Path) -> None:
    subprocess.run(["umount", str(folder)], capture_output=True)


@pytest.fixture
def full_archive(store_path, monkeypatch):
    """The store's archive directory on a 1 MiB disk; where mounting is not allowed, a copy that fails
    with ENOSPC after writing part of the file (what a full disk does)."""
    archive = store_path.with_name(store_path.stem + ".files")
    mounted = _mount_tiny(archive)
    if not mounted:
        real = shutil.copyfile

        def copyfile(src, dst, *a, **kw):
            if Path(src).stat().st_size > MIB:
                Path(dst).write_bytes(Path(src).read_bytes()[:MIB])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
            return real(src, dst, *a, **kw)

        monkeypatch.setattr(files.shutil, "copyfile", copyfile)
    yield archive
    if mounted:
        _umount(archive)


def test_archive_on_full_disk(full_archive, store_path, tmp_path):
    """A 2 MB upload into a 1 MiB archive: `store.disk_full`, no `.part` left, the import logged as failed,
    nothing loaded; the next (smaller) file imports."""
    big_file = tmp_path / "big.csv"
    big_file.write_bytes(make.render(make._many_rows(15_000)).encode())
    assert big_file.stat().st_size > 2 * MIB
    small = tmp_path / "small.csv"
    small.write_bytes(make.base_csv())
    with open_store(str(store_path)) as s:
        install_pack(s, "dtm")
        with pytest.raises(DiskFull) as exc:
            import_files(s, "dtm", [big_file], user="tester")
        assert exc.value.code == "store.disk_full" and exc.value.http_status == 507
        assert "disk is full" in str(exc.value) and "big.csv" in str(exc.value)
        assert list(full_archive.glob("*.part")) == [] and list(full_archive.iterdir()) == []
        ((status, message),) = s.query("SELECT status, message FROM imports")
        assert status == "failed" and message.startswith("DiskFull: the disk is full")
        assert records(s, "rec_dtm_idps") == 0
        r = import_files(s, "dtm", [small], user="tester")
        assert r.status == "committed", r.report.flat()
        assert r.inserted == len(make.base_rows())
        assert [p.suffix for p in full_archive.iterdir()] == [".csv"]


def test_staging_on_full_disk(store_path, tmp_path):
    """DuckDB spills staging data to its temp directory: a full one gives `store.disk_full`, and the
    import after it (small enough not to spill) is committed. The temp directory is a 1 MiB tmpfs; where
    mounting is not allowed, DuckDB's own cap on it (which defaults to the disk's free space) is 1 MiB."""
    temp = tmp_path / "spill"
    mounted = _mount_tiny(temp)
    try:
        big_file = tmp_path / "big.csv"
        from passage.packs.dtm.demo import generate_rows_csv

        generate_rows_csv(big_file, 250_000)
        assert big_file.stat().st_size > 35 * MIB
        small = tmp_path / "small.csv"
        small.write_bytes(make.base_csv())
        with open_store(str(store_path)) as s:
            install_pack(s, "dtm")
            eng = s.engine()
            eng.execute(f"SET temp_directory = '{temp}'")
            if not mounted:
                eng.execute("SET max_temp_directory_size = '1MiB'")
            eng.execute("SET memory_limit = '48MB'")
            eng.execute("SET threads = 1")
            with pytest.raises(DiskFull) as exc:
                import_files(s, "dtm", [big_file], user="tester")
            assert exc.value.code == "store.disk_full"
            ((status, message),) = s.query("SELECT status, message FROM imports")
            assert status == "failed" and "disk is full" in message
            assert records(s, "rec_dtm_idps") == 0
            archive = store_path.with_name(store_path.stem + ".files")
            assert list(archive.glob("*.part")) == []
            r = import_files(s, "dtm", [small], user="tester")
            assert r.status == "committed", r.report.flat()
    finally:
        if mounted:
            _umount(temp)
        (tmp_path / "big.csv").unlink(missing_ok=True)  # 40 MB, and its archived copy: pytest keeps tmp folders
        shutil.rmtree(store_path.with_name(store_path.stem + ".files"), ignore_errors=True)
