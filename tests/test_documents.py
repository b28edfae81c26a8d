"""Documents: checked by content, archived, indexed, found by words and filters, on both backends."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from passage.documents import (
    KINDS,
    Document,
    add_document,
    delete_document,
    document_file,
    facets,
    get_document,
    reindex_documents,
    search_documents,
)
from passage.documents.extract import pdf_text
from passage.documents.search import fold, query_terms, snippet, tokens
from passage.errors import NotFound, UsageError
from passage.packs.dtm.demo import ensure_places
from passage.packs.dtm.demo_documents import (
    DOCUMENTS,
    add_demo_documents,
    bar_chart_png,
    pdf_bytes,
    south_sudan_map_svg,
)

PNG = bar_chart_png([10, 20, 30])


def added(*args, **kwargs) -> int:
    """add_document for a file that must be accepted: its doc_id."""
    outcome = add_document(*args, **kwargs)
    assert outcome.ok and outcome.value is not None, outcome.report.summary()
    return outcome.value


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def pdf(tmp_path: Path, name: str, title: str, *paragraphs: str) -> Path:
    return write(tmp_path, name, pdf_bytes(title, list(paragraphs)))


def state(store) -> tuple:
    """Everything a refused document must leave as it was."""
    archived = sorted(p.name for p in store.archive_dir.glob("*")) if store.archive_dir.exists() else []
    return (store.query("SELECT doc_id, sha256 FROM documents ORDER BY doc_id"),
            store.query("SELECT term, doc_id, hits FROM document_terms ORDER BY term, doc_id"),
            store.query("SELECT sha256 FROM files ORDER BY sha256"), archived)


def ids(result) -> list[int]:
    return [h.document.doc_id for h in result[1]]


@pytest.fixture
def docs(any_store, tmp_path):
    """Four documents over three countries, in three languages."""
    ensure_places(any_store)
    s = any_store
    made = {
        "nga": added(s, pdf(tmp_path, "nga.pdf", "Nigeria — North-East: Displacement Report, Round 46",
                                   "Conflict in Borno remains the main reason for displacement.",
                                   "Shelter and water are the most reported needs."),
                            title="Nigeria — North-East: Displacement Report, Round 46", places=["NG008", "NG002"],
                            doc_date=date(2024, 6, 30), language="en", tags=["dtm", "idps"]),
        "tcd": added(s, pdf(tmp_path, "tcd.pdf", "Tchad — Lac", "Déplacement des ménages vers Bol.",
                                   "Les besoins en abris restent élevés."),
                            title="Tchad — Lac : évaluation des sites", places=["TCD07"], doc_date=date(2024, 3, 31),
                            language="fr", tags=["site-assessment"], kind="snapshot"),
        "ssd": added(s, write(tmp_path, "map.png", PNG), title="South Sudan — IDPs by state", places=["SSD"],
                            doc_date=date(2024, 5, 31), language="en", tags=["map", "idps"], kind="map",
                            visibility="restricted"),
        "afg": added(s, pdf(tmp_path, "afg.pdf", "Afghanistan returns",
                                   "Returnees crossed at Islam Qala. Displacement continued in Hirat."),
                            title="Afghanistan — returns at points of entry", places=["AF32"],
                            doc_date=date(2023, 12, 31), language="en", tags=["returnees"]),
    }
    return made


# ----------------------------------------------------------------------------------------------- adding


def test_a_pdf_is_archived_with_its_text_and_page_count(any_store, docs, tmp_path):
    doc = get_document(any_store, docs["nga"])
    assert doc.title == "Nigeria — North-East: Displacement Report, Round 46"
    assert (doc.media_type, doc.kind, doc.pages, doc.language) == ("application/pdf", "report", 1, "en")
    assert doc.places == ["NG008", "NG002"] and doc.tags == ["dtm", "idps"]
    assert doc.doc_date == date(2024, 6, 30) and doc.visibility == "public"
    assert "Borno remains the main reason" in doc.body
    assert document_file(any_store, doc).read_bytes() == (tmp_path / "nga.pdf").read_bytes()
    assert any_store.scalar("SELECT count(*) FROM files WHERE sha256 = ?", [doc.sha256]) == 1
    assert any_store.scalar("SELECT count(*) FROM audit_log WHERE action = 'document.add'") == 4


def test_an_image_has_no_body_but_its_title_and_tags_are_searchable(any_store, docs):
    doc = get_document(any_store, docs["ssd"])
    assert (doc.media_type, doc.body, doc.pages) == ("image/png", None, None)
    assert ids(search_documents(any_store, "sudan")) == [docs["ssd"]]
    assert ids(search_documents(any_store, "map", kind="map")) == [docs["ssd"]]


def test_get_document_of_an_unknown_id_is_not_found(any_store):
    with pytest.raises(NotFound):
        get_document(any_store, 999)


def test_images_are_told_by_their_bytes(any_store, tmp_path):
    ensure_places(any_store)
    cases = {
        "photo.jpg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(200), "image/jpeg"),
        "photo.webp": (b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(200), "image/webp"),
        "map.svg": (south_sudan_map_svg("A map"), "image/svg+xml"),
        "scan": (PNG + b"\x00", "image/png"),  # no extension: the content decides
    }
    for name, (data, media_type) in cases.items():
        doc_id = added(any_store, write(tmp_path, name, data), title=name, places=["SSD"])
        assert get_document(any_store, doc_id).media_type == media_type


BAD_FILES = {
    "text named .pdf": ("report.pdf", b"Displacement report, round 46\n", "doc.media_type"),
    "png named .pdf": ("report.pdf", PNG, "doc.media_type"),
    "word document": ("report.docx", b"PK\x03\x04" + bytes(100), "doc.media_type"),
    "html with an svg inside": ("map.svg", b"<!DOCTYPE html><html><body><svg></svg></body></html>", "doc.media_type"),
    "svg with a script": ("map.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
                          "doc.media_type"),
    "svg with an event handler": ("map.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><rect onclick="x()"/></svg>',
                                  "doc.media_type"),
    "broken pdf": ("report.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog", "doc.bad_pdf"),
    "truncated pdf": ("report.pdf", pdf_bytes("Title", ["words"])[:300], "doc.bad_pdf"),
    "empty file": ("report.pdf", b"", "doc.empty"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_are_refused_and_change_nothing(any_store, docs, tmp_path, case):
    name, data, code = BAD_FILES[case]
    before = state(any_store)
    path = write(tmp_path, name, data)
    outcome = add_document(any_store, path, title="Bad", places=["NGA"])
    assert not outcome.ok and outcome.value is None
    assert [(f.code, f.file) for f in outcome.report.errors] == [(code, name)]
    assert state(any_store) == before


def test_a_password_protected_pdf_is_refused(any_store, docs, tmp_path):
    import pypdf

    writer = pypdf.PdfWriter(clone_from=io.BytesIO(pdf_bytes("Secret", ["hidden words"])))
    writer.encrypt("open-sesame", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    before = state(any_store)
    outcome = add_document(any_store, write(tmp_path, "locked.pdf", out.getvalue()), title="Locked")
    assert not outcome.ok
    assert outcome.report.errors[0].code == "doc.bad_pdf"
    assert "password" in outcome.report.errors[0].message
    assert state(any_store) == before


def test_a_pdf_locked_only_against_editing_is_read(any_store, tmp_path):
    import pypdf

    writer = pypdf.PdfWriter(clone_from=io.BytesIO(pdf_bytes("Permissions", ["readable words"])))
    writer.encrypt("", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    doc_id = added(any_store, write(tmp_path, "perm.pdf", out.getvalue()), title="Permissions")
    assert "readable words" in get_document(any_store, doc_id).body


def test_oversized_unknown_places_and_bad_languages_are_located_findings(any_store, docs, tmp_path):
    before = state(any_store)
    path = pdf(tmp_path, "big.pdf", "Big", "x " * 5000)
    outcome = add_document(any_store, path, title="Big", max_bytes=1000)
    (finding,) = outcome.report.errors
    assert (finding.code, finding.value) == ("doc.too_large", str(path.stat().st_size))

    outcome = add_document(any_store, pdf(tmp_path, "p.pdf", "P", "text"), title="P", places=["NGA", "NG999", "ZZZ"],
                           language="english")
    assert sorted((f.code, f.column, f.value) for f in outcome.report.errors) == [
        ("doc.bad_language", "language", "english"),
        ("doc.unknown_place", "places", "NG999"),
        ("doc.unknown_place", "places", "ZZZ")]
    assert state(any_store) == before


def test_the_same_file_twice_is_a_usage_error_naming_the_first(any_store, docs, tmp_path):
    before = state(any_store)
    copy = write(tmp_path, "copy-of-nga.pdf", (tmp_path / "nga.pdf").read_bytes())
    with pytest.raises(UsageError) as exc:
        add_document(any_store, copy, title="Another title")
    assert exc.value.code == "doc.duplicate"
    assert f"document {docs['nga']}" in str(exc.value)
    assert state(any_store) == before


def test_every_document_finding_code_is_registered():
    from passage.documents import FINDING_CODES
    from passage.findings import CODES

    assert len(FINDING_CODES) == 6 and set(FINDING_CODES) <= set(CODES)


def test_wrong_arguments_are_usage_errors(any_store, tmp_path):
    path = pdf(tmp_path, "a.pdf", "A", "text")
    for kwargs in ({"title": "  "}, {"title": "A", "kind": "memo"}, {"title": "A", "visibility": "secret"}):
        with pytest.raises(UsageError):
            add_document(any_store, path, **kwargs)
    with pytest.raises(UsageError):
        add_document(any_store, tmp_path / "missing.pdf", title="A")
    assert any_store.scalar("SELECT count(*) FROM documents") == 0


def test_places_and_tags_are_normalised(any_store, tmp_path):
    ensure_places(any_store)
    doc_id = added(any_store, pdf(tmp_path, "n.pdf", "N", "text"), title="  Spaced   title ",
                          places=["nga", "NGA", "ng008"], tags=["dtm, idps", "dtm"], language="EN")
    doc = get_document(any_store, doc_id)
    assert (doc.title, doc.places, doc.tags, doc.language) == ("Spaced title", ["NGA", "NG008"], ["dtm", "idps"], "en")


def test_deleting_leaves_the_archived_file_and_allows_adding_it_again(any_store, docs, tmp_path):
    doc = get_document(any_store, docs["afg"])
    archived = document_file(any_store, doc)
    delete_document(any_store, doc.doc_id, user="admin")
    with pytest.raises(NotFound):
        get_document(any_store, doc.doc_id)
    assert any_store.scalar("SELECT count(*) FROM document_terms WHERE doc_id = ?", [doc.doc_id]) == 0
    assert search_documents(any_store, "returnees") == (0, [])
    assert archived.exists()
    again = added(any_store, tmp_path / "afg.pdf", title="Afghanistan returns", places=["AFG"])
    assert ids(search_documents(any_store, "returnees")) == [again]


def test_reindexing_rebuilds_the_same_index(any_store, docs):
    terms = lambda: any_store.query("SELECT term, doc_id, hits FROM document_terms ORDER BY 1, 2")
    before = terms()
    any_store.execute("DELETE FROM document_terms WHERE doc_id = ?", [docs["nga"]])
    assert reindex_documents(any_store) == 4
    assert terms() == before


# ----------------------------------------------------------------------------------------------- search


def test_terms_are_folded_and_stop_words_dropped():
    assert tokens("Déplacement des ménages — Round 46, l'été") == ["deplacement", "menages", "round", "46", "ete"]
    assert fold("ﬁn ÉTÉ") == "fin ete"
    assert query_terms("the Displacement displacement of a") == ["displacement"]


def test_every_term_must_match_and_the_last_also_as_a_prefix(any_store, docs):
    assert sorted(ids(search_documents(any_store, "displacement"))) == sorted([docs["nga"], docs["afg"]])
    assert ids(search_documents(any_store, "displacement borno")) == [docs["nga"]]
    assert ids(search_documents(any_store, "borno displac")) == [docs["nga"]]
    assert ids(search_documents(any_store, "displac borno")) == []  # only the last term is a prefix
    assert ids(search_documents(any_store, "displacement kabul")) == []
    assert search_documents(any_store, "nothinglikethis") == (0, [])


def test_accents_do_not_matter_either_way(any_store, docs):
    assert ids(search_documents(any_store, "deplacement")) == [docs["tcd"]]
    assert ids(search_documents(any_store, "DÉPLACEMENT")) == [docs["tcd"]]
    assert ids(search_documents(any_store, "evaluation")) == [docs["tcd"]]  # the title says "évaluation"
    assert ids(search_documents(any_store, "menag")) == [docs["tcd"]]


def test_place_names_and_tags_are_searchable(any_store, docs):
    assert ids(search_documents(any_store, "adamawa")) == [docs["nga"]]  # NG002's name
    assert ids(search_documents(any_store, "returnees")) == [docs["afg"]]


def test_title_hits_rank_first_and_ties_go_newest_first(any_store, docs, tmp_path):
    total, hits = search_documents(any_store, "displacement")
    assert [h.document.doc_id for h in hits] == [docs["nga"], docs["afg"]]  # in the title beats in the text
    assert hits[0].score > hits[1].score
    ensure_places(any_store)
    same = [added(any_store, write(tmp_path, f"{i}.png", bar_chart_png([i + 1])), title="Camp snapshot",
                         places=["SSD"], doc_date=day) for i, day in enumerate([date(2023, 1, 1), None, date(2024, 1, 1)])]
    total, hits = search_documents(any_store, "camp snapshot")
    assert total == 3 and [h.document.doc_id for h in hits] == [same[2], same[0], same[1]]  # equal scores: newest first, undated last
    assert len({h.score for h in hits}) == 1


def test_snippets_show_the_text_around_the_first_hit_with_its_accents(any_store, tmp_path):
    filler = "Lorem ipsum dolor sit amet. " * 40
    doc_id = added(any_store, pdf(tmp_path, "long.pdf", "Long", filler, "Les ménages déplacés à Bol.", filler),
                          title="Un long rapport")
    (hit,) = search_documents(any_store, "deplaces")[1]
    assert hit.document.doc_id == doc_id and hit.document.body
    assert "déplacés" in hit.snippet and hit.snippet.startswith("…") and hit.snippet.endswith("…")
    assert 150 <= len(hit.snippet) <= 260 and "\n" not in hit.snippet
    assert snippet("Réfugiés et déplacés", ["deplac"]) == "Réfugiés et déplacés"
    assert snippet("e\u0301te\u0301 et de\u0301place\u0301s", ["deplaces"]) == "e\u0301te\u0301 et de\u0301place\u0301s"
    assert snippet(None, ["x"]) == ""


def test_place_filters_include_the_places_inside(any_store, docs):
    def found(*places):
        return sorted(ids(search_documents(any_store, places=list(places))))

    assert found("NGA") == [docs["nga"]]  # a country finds its P-codes
    assert found("NG") == [docs["nga"]]  # a P-code prefix
    assert found("NG002") == [docs["nga"]]
    assert found("NG001") == []
    assert found("TCD") == [docs["tcd"]]
    assert found("AFG", "SSD") == sorted([docs["afg"], docs["ssd"]])  # several codes: any of them
    assert found("af32") == [docs["afg"]]


def test_filters_combine(any_store, docs):
    assert sorted(ids(search_documents(any_store, language="en"))) == sorted([docs["nga"], docs["ssd"], docs["afg"]])
    assert ids(search_documents(any_store, language="en", kind="map")) == [docs["ssd"]]
    assert ids(search_documents(any_store, tag="IDPS", places=["NGA"])) == [docs["nga"]]
    assert ids(search_documents(any_store, tag="idp")) == []  # tags match whole
    assert ids(search_documents(any_store, date_from=date(2024, 1, 1), date_to=date(2024, 5, 31))) == [
        docs["ssd"], docs["tcd"]]
    assert ids(search_documents(any_store, "displacement", date_to=date(2024, 1, 1))) == [docs["afg"]]
    assert ids(search_documents(any_store, "displacement", language="fr")) == []


def test_the_visible_callback_hides_documents_before_counting_and_paging(any_store, docs):
    public = lambda d: d.visibility == "public"
    assert search_documents(any_store)[0] == 4
    total, hits = search_documents(any_store, visible=public)
    assert total == 3 and docs["ssd"] not in [h.document.doc_id for h in hits]
    assert search_documents(any_store, "sudan", visible=public) == (0, [])
    seen = []
    search_documents(any_store, visible=lambda d: seen.append(d) or True)
    assert all(isinstance(d, Document) and d.places for d in seen) and len(seen) == 4

    total, page1 = search_documents(any_store, visible=public, limit=2)
    _, page2 = search_documents(any_store, visible=public, limit=2, offset=2)
    assert total == 3 and len(page1) == 2 and len(page2) == 1
    assert [h.document.doc_id for h in page1 + page2] == [docs["nga"], docs["tcd"], docs["afg"]]
    assert page1[0].document.body  # the page's documents come with their text


def test_facets_count_what_the_reader_may_see(any_store, docs):
    everything = facets(any_store)
    assert dict(everything["kind"]) == {"report": 2, "snapshot": 1, "map": 1}
    assert everything["language"] == [("en", 3), ("fr", 1)]
    assert everything["tag"][0] == ("idps", 2)
    assert dict(everything["country"]) == {"NGA": 1, "TCD": 1, "SSD": 1, "AFG": 1}
    assert dict(everything["place"])["NG008"] == 1
    public = facets(any_store, visible=lambda d: d.visibility == "public")
    assert dict(public["kind"]) == {"report": 2, "snapshot": 1}
    assert "SSD" not in dict(public["country"])


def test_search_stays_fast_over_thousands_of_documents(store):
    """3000 documents of 200 words each: a search with filters answers well under a second."""
    import random
    import time

    from passage.documents.search import term_hits

    rng = random.Random(7)
    words = [f"word{i}" for i in range(3000)] + ["displacement", "camp"] * 30
    bodies = [" ".join(rng.choice(words) for _ in range(200)) for _ in range(3000)]
    doc_ids = list(range(1, 3001))
    rows = [(term, doc_id, n) for doc_id, body in zip(doc_ids, bodies)
            for term, n in term_hits(f"Report {doc_id}", body).items()]
    with store.transaction():
        store.execute("INSERT INTO documents (doc_id, title, sha256, file_name, media_type, doc_kind, places, doc_date, "
                      "language, tags, body, pages, visibility, added_by, added_at) "
                      "SELECT i, 'Report ' || i, lpad(CAST(i AS VARCHAR), 64, '0'), 'f.pdf', 'application/pdf', "
                      "'report', 'NG008', DATE '2020-01-01' + CAST(i % 365 AS INTEGER), 'en', 'dtm', b, 1, 'public', "
                      "NULL, TIMESTAMP '2024-01-01 00:00:00' FROM (SELECT unnest(?) AS i, unnest(?) AS b)",
                      [doc_ids, bodies])
        store.execute("INSERT INTO document_terms SELECT unnest(?), unnest(?), unnest(?)",
                      [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]])
    started = time.perf_counter()
    total, hits = search_documents(store, "displacement camp", places=["NGA"], limit=20)
    assert time.perf_counter() - started < 1.0
    assert total > 1000 and len(hits) == 20
    assert all("camp" in h.document.body and "displacement" in h.document.body for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


# ------------------------------------------------------------------------------------------------- demo


def test_demo_pdfs_give_their_words_back():
    for doc in DOCUMENTS:
        if doc.file_name.endswith(".pdf"):
            text, pages = pdf_text(doc.content())
            assert "not real data" in text and pages >= 1
            for paragraph in doc.paragraphs:
                assert set(tokens(paragraph)) <= set(tokens(text)), doc.file_name
    assert pdf_text(DOCUMENTS[0].content())[1] == 2  # the long report takes two pages


def test_demo_documents_are_added_once(any_store, tmp_path):
    first = add_demo_documents(any_store, tmp_path / "demo")
    assert len(first) == len(DOCUMENTS) >= 6
    assert add_demo_documents(any_store, tmp_path / "demo") == []
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == sorted(d.file_name for d in DOCUMENTS)
    assert any_store.scalar("SELECT count(*) FROM documents") == len(DOCUMENTS)
    everything = facets(any_store)
    assert {"en", "fr", "es"} <= set(dict(everything["language"]))
    assert {"AFG", "NGA", "SSD", "TCD"} <= set(dict(everything["country"]))
    assert dict(everything["tag"])["demo"] == len(DOCUMENTS)
    assert set(dict(everything["kind"])) <= set(KINDS)
    assert ids(search_documents(any_store, "desplazamiento", language="es"))
    assert ids(search_documents(any_store, "deplacement", places=["TCD"]))
    assert ids(search_documents(any_store, "round 46", places=["NG"]))
    assert search_documents(any_store, kind="map")[1][0].document.media_type == "image/svg+xml"


# -------------------------------------------------------------------------------------------------- CLI


def test_cli_add_list_search_show(store_path, tmp_path):
    from passage.cli import main

    run = lambda *args: CliRunner().invoke(main, ["--db", str(store_path), "-q", *args])
    path = pdf(tmp_path, "r.pdf", "Borno flooding", "Déplacement after the floods in Borno.")
    result = run("documents", "add", str(path), "--title", "Borno flooding", "--place", "NG008",
                 "--date", "2024-09-10", "--language", "en", "--tag", "floods", "--restricted")
    assert result.exit_code == 0, result.output
    doc_id = int(result.output.split()[1])

    result = run("documents", "list", "--place", "NGA")
    assert result.exit_code == 0 and "Borno flooding" in result.output and "restricted" in result.output

    result = run("documents", "search", "deplacement", "--format", "json")
    payload = json.loads(result.output)
    assert payload["total"] == 1 and payload["hits"][0]["doc_id"] == doc_id
    assert "Déplacement" in payload["hits"][0]["snippet"]

    result = run("documents", "show", str(doc_id))
    assert result.exit_code == 0 and "application/pdf" in result.output and "floods in Borno" in result.output

    assert run("documents", "add", str(path), "--title", "Again").exit_code == 2
    text = write(tmp_path, "fake.pdf", b"not a pdf at all\n")
    result = run("documents", "add", str(text), "--title", "Fake", "--place", "XXX")
    assert result.exit_code == 1 and "doc.media_type" in result.output and "doc.unknown_place" in result.output
    assert run("documents", "show", "999").exit_code == 2
