"""Documents: reports, maps and snapshots (PDF or images) kept beside the data they explain.

Each document has a title, places, a date, a language, tags and, for PDFs, its text;
search finds words in titles, tags and text, and filters narrow by place (a country
finds the documents of its admin areas), language, kind, tag and date. The raw file is
archived like every imported file, under its sha256, so nothing is lost.

    added = add_document(store, Path("round46.pdf"), title="Nigeria — North-East: Round 46",
                         places=["NG008"], doc_date=date(2024, 6, 30), language="en", tags=["displacement"])
    added.ok, added.value, added.report   # the new doc_id, or the report of why the file was refused
    total, hits = search_documents(store, "displacement", places=["NGA"])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from passage.access import Place, Places, allowed, require
from passage.auth.principal import Principal
from passage.documents.extract import (
    BAD_LANGUAGE,
    DUPLICATE,
    FINDING_CODES,
    MEDIA_TYPES,
    UNKNOWN_PLACE,
    extract,
)
from passage.documents.search import index_document, query_terms, scores, snippet, term_hits
from passage.errors import NotFound, UsageError
from passage.findings import Finding, Outcome, Report
from passage.ingest.files import copy_to_archive, describe, register
from passage.store import Store
from passage.store.schema import bump_generation

KINDS = ("report", "map", "snapshot", "dataset-note", "other")
VISIBILITIES = ("public", "restricted")

# Every column but the body: what lists, filters and access callbacks need.
_META = ("doc_id, title, sha256, file_name, media_type, doc_kind, places, doc_date, language, tags, pages, "
         "visibility, added_by, added_at")


@dataclass
class Document:
    doc_id: int
    title: str
    sha256: str
    file_name: str
    media_type: str
    kind: str
    places: list[str]
    doc_date: date | None
    language: str | None
    tags: list[str]
    pages: int | None
    visibility: str
    added_by: str | None
    added_at: datetime
    body: str | None = None  # the extracted text; not loaded for the `visible` callback of searches

    def as_dict(self, *, body: bool = False) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "body"}
        out["doc_date"] = self.doc_date.isoformat() if self.doc_date else None
        out["added_at"] = self.added_at.isoformat(timespec="seconds") if self.added_at else None
        if body:
            out["body"] = self.body
        return out


@dataclass
class DocumentHit:
    document: Document
    score: float
    snippet: str  # plain text around the first hit in the body, about 200 characters


# ------------------------------------------------------------------------------------------------ adding


def add_document(store: Store, path: Path, *, title: str, places: Sequence[str] = (), doc_date: date | None = None,
                 language: str | None = None, tags: Sequence[str] = (), kind: str = "report",
                 visibility: str = "public", principal: Principal | None = None, user: str | None = None,
                 max_bytes: int | None = None) -> Outcome[int]:
    """Check, archive and index one file; the outcome's value is its doc_id.

    Refuses (a report with errors, nothing stored) a file that is not a PDF, PNG, JPEG, SVG or
    WebP by its bytes, is empty or too large, a broken or encrypted PDF, unknown place
    codes and languages that are not ISO 639-1; raises UsageError (`doc.duplicate`) when
    the same file was added before. `max_bytes` defaults to the store's `limits.upload_bytes.documents`.
    Editors add documents about their own places (at least one), admins any (`principal=None`: the store's
    operator); `user` is recorded (default: the principal's name).
    """
    path = Path(path)
    title = " ".join((title or "").split())
    if not title:
        raise UsageError("a document needs a title", code="doc.title")
    if kind not in KINDS:
        raise UsageError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}", code="doc.kind")
    if visibility not in VISIBILITIES:
        raise UsageError(f"visibility must be one of {', '.join(VISIBILITIES)}, not {visibility!r}",
                         code="doc.visibility")
    if not path.is_file():
        raise UsageError(f"no such file: {path}", code="doc.file")
    if doc_date is not None and isinstance(doc_date, datetime):
        doc_date = doc_date.date()
    places = _clean_list(places, upper=True)
    if principal is not None:
        require(principal, "add-document", about(store, places))
        user = user or principal.user_name
    tags = _clean_list(tags)
    language = language.strip().lower() if language and language.strip() else None

    report = Report()
    limit = store.settings.limits.upload_bytes.documents if max_bytes is None else max_bytes
    extracted, findings = extract(path, max_bytes=limit)
    report.extend(findings)
    report.extend(_place_findings(store, places, path.name))
    if language is not None and not _is_language(language):
        report.add(Finding(BAD_LANGUAGE, "Not an ISO 639-1 language code (e.g. en, fr, es, ar)",
                           file=path.name, column="language", value=language))
    if not report.ok:
        return Outcome(report)
    assert extracted is not None, "extract() reads the file or says why it could not"

    source = describe(path)
    _refuse_duplicate(store, source.sha256, path.name)
    names = _place_names(store, places)
    target = copy_to_archive(store.archive_dir, source)
    with store.transaction():
        _refuse_duplicate(store, source.sha256, path.name)  # another writer may have been quicker
        register(store, source, target)
        doc_id = int(store.scalar("SELECT nextval('document_ids')"))
        store.execute(
            f"INSERT INTO documents ({_META}, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [doc_id, title, source.sha256, path.name, extracted.media_type, kind, ",".join(places), doc_date,
             language, ",".join(tags), extracted.pages, visibility, user, _now(), extracted.body or None])
        index_document(store, doc_id, term_hits(title, extracted.body, tags, names))
        _audit(store, user, doc_id, {"title": title, "sha256": source.sha256, "visibility": visibility})
        bump_generation(store)
    return Outcome(report, doc_id)


def about(store: Store, codes: Sequence[str], visibility: str = "restricted") -> Places:
    """What a document about `codes` is, for `passage.access`: each place with its country."""
    found = dict(store.query(f"SELECT code, country_code FROM places WHERE code IN ({', '.join('?' for _ in codes)})",
                             list(codes))) if codes else {}
    return Places(tuple(Place(found.get(c) or c, c) for c in codes), visibility)


def readable_by(store: Store, principal: Principal) -> Callable[[Document], bool]:
    """Which documents `principal` may read (search, facets, pages): public ones, and restricted ones about
    their places; admins read all."""
    if principal.is_admin:
        return lambda doc: True
    if principal.is_public:
        return lambda doc: doc.visibility == "public"
    countries: dict[str, str] = {}  # a search asks about many documents of few places

    def country(code: str) -> str:
        if code not in countries:
            countries[code] = store.scalar("SELECT country_code FROM places WHERE code = ?", [code]) or code
        return countries[code]

    return lambda doc: allowed(principal, "read-document",
                               Places(tuple(Place(country(c), c) for c in doc.places), doc.visibility))


def read_document(store: Store, doc_id: int, principal: Principal) -> Document:
    """A document `principal` may read; one they may not is not found."""
    doc = get_document(store, doc_id)
    if not readable_by(store, principal)(doc):
        raise NotFound(f"no document {doc_id}")
    return doc


def _clean_list(values: Iterable[str] | str, upper: bool = False) -> list[str]:
    """Distinct, trimmed values in the order given; `a,b` counts as two (the column is comma-separated)."""
    if isinstance(values, str):
        values = [values]
    out: dict[str, None] = {}
    for value in values or ():
        for part in str(value).split(","):
            part = " ".join(part.split())
            if part:
                out[part.upper() if upper else part] = None
    return list(out)


def _place_findings(store: Store, places: list[str], file_name: str) -> list[Finding]:
    known = _known_places(store, places)
    return [Finding(UNKNOWN_PLACE, "Not a place code of the place table (ISO3 country or P-code)",
                    file=file_name, column="places", value=code) for code in places if code not in known]


def _known_places(store: Store, codes: Sequence[str]) -> set[str]:
    if not codes:
        return set()
    from passage.places.bundled import ensure_places

    ensure_places(store)  # a new store's first document may come before its first import
    marks = ", ".join("?" for _ in codes)
    return {r[0] for r in store.query(f"SELECT code FROM places WHERE code IN ({marks})", list(codes))}


def _place_names(store: Store, codes: Sequence[str]) -> list[str]:
    if not codes:
        return []
    marks = ", ".join("?" for _ in codes)
    return [r[0] for r in store.query(f"SELECT name FROM places WHERE code IN ({marks})", list(codes))]


def _is_language(code: str) -> bool:
    import pycountry

    return len(code) == 2 and pycountry.languages.get(alpha_2=code) is not None


def _refuse_duplicate(store: Store, sha256: str, name: str) -> None:
    existing = store.scalar("SELECT min(doc_id) FROM documents WHERE sha256 = ?", [sha256])
    if existing is not None:
        raise UsageError(f"{name} is already document {existing} (same content)", code=DUPLICATE)


def _audit(store: Store, user: str | None, doc_id: int, detail: dict, action: str = "document.add") -> None:
    from passage.auth.audit import audit

    audit(store, user, action, target=f"document/{doc_id}", detail=detail)


def _now() -> datetime:
    from passage.auth.audit import now

    return now()


def delete_document(store: Store, doc_id: int, *, user: str | None = None) -> None:
    """Remove a document from the list and the index; its file stays in the archive."""
    doc = get_document(store, doc_id)
    with store.transaction():
        store.execute("DELETE FROM document_terms WHERE doc_id = ?", [doc.doc_id])
        store.execute("DELETE FROM documents WHERE doc_id = ?", [doc.doc_id])
        _audit(store, user, doc.doc_id, {"title": doc.title, "sha256": doc.sha256}, action="document.delete")
        bump_generation(store)


def reindex_documents(store: Store) -> int:
    """Rebuild the whole search index (after the tokeniser or the weights changed); returns the documents."""
    rows = store.query("SELECT doc_id, title, body, tags, places FROM documents ORDER BY doc_id")
    with store.transaction():
        store.execute("DELETE FROM document_terms")
        for doc_id, title, body, tags, places in rows:
            index_document(store, doc_id, term_hits(title, body, _split(tags), _place_names(store, _split(places))))
    return len(rows)


# ----------------------------------------------------------------------------------------------- reading


def _document(row: Sequence[Any], body: str | None = None) -> Document:
    (doc_id, title, sha, file_name, media_type, kind, places, doc_date, language, tags, pages, visibility,
     added_by, added_at) = row[:14]
    return Document(int(doc_id), title, sha, file_name, media_type, kind, _split(places), doc_date, language,
                    _split(tags), pages, visibility, added_by, added_at, body)


def _split(text: str | None) -> list[str]:
    return [p for p in (text or "").split(",") if p]


def get_document(store: Store, doc_id: int) -> Document:
    rows = store.query(f"SELECT {_META}, body FROM documents WHERE doc_id = ?", [int(doc_id)])
    if not rows:
        raise NotFound(f"no document {doc_id}", code="doc.not_found")
    return _document(rows[0], rows[0][14])


def document_file(store: Store, doc: Document) -> Path:
    """The archived file of a document (named by its sha256; serve it as `doc.media_type`)."""
    archived = store.scalar("SELECT archived_as FROM files WHERE sha256 = ?", [doc.sha256])
    candidates = [Path(archived), store.archive_dir / Path(archived).name] if archived else []
    for path in candidates:
        if path.is_file():
            return path
    raise NotFound(f"the file of document {doc.doc_id} is missing from the archive", code="doc.file_missing")


# ------------------------------------------------------------------------------------------------ search


def search_documents(store: Store, query: str | None = None, *, places: Sequence[str] | None = None,
                     language: str | None = None, kind: str | None = None, tag: str | None = None,
                     date_from: date | None = None, date_to: date | None = None,
                     visible: Callable[[Document], bool] | None = None, limit: int = 20,
                     offset: int = 0) -> tuple[int, list[DocumentHit]]:
    """(how many documents match, one page of them), best first.

    Every query term must match (the last also as a prefix); filters combine with AND,
    the codes of `places` with OR: a code matches documents tagged with it or with a
    place inside it (NGA or NG matches NG008). `visible` hides documents the reader may
    not see, before counting. Without a query, newest first.
    """
    terms = query_terms(query)
    where, params = [], []
    if terms:
        found = scores(store, terms)
        if not found:
            return 0, []
    if language:
        where.append("language = ?")
        params.append(language.strip().lower())
    if kind:
        where.append("doc_kind = ?")
        params.append(kind)
    if tag:
        where.append("strpos(lower(',' || tags || ','), ?) > 0")
        params.append("," + tag.strip().lower() + ",")
    if date_from:
        where.append("doc_date >= ?")
        params.append(date_from)
    if date_to:
        where.append("doc_date <= ?")
        params.append(date_to)
    sql = f"SELECT {_META} FROM documents" + (" WHERE " + " AND ".join(where) if where else "")
    docs = [_document(r) for r in store.query(sql, params)]
    if terms:
        docs = [d for d in docs if d.doc_id in found]
    if places:
        inside = _place_matcher(store, places)
        docs = [d for d in docs if any(inside(code) for code in d.places)]
    if visible is not None:
        docs = [d for d in docs if visible(d)]
    score = (lambda d: found[d.doc_id]) if terms else (lambda d: 0)
    docs.sort(key=lambda d: (-score(d), -(d.doc_date.toordinal() if d.doc_date else 0), -d.doc_id))
    page = docs[max(0, offset):max(0, offset) + max(0, limit)]
    bodies = _bodies(store, [d.doc_id for d in page])
    hits = []
    for d in page:
        d.body = bodies.get(d.doc_id)
        hits.append(DocumentHit(d, float(score(d)), snippet(d.body, terms)))
    return len(docs), hits


def _bodies(store: Store, ids: list[int]) -> dict[int, str | None]:
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    return {int(i): b for i, b in store.query(f"SELECT doc_id, body FROM documents WHERE doc_id IN ({marks})", ids)}


def _place_matcher(store: Store, filters: Sequence[str]) -> Callable[[str], bool]:
    """Whether a document's place code lies within any of the filter codes (by prefix or by country)."""
    wanted = [f.strip().upper() for f in filters if f and f.strip()]
    countries = {r[0] for r in store.query(
        "SELECT code FROM places WHERE level = 0 AND code IN (" + ", ".join("?" for _ in wanted) + ")", wanted)
    } if wanted else set()
    country_of: dict[str, str] = {}
    if countries:
        marks = ", ".join("?" for _ in countries)
        country_of = dict(store.query(f"SELECT code, country_code FROM places WHERE country_code IN ({marks})",
                                      sorted(countries)))
    prefixes = tuple(wanted)
    return lambda code: code.startswith(prefixes) or country_of.get(code) in countries


def facets(store: Store, visible: Callable[[Document], bool] | None = None) -> dict[str, list[tuple[str, int]]]:
    """Counts of visible documents by kind, language, tag, place (as tagged) and country, most first."""
    docs = [_document(r) for r in store.query(f"SELECT {_META} FROM documents")]
    if visible is not None:
        docs = [d for d in docs if visible(d)]
    codes = sorted({c for d in docs for c in d.places})
    country_of: dict[str, str] = {}
    for i in range(0, len(codes), 500):
        chunk = codes[i:i + 500]
        marks = ", ".join("?" for _ in chunk)
        country_of.update(store.query(f"SELECT code, country_code FROM places WHERE code IN ({marks})", chunk))
    counts: dict[str, dict[str, int]] = {k: {} for k in ("kind", "language", "tag", "place", "country")}

    def bump(facet: str, values: Iterable[str | None]) -> None:
        for v in set(values):
            if v:
                counts[facet][v] = counts[facet].get(v, 0) + 1

    for d in docs:
        bump("kind", [d.kind])
        bump("language", [d.language])
        bump("tag", d.tags)
        bump("place", d.places)
        bump("country", [country_of.get(c) for c in d.places])
    return {k: sorted(v.items(), key=lambda kv: (-kv[1], kv[0])) for k, v in counts.items()}


__all__ = [
    "FINDING_CODES",
    "KINDS",
    "MEDIA_TYPES",
    "VISIBILITIES",
    "Document",
    "DocumentHit",
    "add_document",
    "delete_document",
    "document_file",
    "facets",
    "get_document",
    "reindex_documents",
    "search_documents",
]
