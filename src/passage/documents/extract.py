"""What a document file is and what text it holds, judged by its bytes and never by its name.

A report called `.pdf` that is really a screenshot, or an `.svg` that carries a script,
is refused before anything reaches the store. PDFs give their text (for search) and
page count through pypdf; images give neither.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from passage.findings import Finding

# Finding codes of document uploads (registered in passage.findings.CODES, explained in docs/validation.md).
MEDIA_TYPE = "doc.media_type"
TOO_LARGE = "doc.too_large"
EMPTY = "doc.empty"
BAD_PDF = "doc.bad_pdf"
UNKNOWN_PLACE = "doc.unknown_place"
BAD_LANGUAGE = "doc.bad_language"
# Not a finding: the UsageError code when the same file (by sha256) is added twice.
DUPLICATE = "doc.duplicate"

# Their titles live in passage.findings.CODES (and docs/validation.md).
FINDING_CODES = (MEDIA_TYPE, TOO_LARGE, EMPTY, BAD_PDF, UNKNOWN_PLACE, BAD_LANGUAGE)

PDF, PNG, JPEG, SVG, WEBP = "application/pdf", "image/png", "image/jpeg", "image/svg+xml", "image/webp"
MEDIA_TYPES = (PDF, PNG, JPEG, SVG, WEBP)
# A known extension must agree with the content (a screenshot named .pdf is the wrong file);
# other names are judged by content alone.
EXTENSIONS = {".pdf": PDF, ".png": PNG, ".jpg": JPEG, ".jpeg": JPEG, ".svg": SVG, ".webp": WEBP}

HEAD_BYTES = 4096
PDF_HEADER_WITHIN = 1024  # readers accept a `%PDF-` header preceded by up to 1 KiB of junk
# What turns an SVG from a picture into a program when a browser opens it.
_SVG_ACTIVE = re.compile(rb"<script|<foreignobject|javascript:|<[^<>]*\son[a-z]+\s*=", re.IGNORECASE)
# XML whose first element is <svg>, after an optional declaration, comments and doctype.
_SVG_ROOT = re.compile(rb"(?:\xef\xbb\xbf)?(?:\s|<\?xml[^>]*\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>)*<svg[\s>]",
                       re.DOTALL | re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Extracted:
    media_type: str
    body: str | None  # text of a PDF (None for images)
    pages: int | None


def sniff(head: bytes, data: bytes | None = None) -> str | None:
    """The media type told by a file's first bytes (`data`, the whole file, is needed for SVG only)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if b"%PDF-" in head[:PDF_HEADER_WITHIN]:
        return PDF
    if _SVG_ROOT.match(data if data is not None else head):
        return SVG
    return None


def extract(path: Path, *, name: str | None = None, max_bytes: int) -> tuple[Extracted | None, list[Finding]]:
    """The file's media type, text and page count, or the findings that refuse it."""
    name = name or path.name
    size = path.stat().st_size
    if size == 0:
        return None, [Finding(EMPTY, "The file is empty", file=name)]
    if size > max_bytes:
        return None, [Finding(TOO_LARGE, f"The file has {size} bytes; the limit is {max_bytes}",
                              file=name, value=str(size))]
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
    media_type = sniff(head)
    if media_type is None and head.lstrip(b"\xef\xbb\xbf").lstrip().startswith(b"<"):
        media_type = sniff(head, path.read_bytes())  # a long comment or doctype may precede <svg>
    if media_type == SVG and _SVG_ACTIVE.search(path.read_bytes()):
        return None, [Finding(MEDIA_TYPE, "The SVG holds scripts or event handlers", file=name, value=SVG)]
    if media_type is None:
        return None, [Finding(MEDIA_TYPE, "Not a PDF, PNG, JPEG, SVG or WebP file (by its content)",
                              file=name, value=_describe_head(head))]
    claimed = EXTENSIONS.get(path.suffix.lower())
    if claimed is not None and claimed != media_type:
        return None, [Finding(MEDIA_TYPE, f"The file is named {path.suffix} but its content is {media_type}",
                              file=name, value=media_type)]
    if media_type != PDF:
        return Extracted(media_type, None, None), []
    try:
        body, pages = pdf_text(path.read_bytes())
    except PdfUnreadable as exc:
        return None, [Finding(BAD_PDF, str(exc), file=name)]
    return Extracted(PDF, body, pages), []


class PdfUnreadable(Exception):
    pass


def pdf_text(data: bytes) -> tuple[str, int]:
    """All pages' text (pages separated by a blank line) and the page count.

    A PDF locked only against editing (an empty user password) opens in every viewer,
    so it is read; one that needs a password to open is refused.
    """
    import pypdf

    log = logging.getLogger("pypdf")
    level = log.level
    log.setLevel(logging.ERROR)  # pypdf warns about every repaired flaw; the finding says what matters
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not _opens_without_password(reader):
            raise PdfUnreadable("The PDF needs a password to open: add an unprotected copy")
        texts = [page.extract_text() or "" for page in reader.pages]
    except PdfUnreadable:
        raise
    except Exception as exc:  # pypdf raises many kinds of error on broken files
        raise PdfUnreadable(f"The PDF cannot be read: {type(exc).__name__}: {exc}"[:300]) from exc
    finally:
        log.setLevel(level)
    return clean_text("\n\n".join(texts)), len(texts)


def _opens_without_password(reader) -> bool:
    from pypdf import PasswordType

    try:
        return reader.decrypt("") != PasswordType.NOT_DECRYPTED
    except Exception:  # noqa: BLE001 - e.g. AES without the cryptography package
        return False


def clean_text(text: str) -> str:
    """NFC, no control characters (PostgreSQL refuses NUL in text), trimmed."""
    return _CONTROL.sub(" ", unicodedata.normalize("NFC", text)).strip()


def _describe_head(head: bytes) -> str:
    """A short, safe picture of the first bytes, for the finding's value: text if it is text, else hex."""
    shown = head[:24]
    text = shown.decode("utf-8", "replace")
    if sum(ch.isprintable() or ch in "\r\n\t" for ch in text) >= 0.9 * len(text):
        return " ".join(text.split())
    return shown[:12].hex(" ")
