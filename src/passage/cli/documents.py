"""`passage documents`: add, list, search and show reports, maps and snapshots."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from passage.cli import main
from passage.cli.render import table
from passage.documents import KINDS
from passage.errors import NotFound

pass_ctx = click.pass_obj


@main.group()
def documents() -> None:
    """Reports, maps and snapshots (PDF, PNG, JPEG, SVG, WebP) with full-text search."""


def _date(value: datetime | None):
    return value.date() if value else None


@documents.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--title", required=True, help="The document's title, as readers will see it.")
@click.option("--place", "places", multiple=True, help="ISO3 country or P-code (repeat for several).")
@click.option("--date", "doc_date", type=click.DateTime(["%Y-%m-%d"]), help="Date of the document (YYYY-MM-DD).")
@click.option("--language", help="ISO 639-1 code, e.g. en, fr, es.")
@click.option("--tag", "tags", multiple=True, help="A tag (repeat for several).")
@click.option("--kind", type=click.Choice(KINDS), default="report", show_default=True)
@click.option("--restricted", is_flag=True, help="Only signed-in readers with access see it.")
@pass_ctx
def documents_add(ctx, file: Path, title: str, places: tuple[str, ...], doc_date: datetime | None,
                  language: str | None, tags: tuple[str, ...], kind: str, restricted: bool) -> None:
    """Check a file by its content, archive it and index its text for search.

    Exit code 1 when the file is refused (not a PDF or image, too large, unknown place,
    unknown language); 2 when the same file was added before.

    \b
    Example:
      passage documents add round46.pdf --title "Nigeria — North-East: Round 46" \\
        --place NG002 --place NG008 --date 2024-06-30 --language en --tag displacement
    """
    from passage.cli.render import accepted
    from passage.documents import add_document

    added = add_document(ctx.store, file, title=title, places=list(places), doc_date=_date(doc_date),
                         language=language, tags=list(tags), kind=kind,
                         visibility="restricted" if restricted else "public", principal=ctx.principal)
    doc_id = accepted(added).value
    click.echo(f"document {doc_id} added: {title}")


def _rows(hits) -> list[tuple]:
    return [(h.document.doc_id, h.document.doc_date, h.document.kind, h.document.language or "",
             ",".join(h.document.places), h.document.title, h.document.visibility) for h in hits]


NAMES = ["id", "date", "kind", "lang", "places", "title", "visibility"]


@documents.command("list")
@click.option("--place", "places", multiple=True, help="ISO3 or P-code; includes the places inside it.")
@click.option("--kind", type=click.Choice(KINDS))
@click.option("--language", help="ISO 639-1 code.")
@click.option("--limit", default=100, show_default=True)
@pass_ctx
def documents_list(ctx, places: tuple[str, ...], kind: str | None, language: str | None, limit: int) -> None:
    """Documents, newest first.

    \b
    Example:
      passage documents list --place NGA --kind report
    """
    from passage.documents import search_documents

    total, hits = search_documents(ctx.store, None, places=list(places) or None, kind=kind, language=language,
                                   limit=limit)
    table(NAMES, _rows(hits))
    if total > len(hits):
        click.echo(f"… {total - len(hits)} more (use --limit)")


@documents.command("search")
@click.argument("query")
@click.option("--place", "places", multiple=True, help="ISO3 or P-code; includes the places inside it.")
@click.option("--kind", type=click.Choice(KINDS))
@click.option("--language", help="ISO 639-1 code.")
@click.option("--tag", help="Only documents with this tag.")
@click.option("--limit", default=20, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_ctx
def documents_search(ctx, query: str, places: tuple[str, ...], kind: str | None, language: str | None,
                     tag: str | None, limit: int, fmt: str) -> None:
    """Find documents whose title, tags, places or text hold every word of QUERY.

    Accents and case do not matter; the last word also matches as a prefix.

    \b
    Example:
      passage documents search "displacement borno" --place NGA
      passage documents search deplacement --format json
    """
    from passage.documents import search_documents

    total, hits = search_documents(ctx.store, query, places=list(places) or None, kind=kind, language=language,
                                   tag=tag, limit=limit)
    if fmt == "json":
        click.echo(json.dumps({"total": total, "hits": [
            {**h.document.as_dict(), "score": h.score, "snippet": h.snippet} for h in hits]},
            indent=2, ensure_ascii=False))
        return
    for h in hits:
        d = h.document
        click.echo(f"[{d.doc_id}] {d.title}  ({d.doc_date or 'no date'}; {d.kind}; {','.join(d.places)}; "
                   f"score {h.score:g})")
        if h.snippet:
            click.echo(f"    {h.snippet}")
    click.echo(f"{total} document(s) match" + (f"; {len(hits)} shown" if total > len(hits) else ""))


@documents.command("show")
@click.argument("doc_id", type=int)
@click.option("--text", "with_text", is_flag=True, help="Print the whole extracted text.")
@pass_ctx
def documents_show(ctx, doc_id: int, with_text: bool) -> None:
    """A document's details, its archived file and the start of its text.

    \b
    Example:
      passage documents show 3 --text
    """
    from passage.documents import document_file, get_document

    d = get_document(ctx.store, doc_id)
    fields = d.as_dict()
    fields["places"] = ", ".join(d.places)
    fields["tags"] = ", ".join(d.tags)
    try:
        fields["archived_file"] = str(document_file(ctx.store, d))
    except NotFound as exc:
        fields["archived_file"] = f"({exc})"
    width = max(len(k) for k in fields)
    for k, v in fields.items():
        click.echo(f"{k:<{width}}  {'' if v is None else v}")
    if d.body:
        click.echo("")
        click.echo(d.body if with_text else (d.body[:500] + ("…" if len(d.body) > 500 else "")))
