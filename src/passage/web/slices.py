"""The maps' indicators, prepared once per data generation for every country and level at once.

A map's indicator keeps each place's latest round; for the largest country at admin level 2 that is a second of
the database's work on DuckDB (several on PostgreSQL) however the query is written. The portal computes each map
indicator for every country and level (`passage.query.indicator_slices`), for the public and for admins (who
all read the same current records), in a thread of its own when it starts and whenever the store's generation
changes, as DHIS2 builds its analytics tables after an import. The idle thread reads the generation every
`cache.generation_seconds`, so a commit of the portal's own or of another process is seen without waiting for a
request. A request for one country's map or indicator then filters a small table.

Each country's rows are kept while its records and its release are unchanged. After a publish or an import the
thread first reads which countries changed (one grouping of the record table): requests wait for that, then the
other countries answer at once, while the changed ones are computed again (their readers query their own slice
meanwhile). Each country's chart (`passage.query.country_series`: the indicator as it stood at each date, two
seconds for a large country at 10 M) is prepared the same way, after the maps. A change elsewhere (another form saved) computes nothing. Readers of places query their own slice as
before: what they may see differs by role and place, and each computation would serve few.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from passage import auth, releases
from passage.errors import PassageError
from passage.indicators import get_indicator
from passage.query import (
    RecordFilter,
    Slices,
    country_series,
    indicator_slices,
    list_records,
    sliced,
    slices_versions,
)
from passage.store import Store

log = logging.getLogger(__name__)


def map_names(ds: releases.Dataset) -> list[str]:
    """The indicators a dataset's map can show: its own and the reader's choices."""
    spec = ds.metadata.get("map") or {}
    return list(dict.fromkeys(n for n in [spec.get("indicator"), *spec.get("choices", [])] if n))


def map_indicators(store: Store, principal: Any) -> list[tuple[releases.Dataset, str]]:
    """(dataset, indicator) of every map the reader can open."""
    out = []
    for ds in releases.readable_datasets(store, principal):
        if not map_names(ds) or not store.table_exists(ds.form):
            continue
        for name in map_names(ds):
            try:
                if sliced(get_indicator(name, store), ds) is not None:
                    out.append((ds, name))
            except PassageError:  # a map naming an indicator no pack has: its page says so
                continue
    return out


SERIES = "series"  # the key of a dataset's prepared country charts beside its map indicators

# The reader classes prepared, in this order: the public (most readers), then admins (who all read the same).
READERS = {"public": auth.PUBLIC, "admin": auth.Principal(None, "admin")}


def reader_class(principal: Any) -> str | None:
    return "public" if principal.is_public else "admin" if principal.is_admin else None


@dataclass(frozen=True)
class Prepared:
    """One reader class's indicator (or chart) at generation `gen`: the countries' rows at hand (`rows`), those
    being computed (`pending`), and what a country with nothing to read gets (`empty`)."""

    gen: int
    rows: dict[str, Any]
    pending: frozenset[str]
    empty: Any


class PreparedSlices:
    """The map indicators of the public and of admins, made by a background thread (`start`) for the
    generation `want` was last told of; `built[class]` is the generation they were last all made for.

    Each country's rows are kept while their version is unchanged (`passage.query.slices_versions`): after a
    change the thread first reads every class's versions (one grouping of the record table), so the rows of
    unchanged countries answer at once, then computes the changed countries, one query per class and
    indicator. A request for a country being computed queries its own slice meanwhile. `computed` counts the
    queries, `computed_countries` the countries' rows they made."""

    def __init__(self, root: Store, enabled: bool = True, poll: Callable[[], Any] | None = None,
                 poll_seconds: float = 1.0):
        self.root = root
        self.enabled = enabled
        # Called by the idle thread every `poll_seconds` (the portal: `Generation.current`, which calls `want` on a
        # new generation): a commit is prepared for without waiting for the next request to notice it.
        self.poll = poll
        self.poll_seconds = poll_seconds
        self.built: dict[str, int] = {}
        self.computed = 0
        self.computed_countries = 0
        self._rows: dict[tuple, pa.Table] = {}  # (class, dataset, indicator, country, *version) -> its rows
        self._state: dict[tuple[str, str, str], Prepared] = {}  # (class, dataset, indicator) -> at which generation
        self._wanted: int | None = None
        self._failed: int | None = None
        self._stop = False
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._store: Store | None = None  # the thread's handle, interrupted by `close`

    def ready(self, gen: int) -> bool:
        """Every reader class's maps are prepared for generation `gen` (`/api/v1/health`)."""
        return not self.enabled or all(self.built.get(c) == gen for c in READERS)

    def start(self) -> None:
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="passage-slices", daemon=True)
            self._thread.start()

    def want(self, gen: int) -> None:
        """The store is at generation `gen` (the portal's `Generation` says so when it sees a new one)."""
        with self._changed:
            self._wanted = gen
            self._changed.notify_all()

    def for_reader(self, principal: Any, gen: int, ds: releases.Dataset, wait: float = 120.0) -> Slices | None:
        """What `passage.query.indicator_rows` takes as `slices` for this reader at generation `gen`: a country's
        prepared rows, waited for until the versions of `gen` are read; None (the reader's own slice is queried)
        for a reader of places, another indicator, a country being computed, or when the data moved on."""
        cls = reader_class(principal)
        if self._thread is None or cls is None:
            return None
        names = map_names(ds)

        def get(name: str, country: str) -> pa.Table | None:
            if name not in names:
                return None
            state = self._wait((cls, ds.name, name), gen, wait)
            if state is None or state.gen != gen or country in state.pending:
                return None
            return state.rows.get(country, state.empty)

        return get

    def series(self, principal: Any, gen: int, ds: releases.Dataset, country: str,
               wait: float = 120.0) -> list[dict] | None:
        """A country's chart (`passage.query.country_series`) prepared for this reader at `gen`, as `for_reader`
        gives maps; None when the reader queries it."""
        cls = reader_class(principal)
        if self._thread is None or cls is None or not (ds.metadata.get("series") or {}).get("indicator"):
            return None
        state = self._wait((cls, ds.name, SERIES), gen, wait)
        if state is None or state.gen != gen or country in state.pending:
            return None
        return state.rows.get(country, [])

    def _wait(self, key: tuple[str, str, str], gen: int, wait: float) -> Prepared | None:
        with self._changed:
            self._changed.wait_for(lambda: self._stop or self._wanted != gen or self._failed == gen
                                   or getattr(self._state.get(key), "gen", None) == gen
                                   or self.built.get(key[0]) == gen, timeout=wait)  # built, and not among them
            return self._state.get(key)

    def close(self, timeout: float = 30.0) -> None:
        """Stop the thread, interrupting a computation under way (a portal stopping does not wait for it)."""
        with self._changed:
            self._stop = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(0.5)
            if self._thread.is_alive() and self._store is not None:
                self._store.interrupt()
            self._thread.join(timeout)

    def _next(self) -> int | None:
        """The next generation to prepare (None: closing), polling for one while idle."""
        while True:
            with self._changed:
                if self._changed.wait_for(lambda: self._stop or (self._wanted not in (None, self._failed) and any(
                        self.built.get(c) != self._wanted for c in READERS)),
                        timeout=self.poll_seconds if self.poll else None):
                    return None if self._stop else self._wanted
            try:
                self.poll()  # outside the lock: a new generation comes back through `want`
            except Exception as exc:  # noqa: BLE001 - the next request reads it anyway
                log.debug("generation poll: %s", exc)

    def _moved_on(self, gen: int) -> bool:
        return self._stop or self._wanted != gen

    def _set(self, key: tuple[str, str, str], state: Prepared) -> None:
        with self._changed:
            self._state[key] = state
            self._changed.notify_all()

    def _build(self, store: Store, gen: int) -> bool:
        """Every class's maps for `gen` (False: the data changed again, or closing): the versions first, so
        unchanged countries answer at once, then the changed countries."""
        plans, charts, rows = [], [], {}
        for cls, principal in READERS.items():
            for ds, names in _by_dataset(map_indicators(store, principal)):
                versions = slices_versions(store, principal, ds)
                with_chart = [SERIES] if (ds.metadata.get("series") or {}).get("indicator") else []
                for name in [*names, *with_chart]:
                    if self._moved_on(gen):
                        return False
                    keys = {c: (cls, ds.name, name, c, *v) for c, v in sorted(versions.items())}
                    kept = {c: self._rows[k] for c, k in keys.items() if k in self._rows}
                    changed = [c for c in keys if c not in kept]
                    rows.update({keys[c]: t for c, t in kept.items()})
                    old = self._state.get((cls, ds.name, name))
                    self._set((cls, ds.name, name), Prepared(gen, kept, frozenset(changed), old and old.empty))
                    (charts if name == SERIES else plans).append((cls, principal, ds, name, keys, kept, changed))
        for cls, principal, ds, name, keys, kept, changed in plans:
            if self._moved_on(gen):
                self._rows |= rows  # what was computed is kept for the next generation
                return False
            if not changed and keys:
                continue
            fresh = indicator_slices(store, principal, ds, name, changed if len(changed) < len(keys) else None)
            self.computed += 1
            self.computed_countries += len(changed)
            country = ds.metadata["fields"]["country"]
            made = {c: fresh.filter(pc.equal(fresh[country], c)) for c in changed}
            rows.update({keys[c]: t for c, t in made.items()})
            self._set((cls, ds.name, name), Prepared(gen, kept | made, frozenset(), fresh.schema.empty_table()))
        for cls, principal, ds, name, keys, kept, changed in charts:  # the charts last: a query per country
            made = {}
            for c in changed:
                if self._moved_on(gen):
                    self._rows |= rows
                    return False
                made[c] = rows[keys[c]] = country_series(store, principal, ds, c)
                self.computed += 1
                self.computed_countries += 1
                self._set((cls, ds.name, name), Prepared(gen, kept | made, frozenset(changed) - made.keys(), []))
            self._set((cls, ds.name, name), Prepared(gen, kept | made, frozenset(), []))
        with self._changed:
            self._rows = rows
            self.built = {cls: gen for cls in READERS}
            self._changed.notify_all()
        return True

    def _warm_pages(self, store: Store) -> None:
        """A process's first records page costs about 0.3 s more than later ones (Ibis and the compiler load
        what every later page reuses): read one here, once, instead of in a reader's request."""
        for ds, _ in map_indicators(store, auth.PUBLIC)[:1]:
            try:
                country = ds.metadata["fields"]["country"]
                first = store.ibis().table(ds.form).select(country).limit(1).to_pyarrow()
                if first.num_rows:
                    list_records(store, auth.PUBLIC, ds, RecordFilter(country=first[country][0].as_py(), level=1),
                                 limit=1)
            except Exception as exc:  # noqa: BLE001 - only a head start
                log.debug("records page warm-up: %s", exc)

    def _run(self) -> None:
        store = self._store = self.root.sibling()
        try:
            self._warm_pages(store)
            while (gen := self._next()) is not None:
                try:
                    self._build(store, gen)
                except Exception as exc:  # noqa: BLE001 - requests then query their own slices
                    if self._stop:
                        return
                    log.warning("map indicators not prepared for generation %s: %s", gen, exc)
                    with self._changed:
                        self._failed = gen
                        self._changed.notify_all()
        finally:
            store.close()


def _by_dataset(pairs: list[tuple[releases.Dataset, str]]) -> list[tuple[releases.Dataset, list[str]]]:
    out: dict[str, tuple[releases.Dataset, list[str]]] = {}
    for ds, name in pairs:
        out.setdefault(ds.name, (ds, []))[1].append(name)
    return list(out.values())
