"""Demo documents: generated reports, a map and snapshots for the demo countries (AFG, NGA, SSD, TCD).

Nothing here is a real publication: every file says "demo" in its text and its tags.
The PDFs come from a tiny writer below (Helvetica text lines, no dependency), the map is
an SVG and the snapshot a PNG drawn pixel by pixel. The bytes are the same on every run,
so adding them twice adds nothing.

    ids = add_demo_documents(store, Path("passage-demo"))
"""

from __future__ import annotations

import hashlib
import struct
import textwrap
import zlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from passage.store import Store

DEMO_TAG = "demo"
NOTICE = "Generated demo document for Passage - not real data."


@dataclass(frozen=True)
class DemoDocument:
    file_name: str
    title: str
    kind: str
    places: tuple[str, ...]
    doc_date: date
    language: str
    tags: tuple[str, ...]
    paragraphs: tuple[str, ...] = field(default=())  # PDF text; images have none

    def content(self) -> bytes:
        if self.file_name.endswith(".pdf"):
            return pdf_bytes(self.title, [NOTICE, *self.paragraphs])
        if self.file_name.endswith(".svg"):
            return south_sudan_map_svg(self.title)
        return bar_chart_png([62, 48, 75, 91, 57, 83, 40, 66])


def _paragraphs(text: str) -> tuple[str, ...]:
    """Paragraphs separated by blank lines, each joined into one line."""
    return tuple(" ".join(p.split()) for p in text.strip().split("\n\n"))


WARDS = " ".join(f"Ward {i}: assessed, figures reviewed with the state team." for i in range(1, 61))

DOCUMENTS: tuple[DemoDocument, ...] = (
    DemoDocument(
        "nga-north-east-round-46.pdf", "Nigeria — North-East: Displacement Report, Round 46", "report",
        ("NG002", "NG008", "NG036"), date(2024, 6, 30), "en", (DEMO_TAG, "dtm", "mobility-tracking", "idps"),
        _paragraphs(f"""
            Summary. This round of mobility tracking covered Adamawa, Borno and Yobe states, where assessments
            took place in every accessible local government area. Most internally displaced persons (IDPs) live
            in host communities; about a third live in camps and camp-like settings.

            Displacement. Conflict remains the main reason for displacement, followed by communal clashes and
            natural disasters such as seasonal flooding along the Benue river. Borno hosts the largest share of
            IDPs, concentrated around Maiduguri, Jere and Konduga.

            Needs. Shelter, food and water are the needs reported most often in displacement sites. Key
            informants in Yobe reported new arrivals after insecurity in neighbouring areas.

            Method. Figures come from key informant interviews at ward level, cross-checked with site
            assessments. Places follow OCHA's common operational datasets (P-codes).

            Annex. Round 46 changes since round 45: two wards in Konduga were reached again after access
            improved; one camp in Bama was closed and its residents relocated. {WARDS}
        """)),
    DemoDocument(
        "tcd-lac-evaluation-des-sites.pdf", "Tchad — Lac : Évaluation des sites de déplacement, Round 14",
        "snapshot", ("TCD07",), date(2024, 3, 31), "fr", (DEMO_TAG, "dtm", "site-assessment"),
        _paragraphs("""
            Résumé. Déplacement dans la province du Lac : cette évaluation des sites couvre les sous-préfectures
            de Bol, Baga Sola et Liwa. Les personnes déplacées internes vivent surtout dans des sites spontanés
            près des îles du lac Tchad.

            Raisons du déplacement. L'insécurité liée aux groupes armés reste la première raison, devant les
            inondations. Les nouveaux arrivants signalent des besoins en abris, en eau potable et en vivres.

            Méthode. Les équipes ont visité chaque site accessible et interrogé des informateurs clés.
        """)),
    DemoDocument(
        "ssd-idps-by-state-map.svg", "South Sudan — IDPs by state, May 2024 (map)", "map", ("SSD",),
        date(2024, 5, 31), "en", (DEMO_TAG, "dtm", "map", "idps")),
    DemoDocument(
        "ssd-resumen-movilidad.pdf", "Sudán del Sur — Resumen de movilidad y desplazamiento, ronda 9", "report",
        ("SSD", "SS03", "SS06"), date(2024, 5, 31), "es", (DEMO_TAG, "dtm", "resumen"),
        _paragraphs("""
            Resumen. Esta ronda de seguimiento de la movilidad cubre los diez estados de Sudán del Sur y la
            región de Abyei. Jonglei y Unity concentran la mayor parte de las personas desplazadas internas.

            Desplazamiento. Las inundaciones y los conflictos intercomunitarios son las causas principales.
            Muchas familias regresaron a sus lugares de origen tras la temporada de lluvias.

            Método. Las cifras proceden de entrevistas con informantes clave en cada payam.
        """)),
    DemoDocument(
        "afg-returns-snapshot-q4-2023.png", "Afghanistan — Returns and displacement: snapshot, Q4 2023",
        "snapshot", ("AFG", "AF01", "AF32"), date(2023, 12, 31), "en", (DEMO_TAG, "dtm", "returnees")),
    DemoDocument(
        "dtm-idps-dataset-note.pdf", "DTM IDP figures by admin area — dataset note", "dataset-note",
        ("AFG", "NGA", "SSD", "TCD"), date(2024, 6, 30), "en", (DEMO_TAG, "dtm", "methodology"),
        _paragraphs("""
            What the dataset holds. One row per place, assessment round and reason for displacement, with the
            number of internally displaced persons and, where reported, their split by sex.

            Places. Admin areas are coded with OCHA P-codes; providers' codes that differ in length (Chad's TD
            prefix) are normalised to the common operational dataset.

            Caveats. Figures are estimates from key informants. Rounds are not always comparable when the
            coverage changes; check the assessment notes before comparing totals.
        """)),
)


