"""The maps' indicators, prepared once per data generation for every country and level at once.

A map's indicator keeps each place's latest round; for the largest country at admin level 2 that is a second of
the database's work however the query is written. The portal computes each public map indicator for every
country and level (`passage.query.indicator_slices`) in a thread of its own when it starts and whenever the
store's generation changes (its own commits and releases at once, another process's within
`cache.generation_seconds`), as DHIS2 builds its analytics tables after an import. A public request for one
country's map or indicator then filters that small table. A request that comes before it is ready waits for the
computation under way. Each country's rows are kept while its records and release are unchanged: a publish or
an import computes that country again, a change elsewhere (another form saved) nothing. Admins, who all read the same current records, get theirs the same way, after the public. Readers
of places query their own slice as before: what they may see differs by role and place, and each computation
would serve few.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from passage import auth, releases
from passage.errors import PassageError
from passage.indicators import get_indicator
from passage.query import RecordFilter, Slices, indicator_slices, list_records, sliced, slices_versions
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


# The reader classes prepared, in this order: the public (most readers), then admins (who all read the same).
READERS = {"public": auth.PUBLIC, "admin": auth.Principal(None, "admin")}


def reader_class(principal: Any) -> str | None:
    return "public" if principal.is_public else "admin" if principal.is_admin else None


class PreparedSlices:
    """The map indicators of the public and of admins, made by a background thread (`start`) for the
    generation `want` was last told of; `built[class]` is the generation they were last all made for. A
    country's rows whose data did not change (`passage.query.slices_versions`) are kept from one generation to
    the next; `computed` counts the queries run."""

    def __init__(self, root: Store, enabled: bool = True):
        self.root = root
        self.enabled = enabled
        self.built: dict[str, int] = {}
        self.computed = 0  # queries run
        self.computed_countries = 0  # countries' rows computed by them
        self._parts: dict[tuple, pa.Table] = {}  # (class, dataset, indicator, country, *version) -> its rows
        self._current: dict[tuple[str, str, str], pa.Table] = {}  # (class, dataset, indicator) -> its slices
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
        """What `passage.query.indicator_rows` takes as `slices` for this reader at generation `gen`: the
        prepared table, waited for while it is being made for `gen`; None (the reader's own slice is queried)
        for a reader of places, another indicator, or when the data moved on meanwhile."""
        cls = reader_class(principal)
        if self._thread is None or cls is None:
            return None
        names = map_names(ds)

        def get(name: str) -> pa.Table | None:
            if name not in names:
                return None
            with self._changed:
                self._changed.wait_for(lambda: self._stop or self.built.get(cls) == gen or self._wanted != gen
                                       or self._failed == gen, timeout=wait)
                return self._current.get((cls, ds.name, name)) if self.built.get(cls) == gen else None

        return get

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
        with self._changed:
            self._changed.wait_for(lambda: self._stop or (self._wanted not in (None, self._failed) and any(
                self.built.get(c) != self._wanted for c in READERS)))
            return None if self._stop else self._wanted

    def _prepare(self, store: Store, gen: int, cls: str) -> bool:
        """One reader class's tables for `gen` (False: the data changed again, or closing). Each country's rows
        are kept while its version is unchanged; the countries that changed are computed in one query."""
        principal = READERS[cls]
        parts, current = {}, {}
        for ds, name in map_indicators(store, principal):
            if self._stop or self._wanted != gen:
                return False
            keys = {c: (cls, ds.name, name, c, *v) for c, v in sorted(slices_versions(store, principal, ds).items())}
            changed = [c for c, key in keys.items() if key not in self._parts]
            if changed or not keys:
                fresh = indicator_slices(store, principal, ds, name, changed if len(changed) < len(keys) else None)
                self.computed += 1
                self.computed_countries += len(changed)
                country = ds.metadata["fields"]["country"]
                for c in changed:
                    parts[keys[c]] = fresh.filter(pc.equal(fresh[country], c))
                if not keys:
                    current[(cls, ds.name, name)] = fresh  # nothing to read: the table's columns, no rows
            parts.update({key: self._parts[key] for c, key in keys.items() if c not in changed})
            if keys:
                current[(cls, ds.name, name)] = pa.concat_tables([parts[key] for key in keys.values()])
        with self._changed:
            self._parts = {k: v for k, v in self._parts.items() if k[0] != cls} | parts
            self._current = {k: v for k, v in self._current.items() if k[0] != cls} | current
            self.built[cls] = gen
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
                    for cls in READERS:
                        if not self._prepare(store, gen, cls):
                            break  # start over for the new generation
                except Exception as exc:  # noqa: BLE001 - requests then query their own slices
                    if self._stop:
                        return
                    log.warning("map indicators not prepared for generation %s: %s", gen, exc)
                    with self._changed:
                        self._failed = gen
                        self._changed.notify_all()
        finally:
            store.close()
