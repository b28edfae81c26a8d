"""Datasets and their releases: what partners and the public may read.

A dataset is a pack's form presented with the metadata HDX asks for, or a user's own form (one dataset per
installed form no pack brings, named after it: `passage.forms.datasets`). It is public or
restricted. Officers import and fix data at any time; a *release* publishes a dataset
for one country as it stands at that moment. Readers without edit rights see, for each
record, the version that was current when the latest release was made — later imports
and edits stay unpublished until the next release.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from passage.access import STORE, Place, acting, allowed
from passage.auth import Principal, audit
from passage.errors import NotFound, UsageError
from passage.plugins import available_packs, load_pack
from passage.store import Store
from passage.store.schema import bump_generation

VISIBILITIES = ("public", "restricted")


@dataclass
class Dataset:
    name: str
    title: str
    form: str
    pack: str
    visibility: str
    metadata: dict[str, Any]
    indicators: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)

    @property
    def country_field(self) -> str:
        places = load_pack(self.pack).record_config(self.form).get("places", {}) if self.pack else {}
        # A pack without place checks (codes beyond ISO 3166) names its country field in `fields`.
        found = places.get("country") or self.metadata.get("fields", {}).get("country")
        if not found:
            raise UsageError(f"dataset {self.name!r} names no country field (`places.country` of its form's "
                             "records, or `fields.country` of the dataset)")
        return found


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def pack_datasets() -> dict[str, tuple[str, dict[str, Any]]]:
    """Dataset name -> (pack, its pack.yaml entry)."""
    out = {}
    for pack_name in available_packs():
        for name, spec in load_pack(pack_name).datasets.items():
            out[name] = (pack_name, spec)
    return out


def list_datasets(store: Store) -> list[Dataset]:
    """Every dataset the installed packs define, with the visibility set in this store, then one per user
    form (`passage.forms.datasets.user_datasets`)."""
    from passage.forms.datasets import user_datasets

    stored = dict(store.query("SELECT name, visibility FROM datasets"))
    out = []
    for name, (pack_name, spec) in sorted(pack_datasets().items()):
        meta = {k: v for k, v in spec.items() if k not in ("form", "indicators", "tables", "visibility")}
        out.append(Dataset(name=name, title=spec["title"], form=spec["form"], pack=pack_name,
                           visibility=stored.get(name, spec.get("visibility", "public")), metadata=meta,
                           indicators=list(spec.get("indicators", [])), tables=list(spec.get("tables", []))))
    return out + user_datasets(store, {d.name for d in out})


def get_dataset(store: Store, name: str) -> Dataset:
    for d in list_datasets(store):
        if d.name == name:
            return d
    raise NotFound(f"no dataset {name!r} (have: {', '.join(d.name for d in list_datasets(store))})")


def map_dataset(store: Store) -> Dataset:
    """The dataset of the portal's country pages (/countries): the first, in pack order, that declares a `map`."""
    order = {name: i for i, name in enumerate(available_packs())}
    found = sorted((d for d in list_datasets(store) if d.metadata.get("map")), key=lambda d: (order[d.pack], d.name))
    if not found:
        raise NotFound("no installed pack declares a dataset with a `map` (the country pages show one)")
    return found[0]


def dataset_for_form(store: Store, form_id: str) -> Dataset | None:
    return next((d for d in list_datasets(store) if d.form == form_id), None)


def set_visibility(store: Store, name: str, visibility: str, *, principal: Principal | None = None,
                   user: str | None = None) -> None:
    """Make a dataset public or restricted (admins; `principal=None` is the store's operator). `user` is
    recorded (default: the principal's name)."""
    actor = acting(principal, "administer", STORE)
    user = user or actor.user_name
    if visibility not in VISIBILITIES:
        raise UsageError(f"visibility must be one of {', '.join(VISIBILITIES)}", code="dataset.visibility")
    ds = get_dataset(store, name)
    with store.transaction():
        store.execute("DELETE FROM datasets WHERE name = ?", [name])
        store.execute("INSERT INTO datasets VALUES (?, ?, ?)", [name, visibility, json.dumps(ds.metadata)])
        audit(store, user, "dataset.visibility", target=name, detail={"visibility": visibility})
        bump_generation(store)


