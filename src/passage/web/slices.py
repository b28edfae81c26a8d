"""The public maps' indicators, prepared once per data generation for every country and level at once.

A map's indicator keeps each place's latest round; for the largest country at admin level 2 that is a second of
the database's work however the query is written. The portal computes each public map indicator for every
country and level (`passage.query.indicator_slices`) in a thread of its own when it starts and whenever the
store's generation changes (its own commits and releases at once, another process's within
`cache.generation_seconds`), as DHIS2 builds its analytics tables after an import. A public request for one
country's map or indicator then filters that small table. A request that comes before it is ready waits for the
computation under way; tables whose data did not change are kept (another form saved changes the generation,
not the maps). Signed-in readers query their own slice as before: what they may see differs by role and place,
and each computation would serve few.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pyarrow as pa

from passage import auth, releases
from passage.errors import PassageError
from passage.indicators import get_indicator
from passage.query import Slices, indicator_slices, sliced, slices_version
from passage.store import Store

log = logging.getLogger(__name__)


def map_names(ds: releases.Dataset) -> list[str]:
    """The indicators a dataset's map can show: its own and the reader's choices."""
    spec = ds.metadata.get("map") or {}
    return list(dict.fromkeys(n for n in [spec.get("indicator"), *spec.get("choices", [])] if n))


def map_indicators(store: Store) -> list[tuple[releases.Dataset, str]]:
    """(dataset, indicator) of every map the public can open."""
    out = []
    for ds in releases.readable_datasets(store, auth.PUBLIC):
        if not map_names(ds) or not store.table_exists(ds.form):
            continue
        for name in map_names(ds):
            try:
                if sliced(get_indicator(name, store), ds) is not None:
                    out.append((ds, name))
            except PassageError:  # a map naming an indicator no pack has: its page says so
                continue
    return out


class PreparedSlices:
    """The public's map indicators for the generation `built`, made by a background thread (`start`) for the
    generation `want` was last told of. A table whose data did not change (`passage.query.slices_version`) is
    kept from one generation to the next; `computed` counts the tables computed."""

    def __init__(self, root: Store, enabled: bool = True):
        self.root = root
        self.enabled = enabled
        self.built: int | None = None  # the last generation whose tables were all made
        self.computed = 0
        self._tables: dict[tuple, pa.Table] = {}  # (dataset, indicator, *version) -> its slices, at `built`
        self._current: dict[tuple[str, str], tuple] = {}  # (dataset, indicator) -> its key in `_tables`
        self._wanted: int | None = None
        self._failed: int | None = None
        self._stop = False
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._store: Store | None = None  # the thread's handle, interrupted by `close`

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
        for a signed-in reader, another indicator, or when the data moved on meanwhile."""
        if self._thread is None or not principal.is_public:
            return None
        names = map_names(ds)

        def get(name: str) -> pa.Table | None:
            if name not in names:
                return None
            with self._changed:
                self._changed.wait_for(lambda: self._stop or self.built == gen or self._wanted != gen
                                       or self._failed == gen, timeout=wait)
                key = self._current.get((ds.name, name)) if self.built == gen else None
                return self._tables.get(key) if key else None

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
            self._changed.wait_for(lambda: self._stop or self._wanted not in (None, self.built, self._failed))
            return None if self._stop else self._wanted

    def _run(self) -> None:
        store = self._store = self.root.sibling()
        try:
            while (gen := self._next()) is not None:
                tables, current = {}, {}
                try:
                    for ds, name in map_indicators(store):
                        if self._stop or self._wanted != gen:
                            break  # closing, or the data changed again: start over for the new generation
                        key = (ds.name, name, *slices_version(store, auth.PUBLIC, ds))
                        table = self._tables.get(key)
                        if table is None:
                            table = indicator_slices(store, auth.PUBLIC, ds, name)
                            self.computed += 1
                        tables[key], current[(ds.name, name)] = table, key
                    else:
                        with self._changed:
                            self._tables, self._current, self.built = tables, current, gen
                            self._changed.notify_all()
                except Exception as exc:  # noqa: BLE001 - requests then query their own slices
                    if self._stop:
                        return
                    log.warning("map indicators not prepared for generation %s: %s", gen, exc)
                    with self._changed:
                        self._failed = gen
                        self._changed.notify_all()
        finally:
            store.close()