def add_demo_documents(store: Store, work_dir: Path, user: str = "demo") -> list[int]:
    """Write the demo files into `work_dir` and add those not yet in the store; returns the new ids."""
    from passage.documents import add_document
    from passage.findings import expect_accepted
    from passage.packs.dtm.demo import ensure_places

    ensure_places(store)
    folder = Path(work_dir)
    folder.mkdir(parents=True, exist_ok=True)
    known = {r[0] for r in store.query("SELECT sha256 FROM documents")}
    added = []
    for doc in DOCUMENTS:
        path = folder / doc.file_name
        data = doc.content()
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
        if hashlib.sha256(data).hexdigest() in known:
            continue
        outcome = add_document(store, path, title=doc.title, places=list(doc.places), doc_date=doc.doc_date,
                               language=doc.language, tags=list(doc.tags), kind=doc.kind, user=user)
        added.append(expect_accepted(outcome, f"the demo's {doc.file_name}").value)
    return added


# ------------------------------------------------------------------------------------ a tiny PDF writer

PAGE_W, PAGE_H, MARGIN = 595, 842, 56  # A4 in points
LEADING, FONT_SIZE, TITLE_SIZE, WRAP = 14, 10.5, 15, 92


def pdf_bytes(title: str, paragraphs: list[str]) -> bytes:
    """A PDF of Helvetica text: the title in bold, then the paragraphs, as many pages as they need."""
    lines: list[tuple[str, str]] = [("F2", t) for t in textwrap.wrap(title, 60, break_on_hyphens=False)] + [("F1", "")]
    for para in paragraphs:
        lines += [("F1", t) for t in textwrap.wrap(para, WRAP, break_on_hyphens=False)] + [("F1", "")]
    per_page = (PAGE_H - 2 * MARGIN) // LEADING
    pages = [lines[i:i + per_page] for i in range(0, len(lines), per_page)]

    objects: list[bytes] = []  # object n is objects[n - 1]
    font = "<< /Type /Font /Subtype /Type1 /BaseFont /{} /Encoding /WinAnsiEncoding >>"
    objects += [b"", b"", font.format("Helvetica").encode(), font.format("Helvetica-Bold").encode()]
    kids = []
    for n, page in enumerate(pages, 1):
        ops = [f"BT {LEADING} TL {MARGIN} {PAGE_H - MARGIN} Td"]
        for font_name, text in page:
            size = TITLE_SIZE if font_name == "F2" else FONT_SIZE
            ops.append(f"/{font_name} {size} Tf ({_pdf_string(text)}) Tj T*")
        ops.append("ET")
        ops.append(f"BT /F1 8 Tf {PAGE_W - MARGIN - 40} {MARGIN // 2} Td (Page {n} of {len(pages)}) Tj ET")
        stream = "\n".join(ops).encode("cp1252", "replace")
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        contents = len(objects)
        objects.append((f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] "
                        f"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {contents} 0 R >>").encode())
        kids.append(len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>".encode()
    objects.append(f"<< /Title ({_pdf_string(title)}) /Producer (Passage demo) >>".encode("cp1252", "replace"))
    info = len(objects)

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, info, xref)
    return bytes(out)


