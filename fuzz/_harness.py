"""What every fuzz harness shares: the store it stages into, the rule of what is handled, the atheris driver.

A harness is one file `fuzz/fuzz_<target>.py` defining `seeds()` (name -> bytes, real small inputs from the
repository) and `one_input(data)`; `run(seeds, one_input)` is its `__main__`:

    .venv/bin/python fuzz/fuzz_csv.py -max_total_time=600 -timeout=20 -rss_limit_mb=3072 CORPUS_DIR

It writes its seeds into the first corpus folder it is given (once), then hands the arguments to libFuzzer
(through atheris). `bench/fuzz.sh` runs every harness this way.

Handled (not a finding of the fuzzer), for every input:

* the reader returns: every finding it made carries a code registered in `passage.findings` and, when it is
  an error, names the file it is about (`file`), and at least one error when the reader staged nothing
  but said the file was wrong — in short a located, coded report;
* or the reader raises a `PassageError` (UsageError, ImportRejected, NotFound, ...): a coded error.

Anything else is a crash: any other exception (a `duckdb.Error`, `KeyError`, `RecursionError`,
`zipfile.BadZipFile`, ...), a finding with an unregistered code or without its file, staging tables left
behind in the store's engine, a hang past `-timeout` seconds or memory past `-rss_limit_mb`.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
SHARED = ROOT.parent / "shared" / "data"
PCODES = SHARED / "pcodes" / "global-pcodes-adm-1-2.csv"
LENGTHS = SHARED / "pcodes" / "global-pcode-lengths.csv"
COUNTRIES = ("TCD", "NGA")  # the places of the seeds (the bad-file corpus's Chad and Nigeria)

with atheris.instrument_imports(include=["passage"]):
    import passage.checks
    import passage.documents.extract
    import passage.forms
    import passage.ingest.csvfile
    import passage.ingest.csvscan
    import passage.ingest.files
    import passage.ingest.pipeline
    import passage.ingest.xlsform_data
    import passage.ingest.xlsx
    import passage.packs.dtm.importer
    import passage.places.boundaries
    import passage.publish.hxl  # noqa: F401
    from passage.errors import PassageError
    from passage.findings import ERROR, Report, all_codes

HANDLED = (PassageError,)


class Unhandled(AssertionError):
    """A reader's outcome that breaks the contract (an unregistered code, an unlocated error, a leak)."""


def load_module(name: str, path: Path):
    """A test helper module (tests/bad_files/make.py) loaded by path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def bad_files():
    return load_module("passage_bad_files", TESTS / "bad_files" / "make.py")


def seeds_from_corpus(suffix: str, limit: int = 20_000) -> dict[str, bytes]:
    """The bad-file corpus's cases whose file name ends with `suffix` (case id -> bytes), those of at most
    `limit` bytes: small seeds keep each execution fast."""
    out = {}
    for case in bad_files().CASES:
        if case.filename.endswith(suffix):
            data = case.build()
            if len(data) <= limit:
                out[case.id] = data
    return out


_tmp: Path | None = None


def workdir() -> Path:
    """A temporary folder of this process, removed at exit."""
    global _tmp
    if _tmp is None:
        _tmp = Path(tempfile.mkdtemp(prefix="passage-fuzz-"))
        atexit.register(shutil.rmtree, _tmp, True)
    return _tmp


_store = None


def store(*, places: bool = False, packs: tuple[str, ...] = (), xlsforms: tuple[Path, ...] = ()):
    """One DuckDB store per process in the work folder, its engine single-threaded (the machine is shared).
    `places`: Chad's and Nigeria's P-codes from OCHA's table (the seeds' places)."""
    global _store
    if _store is not None:
        return _store
    from passage.forms import compile_xlsform, install_form
    from passage.plugins import install_pack
    from passage.store import open_store

    _store = open_store(str(workdir() / "passage.duckdb"))
    _store.engine().execute("SET threads = 1")
    if places:
        from passage.places import import_lengths, import_pcodes

        lines = PCODES.read_text(encoding="utf-8-sig").splitlines(keepends=True)
        few = workdir() / "pcodes.csv"
        few.write_text("".join(lines[:2] + [ln for ln in lines[2:] if ln.split(",", 1)[0] in COUNTRIES]),
                       encoding="utf-8")
        assert import_pcodes(_store, few).ok
        assert import_lengths(_store, LENGTHS).ok
    for pack in packs:
        install_pack(_store, pack)
    for form in xlsforms:
        install_form(_store, compile_xlsform(form))
    return _store


def write_input(data: bytes, name: str) -> Path:
    path = workdir() / "in" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return path


def check_report(report: Report, name: str | None) -> None:
    """Every finding coded with a registered code; every error located in its file (when `name` is given)."""
    codes = all_codes()
    for f in report.findings:
        if f.code not in codes:
            raise Unhandled(f"finding with an unregistered code: {f}")
        if name is not None and f.severity == ERROR and f.file != name:
            raise Unhandled(f"error finding not located in its file {name!r}: {f}")


def temp_tables(eng) -> set[str]:
    return {r[0] for r in eng.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary UNION ALL "
        "SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal").fetchall()}


def stage(kind: str, path: Path, *, form_id: str | None = None, options: dict | None = None) -> Report:
    """The import's parse-and-stage step, as `ImportJob.stage` runs it, on the store's engine; the staging
    tables are dropped afterwards and must be the only ones it left. Returns the report."""
    from passage.ingest.files import describe
    from passage.ingest.pipeline import ImportJob

    s = _store
    eng = s.engine()
    before = temp_tables(eng)
    report = Report()
    try:
        job = ImportJob.prepare(s, kind, [path], form_id=form_id, user=None, update=False, progress=None,
                                scopes=None, options=options or {})
    except HANDLED:
        return report
    table = "_stage_fuzz"
    importer = job.importer
    try:
        try:
            importer.stage(eng, [describe(path)], table, report)
        except HANDLED:
            pass
        check_report(report, path.name)
    finally:
        for name in (table, f"{table}_raw", *importer.staging_tables()):
            eng.execute(f"DROP TABLE IF EXISTS {name}")
        for name in temp_tables(eng) - before:  # dropped so the next input starts clean; reported below
            eng.execute(f"DROP VIEW IF EXISTS {name}")
            eng.execute(f"DROP TABLE IF EXISTS {name}")
    left = temp_tables(eng) - before
    if left:
        raise Unhandled(f"staging left temporary tables or views behind: {sorted(left)}")
    return report


def run(seeds: Callable[[], dict[str, bytes]], one_input: Callable[[bytes], None],
        setup: Callable[[], None] | None = None) -> None:
    """The harness's main: set up, write the seeds into the first corpus folder given, run libFuzzer."""
    folders = [a for a in sys.argv[1:] if not a.startswith("-")]
    if folders and not Path(folders[0]).is_file():  # a file given is one input to run again, not a corpus
        corpus = Path(folders[0])
        corpus.mkdir(parents=True, exist_ok=True)
        if not any(corpus.iterdir()):
            for name, data in seeds().items():
                (corpus / f"seed-{name}").write_bytes(data)
    if setup is not None:
        setup()
    os.environ.setdefault("PASSAGE_FUZZ", "1")
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