def publish(store: Store, name: str, country_code: str, *, principal: Principal | None = None,
            user: str | None = None, note: str | None = None) -> int:
    """Release a dataset for one country as it stands now; returns the release id. Editors of the whole
    country and admins publish (`principal=None` is the store's operator: demo seeds, benchmarks); a dataset
    the principal may not read is not found, as it is not to them. `user` is recorded as the publisher
    (default: the principal's name)."""
    if not any(d.name == name for d in list_datasets(store)) and store.scalar(
            "SELECT count(*) FROM forms WHERE form_id = ? AND pack IS NULL", [name]):
        from passage.forms.datasets import NO_PLACE

        acting(principal, "publish", Place(country_code))  # said to those who may publish only
        raise UsageError(f"form {name!r} {NO_PLACE}", code="release.no_place")
    ds = get_dataset(store, name)
    if principal is not None and not allowed(principal, "read-dataset", ds):
        raise NotFound(f"no dataset {name!r}")
    actor = acting(principal, "publish", Place(country_code))
    user = user or actor.user_name
    if not store.table_exists(ds.form):
        raise NotFound(f"dataset {name!r} has no records yet")
    n = store.scalar(f'SELECT count(*) FROM {ds.form} WHERE "{ds.country_field}" = ?', [country_code])
    if not n:
        raise NotFound(f"dataset {name!r} has no records for {country_code!r}", code="release.empty")
    with store.transaction():
        release_id = store.scalar("SELECT nextval('release_ids')")
        store.execute("INSERT INTO releases VALUES (?, ?, ?, ?, ?, ?)",
                      [release_id, name, country_code, _now(), user, note])
        audit(store, user, "release.publish", target=f"{name}/{country_code}",
              detail={"release_id": release_id, "records": n})
        bump_generation(store)
    return release_id


def releases(store: Store, *, dataset: str | None = None, country_code: str | None = None,
             limit: int = 50) -> list[dict[str, Any]]:
    """Newest first."""
    where, params = [], []
    if dataset:
        where.append("dataset = ?")
        params.append(dataset)
    if country_code:
        where.append("country_code = ?")
        params.append(country_code)
    names, rows = store.columns(
        "SELECT release_id, dataset, country_code, published_at, published_by, note FROM releases"
        + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY published_at DESC, release_id DESC LIMIT ?",
        [*params, limit])
    return [dict(zip(names, r)) for r in rows]


def withdraw(store: Store, release_id: int, *, principal: Principal | None = None) -> dict[str, Any]:
    """Withdraw one release: readers see its dataset for its country as the release before it showed it, or
    not at all when it was the only one. Those who may publish for the country withdraw (editors of the whole
    country, admins; `principal=None` is the store's operator). The release leaves the list of releases; the
    audit log keeps it (`release.withdraw`). Returns the withdrawn release."""
    names, rows = store.columns("SELECT release_id, dataset, country_code, published_at, published_by, note "
                                "FROM releases WHERE release_id = ?", [int(release_id)])
    if not rows:
        raise NotFound(f"no release {release_id}")
    found = dict(zip(names, rows[0]))
    actor = acting(principal, "publish", Place(found["country_code"]))
    with store.transaction():
        store.execute("DELETE FROM releases WHERE release_id = ?", [found["release_id"]])
        audit(store, actor.user_name, "release.withdraw", target=f"{found['dataset']}/{found['country_code']}",
              detail={k: found[k] for k in ("release_id", "published_at", "published_by", "note")})
        bump_generation(store)
    return found


def unpublish(store: Store, name: str, country_code: str, *, principal: Principal | None = None) -> int:
    """Withdraw every release of a dataset for one country, so its readers without edit rights see none of
    that country's records until it is published again; returns how many releases were withdrawn (each audited
    as `release.withdraw`). NotFound (`release.none`) when the country has no release of the dataset."""
    get_dataset(store, name)
    acting(principal, "publish", Place(country_code))
    ids = [r[0] for r in store.query("SELECT release_id FROM releases WHERE dataset = ? AND country_code = ? "
                                     "ORDER BY release_id", [name, country_code])]
    if not ids:
        raise NotFound(f"dataset {name!r} has no release for {country_code!r}", code="release.none")
    with store.transaction():
        for release_id in ids:
            withdraw(store, release_id, principal=principal)
    return len(ids)


