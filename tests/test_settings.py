"""One typed settings object: precedence, located errors from every source, the archive folder on both
backends, and one upload limit concept applied on every upload path."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from passage import auth
from passage.cli import main
from passage.errors import UsageError
from passage.ingest import import_files
from passage.settings import Settings, env_name, keys, load_settings, reference
from passage.store import open_store
from passage.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
DTM_CSV = (
    "id,operation,admin0Name,admin0Pcode,admin1Name,admin1Pcode,admin2Name,admin2Pcode,adminLevel,numPresentIdpInd,"
    "reportingDate,yearReportingDate,monthReportingDate,roundNumber,displacementReason,numberMales,numberFemales,"
    "idpOriginAdmin1Name,idpOriginAdmin1Pcode,assessmentType,operationStatus\n"
    ",#operation+name,#country+name,#country+code,#adm1+name,#adm1+code,#adm2+name,#adm2+code,#adm+level,"
    "#affected+idps,#date+reported,#date+year+reported,#date+month+reported,#round+code,#cause+type,"
    "#affected+idps+m,#affected+idps+f,#adm1+name+origin,#adm1+code+origin,#assessment+type,#operation+status\n"
    "1,Chad,Chad,TCD,Lac,TCD07,Fouli,TCD0704,2,300,2023-05-31T00:00:00,2023,5,10,Conflict,100,150,,,BA,Active\n"
)
TINY = {"records": 100, "documents": 100, "boundaries": 100, "forms": 100}  # every test file here is larger
FORM = ROOT / "src" / "passage" / "packs" / "dtm" / "forms" / "dtm_idps.xlsx"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No PASSAGE_* variable or passage.toml of the machine leaks into these tests."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("PASSAGE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


# ---- precedence ------------------------------------------------------------------------------------------

def test_settings_alone_are_the_defaults_and_read_nothing(monkeypatch, tmp_path):
    write(tmp_path / "passage.toml", "[server]\nport = 8001\n")
    monkeypatch.setenv("PASSAGE_SERVER__PORT", "8002")
    monkeypatch.setenv("PASSAGE_ARCHIVE", str(tmp_path / "elsewhere"))
    defaults = Settings()
    assert defaults.server.port == 8000 and defaults.archive is None
    assert set(defaults.origins.values()) == {"default"}
    store = open_store(str(tmp_path / "lib.duckdb"))  # a library call: the environment plays no part
    try:
        assert store.archive_dir == tmp_path / "lib.files"
    finally:
        store.close()


def test_option_beats_environment_beats_file_beats_default(monkeypatch, tmp_path):
    write(tmp_path / "passage.toml", '[server]\nport = 8001\nhost = "0.0.0.0"\n[demo]\nseed = false\n'
                                     '[limits.upload_bytes]\nrecords = "1GiB"\n')
    monkeypatch.setenv("PASSAGE_SERVER__PORT", "8002")
    monkeypatch.setenv("PASSAGE_SERVER__HOST", "10.0.0.1")
    s = load_settings({"server.port": ("--port", 8003), "db": ("--db", None)})
    assert (s.server.port, s.server.host, s.demo.seed) == (8003, "10.0.0.1", False)
    assert s.limits.upload_bytes.records == 2**30 and s.limits.upload_bytes.documents == 50 * 2**20
    assert s.origins["server.port"] == "option --port"
    assert s.origins["server.host"] == "env PASSAGE_SERVER__HOST"
    assert s.origins["demo.seed"] == "file passage.toml"
    assert s.origins["limits.upload_bytes.records"] == "file passage.toml"
    assert s.origins["limits.upload_bytes.documents"] == "default"  # its group was given, not the key
    assert s.origins["db"] == "default"  # an option not given (None) is no source


def test_config_file_named_by_option_or_variable_else_the_current_folder(monkeypatch, tmp_path):
    write(tmp_path / "passage.toml", "[server]\nport = 8001\n")
    other = write(tmp_path / "other.toml", "[server]\nport = 8002\n")
    named = write(tmp_path / "named.toml", "[server]\nport = 8003\n")
    assert load_settings().server.port == 8001
    monkeypatch.setenv("PASSAGE_CONFIG", str(other))
    assert load_settings().server.port == 8002
    s = load_settings(config=named)
    assert s.server.port == 8003 and s.origins["server.port"] == f"file {named}"
    monkeypatch.delenv("PASSAGE_CONFIG")
    (tmp_path / "passage.toml").unlink()
    assert load_settings().origins["server.port"] == "default"  # no file at all is fine


def test_a_group_given_whole_as_json_in_one_variable(monkeypatch):
    monkeypatch.setenv("PASSAGE_SERVER", '{"port": 8123}')
    s = load_settings()
    assert s.server.port == 8123 and s.origins["server.port"] == "env PASSAGE_SERVER"
    assert s.origins["server.host"] == "default"


def test_cli_global_options_beat_the_environment(tmp_path):
    out = run("--db", str(tmp_path / "a.duckdb"), "settings", "--format", "csv",
              env={"PASSAGE_DB": str(tmp_path / "b.duckdb"), "PASSAGE_DEMO__DIR": "demo-here"})
    assert out.exit_code == 0, out.output
    rows = {r["key"]: r for r in csv.DictReader(io.StringIO(out.output))}
    assert set(rows) == set(keys())
    assert (rows["db"]["value"], rows["db"]["source"]) == (str(tmp_path / "a.duckdb"), "option --db")
    assert (rows["demo.dir"]["value"], rows["demo.dir"]["source"]) == ("demo-here", "env PASSAGE_DEMO__DIR")
    assert rows["server.port"]["source"] == "default"


def test_settings_command_masks_a_password_in_the_store_url():
    out = run("settings", env={"PASSAGE_DB": "postgresql://amina:s3cret-word@127.0.0.1:5432/test"})
    assert out.exit_code == 0, out.output
    assert "s3cret-word" not in out.output
    assert "postgresql://amina:***@127.0.0.1:5432/test" in out.output and "env PASSAGE_DB" in out.output


# ---- a bad value is a located usage error, from every source ------------------------------------------

BAD = {
    "option": ((["serve", "--port", "70000"], {}, None),
               ["option --port (server.port)", "less than or equal to 65535", "70000"]),
    "option, among several": ((["--archive", "x", "serve", "--export-cache-mb", "0", "--port", "0"], {}, None),
                              ["option --port (server.port)", "greater than or equal to 1"]),
    "environment": ((["settings"], {"PASSAGE_SERVER__PORT": "eighty"}, None),
                    ["environment variable PASSAGE_SERVER__PORT", "valid integer", "eighty"]),
    "environment, a size": ((["settings"], {"PASSAGE_LIMITS__UPLOAD_BYTES__RECORDS": "lots"}, None),
                            ["environment variable PASSAGE_LIMITS__UPLOAD_BYTES__RECORDS", "lots"]),
    "environment, an unknown key": ((["settings"], {"PASSAGE_SERVER__PROT": "8080"}, None),
                                    ["environment variable PASSAGE_SERVER__PROT", "did you mean server.port?"]),
    "environment, bad JSON": ((["settings"], {"PASSAGE_SERVER": "{port"}, None),
                              ["PASSAGE_SERVER must hold a JSON object"]),
    "file": ((["settings"], {}, '[server]\nport = "x"\n'),
             ["passage.toml, key server.port", "valid integer", "(got x)"]),
    "file, an unknown key": ((["settings"], {}, "[sever]\nport = 8080\n"),
                             ["passage.toml, key sever", "did you mean server?"]),
    "file, an unknown nested key": ((["settings"], {}, "[limits.upload_bytes]\nrecord = 5\n"),
                                    ["key limits.upload_bytes.record", "did you mean limits.upload_bytes.records?"]),
    "file, not TOML": ((["settings"], {}, "[server\nport = 1\n"), ["passage.toml is not valid TOML", "line 1"]),
    "file named but missing": ((["--config", "nowhere.toml", "settings"], {}, None),
                               ["config file nowhere.toml (named by --config) does not exist"]),
    "file named by the variable but missing": ((["settings"], {"PASSAGE_CONFIG": "gone.toml"}, None),
                                               ["config file gone.toml (named by PASSAGE_CONFIG) does not exist"]),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_a_bad_value_names_its_source(case, tmp_path):
    (args, env, toml), expected = BAD[case]
    if toml is not None:
        write(tmp_path / "passage.toml", toml)
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 2, result.output
    for text in expected:
        assert text in result.stderr, (text, result.stderr)
    assert not (tmp_path / "passage.duckdb").exists()  # refused before any store was opened


def test_library_errors_are_usage_errors_with_codes(tmp_path):
    with pytest.raises(UsageError) as info:
        load_settings({"server.port": ("--port", -1)})
    assert info.value.code == "settings.value"
    write(tmp_path / "passage.toml", "[server]\nworkers = 4\n")
    with pytest.raises(UsageError) as info:
        load_settings()
    assert info.value.code == "settings.unknown_key" and "known here: host, port, secure_cookies" in str(info.value)


# ---- the archive folder ----------------------------------------------------------------------------------

def _archived(folder: Path, data: str) -> Path:
    return folder / (hashlib.sha256(data.encode()).hexdigest() + ".csv")


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_archive_folder_is_honoured_by_both_stores(backend, request, tmp_path):
    """Each with P-codes loaded; the default folder would be ./passage.files (PostgreSQL, run from tmp_path)
    or passage.files beside tmp_path/passage.duckdb."""
    url = str(request.getfixturevalue("store_path")) if backend == "duckdb" else request.getfixturevalue("pg_store").url
    archive = tmp_path / "archive-here"
    source = write(tmp_path / "round10.csv", DTM_CSV)
    store = open_store(url, Settings(archive=archive))
    try:
        result = import_files(store, "dtm", [source], user="settings-test")
        assert result.status == "committed", result.report.findings
        assert _archived(archive, DTM_CSV).read_text(encoding="utf-8") == DTM_CSV
        assert store.sibling().archive_dir == archive  # other threads' handles archive there too
    finally:
        store.close()
    assert not (tmp_path / "passage.files").exists()


def test_archive_folder_from_the_cli_option_and_the_environment(store_path, tmp_path):
    first = write(tmp_path / "first.csv", DTM_CSV)
    second = write(tmp_path / "second.csv", DTM_CSV.replace("300,2023-05-31", "301,2023-05-31"))
    out = run("--db", str(store_path), "--archive", str(tmp_path / "by-option"), "import", "dtm", str(first))
    assert out.exit_code == 0, out.output
    out = run("--db", str(store_path), "import", "dtm", "--update", str(second),
              env={"PASSAGE_ARCHIVE": str(tmp_path / "by-env")})
    assert out.exit_code == 0, out.output
    assert _archived(tmp_path / "by-option", first.read_text()).exists()
    assert _archived(tmp_path / "by-env", second.read_text()).exists()
    assert not store_path.with_suffix(".files").exists()


# ---- one upload limit, every upload path -----------------------------------------------------------------

def _files(tmp_path: Path) -> dict[str, Path]:
    feature = {"type": "Feature", "properties": {"ADM1_PCODE": "TCD07"},
               "geometry": {"type": "Point", "coordinates": [14.0, 13.0]}}
    return {
        "records": write(tmp_path / "big.csv", DTM_CSV),
        "boundaries": write(tmp_path / "big.geojson", json.dumps({"type": "FeatureCollection",
                                                                   "features": [feature] * 3})),
        "documents": write(tmp_path / "big.pdf", "%PDF-1.4\n" + "x" * 400),
        "forms": FORM,
    }


CLI_PATHS = {
    "records": (["import", "dtm"], "file-too-large"),
    "boundaries": (["import", "boundaries"], "boundary.too_large"),
    "documents": (["documents", "add", "--title", "Big"], "doc.too_large"),
    "forms": (["forms", "install"], "file-too-large"),
}


@pytest.mark.parametrize("kind", list(CLI_PATHS))
def test_the_cli_refuses_a_file_over_its_kinds_limit(kind, store_path, tmp_path):
    path = _files(tmp_path)[kind]
    args, code = CLI_PATHS[kind]
    env = {env_name(f"limits.upload_bytes.{kind}"): "100"}
    out = CliRunner().invoke(main, ["--db", str(store_path), *args, str(path)], env=env)
    assert out.exit_code == 1, out.output
    assert code in out.stderr and "100" in out.stderr
    out = CliRunner().invoke(main, ["--db", str(store_path), *args, str(path)])  # the default limit lets it in
    assert code not in out.stderr


def test_library_calls_take_the_limit_from_their_store(store_path, tmp_path):
    from passage.documents import add_document
    from passage.places.boundaries import import_boundaries

    files = _files(tmp_path)
    store = open_store(str(store_path), Settings(limits={"upload_bytes": TINY}))
    try:
        result = import_files(store, "dtm", [files["records"]])
        assert [f.code for f in result.report.errors] == ["file-too-large"]
        boundaries = import_boundaries(store, files["boundaries"])
        assert [f.code for f in boundaries.report.errors] == ["boundary.too_large"]
        document = add_document(store, files["documents"], title="Big")
        assert [f.code for f in document.report.errors] == ["doc.too_large"]
    finally:
        store.close()


PORTAL_PATHS = {
    "records": ("/api/v1/imports", {"kind": "dtm"}),
    "documents": ("/documents/new", {"title": "Big", "places": "TCD"}),
    "forms": ("/forms", {}),
}


@pytest.mark.parametrize("kind", list(PORTAL_PATHS))
def test_the_portal_refuses_an_upload_over_its_kinds_limit(kind, store_path, tmp_path):
    with open_store(str(store_path)) as store:
        auth.add_user(store, "admin-settings", "a long enough passphrase 1", "admin")
        _, secret = auth.create_token(store, "admin-settings", "settings test")
    url, form = PORTAL_PATHS[kind]
    path = _files(tmp_path)[kind]
    headers = {"Authorization": f"Bearer {secret}", "Accept": "application/json"}
    tiny = Settings(limits={"upload_bytes": {kind: 100}})
    with TestClient(create_app(str(store_path), tiny)) as c:
        answer = c.post(url, data=form, files={"file": (path.name, path.read_bytes())}, headers=headers)
    assert answer.status_code == 400, answer.text[:500]
    assert answer.json()["error"]["code"] == "file-too-large"
    assert "upload limit of 100 bytes" in answer.json()["error"]["message"]


def test_nothing_else_reads_its_own_limit():
    """The upload limits live in settings only: no module keeps a number of its own beside them."""
    import re

    src = ROOT / "src" / "passage"
    own = [f"{p.relative_to(src)}: {line.strip()}" for p in src.rglob("*.py") if p.name != "settings.py"
           for line in p.read_text(encoding="utf-8").splitlines()
           if re.search(r"(MAX_UPLOAD|max_upload|MAX_BYTES)\w*\s*=", line)
           or re.search(r"(os\.environ|getenv).*PASSAGE_(?!PASSWORD)", line)]
    assert not own, own


# ---- documentation ---------------------------------------------------------------------------------------

def test_operations_doc_lists_every_setting():
    """docs/operations.md holds `passage.settings.reference()`: regenerate it with `python tools/settings_docs.py`."""
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert reference() in text, "docs/operations.md is out of date: run python tools/settings_docs.py"
    for key in keys():
        assert f"`{env_name(key)}`" in text


def test_postgresql_reader_settings(pg_store):
    """Readers' queries (the Ibis connection) run with the configured work_mem and without JIT."""
    from passage.settings import Settings
    from passage.store import open_store

    assert pg_store.ibis().raw_sql("SHOW work_mem").fetchall() == [("64MB",)]
    other = open_store(pg_store.url, Settings(postgresql={"work_mem": "16MB", "jit": True}))
    try:
        assert other.ibis().raw_sql("SHOW work_mem").fetchall() == [("16MB",)]
        assert other.ibis().raw_sql("SHOW jit").fetchall() == [("on",)]
    finally:
        other.close()
    with pytest.raises(ValueError):
        Settings(postgresql={"work_mem": "64MB; DROP TABLE x"})
