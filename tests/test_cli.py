"""The CLI contract: commands, exit codes 0/1/2, reports on stderr, `--report` JSON, exports.

Commands run in this process (`passage_cli`); the exit codes and stderr of the real process, as a shell sees
them, are checked through `passage_process`."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

from cli_run import passage_cli
from dtm_rows import NGA, TCD, api_rows, write_csv, write_json


def passage(store_path, *args, check=None):
    return _checked(passage_cli("--db", store_path, *args), check)


def passage_process(store_path, *args, check=None):
    """`python -m passage …` in a process of its own: the exit status and stderr a shell sees."""
    proc = subprocess.run([sys.executable, "-m", "passage", "--db", str(store_path), *args],
                          check=False, capture_output=True, text=True, timeout=120)
    return _checked(proc, check)


def _checked(proc: subprocess.CompletedProcess, check: int | None) -> subprocess.CompletedProcess:
    if check is not None:
        assert proc.returncode == check, proc.stderr
    return proc


def test_import_log_export(store_path, tmp_path):
    nga = write_csv(tmp_path / "nga.csv", api_rows("NGA", NGA))
    tcd = write_json(tmp_path / "tcd.json", api_rows("TCD", TCD))
    out = passage(store_path, "import", "dtm", str(nga), str(tcd), check=0)
    assert "committed: 10 new" in out.stdout
    assert "pcode-length" in out.stderr  # warnings are shown, not hidden
    again = passage(store_path, "import", "dtm", str(nga), str(tcd), check=0)
    assert again.stdout.startswith("unchanged")
    log = passage(store_path, "log", check=0).stdout
    assert "committed" in log and "operator" in log  # the store's operator, without --user
    public = passage(store_path, "export", "hapi-idps", "--format", "csv", check=0)
    assert "what the public sees" in public.stderr
    assert list(csv.DictReader(public.stdout.splitlines())) == []  # nothing is published yet
    passage(store_path, "publish", "dtm_idps", "--country", "NGA", check=0)
    hapi = passage(store_path, "export", "hapi-idps", "--format", "csv", check=0).stdout
    assert {r["location_code"] for r in csv.DictReader(hapi.splitlines())} == {"NGA"}
    _checked(passage_cli("--db", store_path, "users", "add", "boss", "--role", "admin", "--password-stdin",
                         input="a-long-password\n"), 0)
    every = passage(store_path, "--user", "boss", "export", "hapi-idps", "--format", "csv", "--all", check=0).stdout
    assert {r["location_code"] for r in csv.DictReader(every.splitlines())} == {"NGA", "TCD"}
    hxl_out = tmp_path / "dtm.csv"
    passage(store_path, "export", "dtm_idps", "--format", "hxl", "--validate", "-o", str(hxl_out), check=0)
    assert hxl_out.read_text(encoding="utf-8").splitlines()[1].startswith(",#operation+name,#country+name")
    shown = passage(store_path, "indicators", "show", "idps_by_country", check=0).stdout
    assert "NGA" in shown and "2000" in shown


def test_rejected_input_exits_1_with_located_report(store_path, tmp_path):
    rows = api_rows("NGA", NGA)
    rows[3]["numPresentIdpInd"] = "about 300"
    bad = write_csv(tmp_path / "bad.csv", rows)
    report = tmp_path / "errors.json"
    proc = passage_process(store_path, "import", "dtm", str(bad), "--report", str(report), check=1)
    assert "type-integer" in proc.stderr and "nothing was imported" in proc.stderr
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["ok"] is False
    f = next(f for f in data["findings"] if f["code"] == "type-integer")
    assert (f["file"], f["row"], f["column"], f["value"]) == ("bad.csv", 6, "numPresentIdpInd", "about 300")
    assert "rejected" in passage(store_path, "log", check=0).stdout


def test_usage_errors_exit_2(store_path, tmp_path):
    assert passage_process(store_path, "import", "nosuchkind", __file__).returncode == 2  # Passage's own
    assert passage(store_path, "import", "dtm", str(tmp_path / "missing.csv")).returncode == 2
    assert passage(store_path, "export", "nosuchtable").returncode == 2
    assert passage(store_path, "export", "idps", "--format", "parquet").returncode == 2  # needs -o
    assert passage_process(store_path, "frobnicate").returncode == 2  # click's


def test_places_list_and_forms(store_path):
    out = passage(store_path, "places", "list", "--level", "1", "--country", "NGA", "--format", "csv", check=0).stdout
    rows = list(csv.DictReader(out.splitlines()))
    assert len(rows) == 37 and {r["parent_code"] for r in rows} == {"NGA"}
    assert any(r["code"] == "NG008" and r["name"] == "Borno" for r in rows)
    forms = passage(store_path, "forms", "show", "dtm_idps", check=0).stdout
    assert "num_present_idp_ind" in forms and "integer" in forms


def test_records_edit_delete_history(store_path, tmp_path):
    tcd = write_json(tmp_path / "tcd.json", api_rows("TCD", TCD))
    passage(store_path, "import", "dtm", str(tcd), check=0)
    key = "1|TCD07|Chad - Lac|BA|10|2023-05-31|conflict||"  # no origin given
    assert passage(store_path, "records", "edit", "dtm_idps", key, "num_present_idp_ind=850", check=0).stdout.strip() == "version 2"
    assert "deleted" in passage(store_path, "records", "delete", "dtm_idps", key, check=0).stdout
    hist = passage(store_path, "records", "history", "dtm_idps", key, check=0).stdout
    assert hist.count("operator") == 3
    assert passage(store_path, "records", "edit", "dtm_idps", "no-such-key", "x=1").returncode == 2
