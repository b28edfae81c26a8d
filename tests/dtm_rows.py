"""Small DTM inputs with known answers, written in both layouts IOM publishes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from passage.packs.dtm.importer import COLUMNS

# (level, admin1 code, admin1 name, admin2 code, admin2 name, round, date, reason, idps, males, females)
NGA = [
    (0, "", "", "", "", 40, "2022-03-31", "Conflict", 2000, None, None),
    (0, "", "", "", "", 41, "2022-06-30", "Conflict", 2500, None, None),
    (1, "NG008", "Borno", "", "", 40, "2022-03-31", "Conflict", 1500, None, None),
    (1, "NG008", "Borno", "", "", 40, "2022-03-31", "Natural disaster", 100, None, None),
    (1, "NG008", "Borno", "", "", 41, "2022-06-30", "conflict", 1800, 800, 900),
    (1, "NG008", "Borno", "", "", 41, "2022-06-30", "Conflict; Natural disaster", 200, None, None),
    (2, "NG008", "Borno", "NG008001", "Abadam", 40, "2022-03-31", "Conflict", 400, None, None),
    (2, "NG008", "Borno", "NG008001", "Abadam", 41, "2022-06-30", "Conflict", 300, 100, 150),
]
TCD = [
    (1, "TD07", "Lac", "", "", 10, "2023-05-31", "Conflict", 800, None, None),
    (2, "TD07", "Lac", "TD0704", "Mamdi", 10, "2023-05-31", "Conflict", 300, None, None),
]
OPERATION = {"NGA": "Nigeria - North-East", "TCD": "Chad - Lac"}
COUNTRY = {"NGA": "Nigeria", "TCD": "Chad"}


def api_rows(iso3: str, rows) -> list[dict]:
    out = []
    for i, (lv, a1, n1, a2, n2, rnd, date, reason, idps, m, f) in enumerate(rows):
        out.append({
            "id": None if lv == 0 else 1000 + i, "operation": OPERATION[iso3], "admin0Name": COUNTRY[iso3],
            "admin0Pcode": iso3, "admin1Name": n1 or None, "admin1Pcode": a1 or None, "admin2Name": n2 or None,
            "admin2Pcode": a2 or None, "numPresentIdpInd": idps, "reportingDate": f"{date}T00:00:00",
            "yearReportingDate": int(date[:4]), "monthReportingDate": int(date[5:7]), "roundNumber": rnd,
            "displacementReason": reason, "numberMales": m, "numberFemales": f, "idpOriginAdmin1Name": "Not available",
            "idpOriginAdmin1Pcode": "Not available", "assessmentType": "BA",
        })
    return out


def write_json(path: Path, rows: list[dict], **envelope) -> Path:
    doc = {"result": rows, "statusCode": 200, "isSuccess": True, "errorMessages": [], "totalRecordsCount": len(rows)}
    doc.update(envelope)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[dict]) -> Path:
    cols = list(COLUMNS)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        w.writerow([COLUMNS[c][1] for c in cols])
        for r in rows:
            lv = 2 if r.get("admin2Pcode") else 1 if r.get("admin1Pcode") else 0
            w.writerow(["" if r.get(c) is None else (lv if c == "adminLevel" else r.get(c)) for c in cols]
                       if "adminLevel" not in r else ["" if r.get(c) is None else r.get(c) for c in cols])
    return path