def _pdf_string(text: str) -> str:
    """A PDF literal string body (WinAnsi text: characters outside cp1252 become '?')."""
    text = text.encode("cp1252", "replace").decode("cp1252")
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


# -------------------------------------------------------------------------------------- images


def bar_chart_png(values: list[int], width: int = 480, height: int = 300) -> bytes:
    """A bar chart as an RGB PNG: blue bars on white over a grey axis."""
    white, blue, grey = b"\xff\xff\xff", b"\x1f\x5f\xa8", b"\x70\x70\x70"
    left, bottom, gap = 40, 30, 10
    bar_w = (width - left - 20) // len(values) - gap
    rows = []
    for y in range(height):
        row = bytearray(white * width)
        level = height - bottom - y  # height above the axis
        for i, v in enumerate(values):
            if 0 < level <= v * (height - bottom - 20) // 100:
                x0 = left + i * (bar_w + gap) + gap
                row[3 * x0:3 * (x0 + bar_w)] = blue * bar_w
        if level == 0:
            row[3 * left:3 * (width - 10)] = grey * (width - 10 - left)
        elif level > 0:
            row[3 * left:3 * left + 3] = grey
        rows.append(b"\x00" + bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
            + chunk(b"IEND", b""))


# Schematic boxes (x, y, w, h) for South Sudan's states, with demo IDP figures in thousands.
_STATES = (
    ("SS05", "Northern Bahr el Ghazal", 80, 60, 130, 70, 42), ("SS07", "Upper Nile", 330, 40, 150, 110, 188),
    ("SS06", "Unity", 220, 60, 100, 90, 215), ("SS00", "Abyei Region", 200, 20, 60, 35, 31),
    ("SS09", "Western Bahr el Ghazal", 40, 140, 140, 90, 57), ("SS08", "Warrap", 190, 160, 110, 70, 96),
    ("SS04", "Lakes", 210, 240, 90, 90, 120), ("SS03", "Jonglei", 310, 160, 170, 140, 356),
    ("SS10", "Western Equatoria", 40, 240, 160, 100, 48), ("SS01", "Central Equatoria", 210, 340, 120, 70, 133),
    ("SS02", "Eastern Equatoria", 340, 310, 140, 100, 79),
)


def south_sudan_map_svg(title: str) -> bytes:
    """A schematic choropleth: one box per state, darker where more people are displaced."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<svg xmlns="http://www.w3.org/2000/svg" width="520" height="470" viewBox="0 0 520 470">',
             f"<title>{_xml(title)}</title>",
             '<rect width="520" height="470" fill="#f7f7f2"/>']
    top = max(s[6] for s in _STATES)
    for code, name, x, y, w, h, idps in _STATES:
        shade = 235 - int(170 * idps / top)
        parts.append(f'<g id="{code}"><rect x="{x}" y="{y}" width="{w}" height="{h}" '
                     f'fill="rgb({shade},{shade + 10},255)" stroke="#555"/>'
                     f'<text x="{x + 4}" y="{y + 16}" font-family="Helvetica" font-size="10">{_xml(name)}</text>'
                     f'<text x="{x + 4}" y="{y + 30}" font-family="Helvetica" font-size="10">{idps}k</text></g>')
    parts.append('<text x="10" y="455" font-family="Helvetica" font-size="10">'
                 f"{_xml(NOTICE)} Boxes are schematic, not boundaries.</text>")
    parts.append("</svg>")
    return ("\n".join(parts) + "\n").encode("utf-8")


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
