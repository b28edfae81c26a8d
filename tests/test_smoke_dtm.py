from pathlib import Path

from passage.ingest import import_files

CSV = """id,operation,admin0Name,admin0Pcode,admin1Name,admin1Pcode,admin2Name,admin2Pcode,adminLevel,numPresentIdpInd,reportingDate,yearReportingDate,monthReportingDate,roundNumber,displacementReason,numberMales,numberFemales,idpOriginAdmin1Name,idpOriginAdmin1Pcode,assessmentType,operationStatus
,#operation+name,#country+name,#country+code,#adm1+name,#adm1+code,#adm2+name,#adm2+code,#adm+level,#affected+idps,#date+reported,#date+year+reported,#date+month+reported,#round+code,#cause+type,#affected+idps+m,#affected+idps+f,#adm1+name+origin,#adm1+code+origin,#assessment+type,#operation+status
,Chad,Chad,TCD,,,,,0,1000,2023-05-31T00:00:00,2023,5,10,Conflict,,,Not available,Not available,BA,Active
1,Chad,Chad,TCD,Lac,TD07,,,1,800,2023-05-31T00:00:00,2023,5,10,Conflict; Natural disaster,,,Not available,Not available,BA,Active
2,Chad,Chad,TCD,Lac,TD07,Mamdi,TD0704,2,300,2023-05-31T00:00:00,2023,5,10,conflict,100,150,Not available,Not available,BA,Active
"""


def test_dtm_csv_round_trip(any_store, tmp_path: Path):
    f = tmp_path / "dtm.csv"
    f.write_text(CSV, encoding="utf-8")
    r = import_files(any_store, "dtm", [f], user="test")
    assert r.status == "committed", r.report.findings
    assert r.inserted == 3
    rows = any_store.query(
        "SELECT _place_code, provider_admin1_pcode, admin1_pcode, _warnings FROM dtm_idps ORDER BY admin_level")
    assert rows[1][:3] == ("TCD07", "TD07", "TCD07")
    assert rows[2][3] == "PCode length TD07->TCD07|PCode length TD0704->TCD0704"  # converted codes: no name check
    again = import_files(any_store, "dtm", [f], user="test")
    assert again.status == "unchanged"


def test_many_bad_rows_are_counted_exactly(store, tmp_path: Path):
    """More bad rows than a report keeps: the count stays exact and later checks still run."""
    head, hxl, *_ = CSV.splitlines()
    rows = [f"{i},Chad,Chad,XXX,Lac,TD07,,,1,{i},2023-05-31,2023,5,10,Conflict,,,,,BA,Active" for i in range(250)]
    f = tmp_path / "bad.csv"
    f.write_text("\n".join([head, hxl, *rows]) + "\n", encoding="utf-8")
    r = import_files(store, "dtm", [f])
    assert r.status == "rejected"
    assert r.report.counts["pcode-unknown"] >= 250
    assert len([x for x in r.report.errors if x.code == "pcode-unknown"]) <= 400


def test_findings_name_the_files_own_columns(store, tmp_path: Path):
    """A DTM file's findings say `numPresentIdpInd`, the column the file and the API have, not the form's
    storage field `num_present_idp_ind`, in the column and in the message."""
    head, hxl, *rows = CSV.splitlines()
    rows[2] = rows[2].replace(",2,300,2023-05-31T00:00:00,", ",2,-300,2023-05-31T00:00:00,")
    rows[1] = rows[1].replace(",1,800,2023-05-31T00:00:00,2023,5,10,", ",1,800,2023-05-31T00:00:00,2023,5,ten,")
    for name, text in (("dtm.csv", "\n".join([head, hxl, *rows]) + "\n"),):
        f = tmp_path / name
        f.write_text(text, encoding="utf-8")
        r = import_files(store, "dtm", [f], user="test")
        assert r.status == "rejected"
        said = {(x.code, x.row, x.column, x.message) for x in r.report.errors}
        assert ("negative-count", 5, "numPresentIdpInd", "numPresentIdpInd is negative") in said
        assert ("type-integer", 4, "roundNumber", "roundNumber must be a whole number") in said
        assert not any("num_present_idp_ind" in m or c in ("num_present_idp_ind", "round_number")
                       for _, _, c, m in said)