def dataset_countries(store: Store, name: str) -> list[dict[str, Any]]:
    """The countries a dataset holds records for, each with its number of current records, its releases and
    the latest one's time (`None`: unpublished), by country code. For those who administer the store: the
    counts cover unpublished records."""
    ds = get_dataset(store, name)
    counts: dict[str, int] = {}
    try:
        country = ds.country_field
    except UsageError:  # a dataset that names no country field: its releases only
        country = None
    if country and store.table_exists(ds.form):
        counts = dict(store.query(f'SELECT "{country}", count(*) FROM {ds.form} WHERE _current AND NOT '
                                  f'_deleted AND "{country}" IS NOT NULL GROUP BY 1', []))
    released = {c: (n, last) for c, n, last in store.query(
        "SELECT country_code, count(*), max(published_at) FROM releases WHERE dataset = ? GROUP BY country_code",
        [name])}
    return [{"country_code": c, "records": counts.get(c, 0), "releases": released.get(c, (0, None))[0],
             "released_at": released.get(c, (0, None))[1]} for c in sorted(set(counts) | set(released))]


def release_cutoffs(store: Store, dataset: str) -> dict[str, datetime]:
    """Country -> time of its latest release."""
    return dict(store.query(
        "SELECT country_code, max(published_at) FROM releases WHERE dataset = ? GROUP BY country_code", [dataset]))


def readable_datasets(store: Store, principal: Principal) -> list[Dataset]:
    """The datasets `principal` may read (`passage.access`: restricted ones for signed-in users of places)."""
    return [d for d in list_datasets(store) if allowed(principal, "read-dataset", d)]


def read_dataset(store: Store, name: str, principal: Principal) -> Dataset:
    """A dataset `principal` may read; a restricted one they may not read is not found (its existence is
    not disclosed)."""
    ds = get_dataset(store, name)
    if not allowed(principal, "read-dataset", ds):
        raise NotFound(f"no dataset {name!r}")
    return ds


def indicator_dataset(store: Store, name: str, principal: Principal) -> tuple[Dataset, Any]:
    """An indicator and the dataset it is computed over, when `principal` may read that dataset."""
    from passage.indicators import all_indicators

    ind = all_indicators(store).get(name)
    ds = dataset_for_form(store, ind.form) if ind is not None else None
    if ds is None or not allowed(principal, "read-dataset", ds):
        raise NotFound(f"no indicator {name!r}")
    return ds, ind


def index_datasets(store: Store) -> list[str]:
    """PostgreSQL: give each dataset's record table the indexes its readers' queries need, where missing, and
    return their names. Over current versions, its country and level fields with the record id: a country's
    records at one level, in the records pages' order (the first page is read from the index, not sorted from
    the whole table); and the time of current versions: the records changed since a release (`access.readable`).
    DuckDB needs none: its zone maps serve these scans."""
    from passage.forms.registry import record_table

    if store.dialect != "postgres":
        return []
    made = []
    for ds in list_datasets(store):
        table = record_table(ds.form)
        fields = ds.metadata.get("fields", {})
        try:
            country = ds.country_field
        except UsageError:
            continue
        if not store.table_exists(table):
            continue
        have = {r[0] for r in store.query("SELECT column_name FROM information_schema.columns "
                                          "WHERE table_schema = current_schema() AND table_name = ?", [table])}
        place = [c for c in (country, fields.get("level")) if c in have]
        wanted = {f"{table}_country_level"[:63]: f'("{place[0]}", ' + "".join(f'"{c}", ' for c in place[1:])
                  + "_record_id) WHERE _current" if place else None,
                  f"{table}_changed"[:63]: "(_created_at) WHERE _current"}
        present = {r[0] for r in store.query("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                                             "AND tablename = ?", [table])}
        new = [name for name, spec in wanted.items() if spec and name not in present]
        for name in new:
            store.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON {table} {wanted[name]}')
        if new:  # this table's statistics for the planner, once its indexes are made
            store.execute(f"ANALYZE {table}")
        made += new
    return made
