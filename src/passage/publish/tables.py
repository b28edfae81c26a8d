"""What can be published: pack exports, indicators, and the derived tables packs build (`published_tables`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from passage.errors import NotFound
from passage.plugins import available_packs, load_pack, merged
from passage.store import Store


@dataclass
class PublishedTable:
    name: str
    title: str
    data: pa.Table
    hxl: dict[str, str] = field(default_factory=dict)  # column -> hashtag, for the HXL format
    hxl_schema: list[dict[str, str]] = field(default_factory=list)


def list_tables() -> list[tuple[str, str]]:
    """(name, title) of every table `passage export` knows."""
    from passage.indicators import all_indicators

    out = [(n, title) for n, (title, _) in merged("published_tables").items()]
    for pack_name in available_packs():
        out += [(n, spec["title"]) for n, spec in load_pack(pack_name).exports.items()]
    out += [(n, ind.title) for n, ind in all_indicators().items()]
    return sorted(out)


def _pack_export(store: Store, pack_name: str, name: str, spec: dict, source: str | None) -> PublishedTable:
    layout = load_pack(pack_name).layouts[spec["layout"]]
    cols = ", ".join(f'"{fld}" AS "{col}"' for col, fld, _ in layout)
    order = ", ".join(f'"{c}"' for c in spec.get("order", []))
    rel = spec["form"] if source is None else f"({source}) AS src"
    data = store.arrow(f"SELECT {cols} FROM {rel}" + (f" ORDER BY {order}" if order else ""))
    return PublishedTable(name, spec["title"], data, hxl={col: tag for col, _, tag in layout if tag},
                          hxl_schema=spec.get("hxl_schema", []))


def get_table(store: Store, name: str, source: Any = None) -> PublishedTable:
    """`source`, when given, replaces the form's current records with what a reader may see: a callable
    taking the form id and returning an Ibis table (see `passage.access.readable`)."""
    derived = merged("published_tables").get(name)
    if derived:  # built by its pack from the SQL relation of each form it reads
        return derived[1](store, lambda form: _sql(store, source(form)) if source else form)
    for pack_name in available_packs():
        spec = load_pack(pack_name).exports.get(name)
        if spec:
            return _pack_export(store, pack_name, name, spec, _sql(store, source(spec["form"])) if source else None)
    from passage.indicators import all_indicators, compute

    ind = all_indicators().get(name)
    if ind:
        return PublishedTable(name, ind.title, compute(store, name, table=source(ind.form) if source else None))
    raise NotFound(f"nothing published as {name!r} (see `passage export --list`)")


def _sql(store: Store, table: Any) -> str:
    import ibis

    return str(ibis.to_sql(table, dialect="duckdb" if store.dialect == "duckdb" else "postgres"))


def readable_names(store: Store, principal: Any) -> list[tuple[str, str]]:
    """(name, title) of the tables `principal` may download: those of the datasets they may read."""
    from passage.access import allowed
    from passage.releases import list_datasets

    mine = {t for d in list_datasets(store) if allowed(principal, "read-dataset", d) for t in [*d.tables, *d.indicators]}
    return [(n, t) for n, t in list_tables() if n in mine]


def readable_table(store: Store, name: str, principal: Any, *, country: str | None = None) -> PublishedTable:
    """A published table as `principal` may read it, over `passage.access.readable` (admins: every current
    record, and every table); `country` (see `download_country`) narrows it."""
    from passage import query
    from passage.releases import list_datasets

    if not principal.is_admin and name not in {n for n, _ in readable_names(store, principal)}:
        raise NotFound(f"nothing published as {name!r}")
    country = download_country(store, name, principal, country)
    if principal.is_admin and country is None:
        return get_table(store, name)
    by_form = {d.form: d for d in list_datasets(store)}
    f = query.RecordFilter(country=country)

    def source(form_id: str) -> Any:
        if form_id not in by_form:  # admins only: a form no dataset presents
            return store.ibis().table(form_id)
        return query.filtered(store, principal, by_form[form_id], f)

    return get_table(store, name, source=source)


def download_country(store: Store, name: str, principal: Any, country: str | None) -> str | None:
    """`country` for a download of `name`: an ISO3 code of a country in the place table, or one this reader
    sees in the table's dataset (trackers' own codes such as RKS); anything else is a usage error."""
    import re

    from passage import query
    from passage.errors import UsageError
    from passage.releases import readable_datasets

    if country is None:
        return None
    code = country.upper()
    if re.fullmatch(r"[A-Z]{3}", code):
        if store.scalar("SELECT count(*) FROM places WHERE code = ? AND level = 0", [code]):
            return code
        if any(code == c["code"] for d in readable_datasets(store, principal) if name in (*d.tables, *d.indicators)
               and store.table_exists(d.form) for c in query.countries(store, principal, d)):
            return code
    raise UsageError("country must be the ISO 3166 alpha-3 code of a known country (e.g. NGA)",
                     code="usage.country")
