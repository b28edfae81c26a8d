"""Results of reader queries and the encoded answers of the API, kept until the data changes.

Keys include the store's generation (bumped by every commit, edit and release) and the reader's
access class, so a cached answer is never stale and never shown to someone who may not see it.

The portal keeps the generation in memory (`Generation`): a request the portal answered that may have
changed something marks it stale at once, and it is read again from the store at most every
`cache.generation_seconds` otherwise, so the commits of other processes (the CLI, other workers on
PostgreSQL) are seen within that time. A value missing from the cache is computed once however many
requests want it at the same moment (single flight): the others wait for it, in threads (`get`) or in
the event loop (`aget`), so a publish followed by many readers costs one query per distinct answer.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from passage.store import Store
from passage.store.schema import generation


class Generation:
    """The store's generation as this process last saw it: `read()` again when `changed()` was called since,
    or when the value is older than `seconds` (0: on every call); `on_change(value)` hears of each new value."""

    def __init__(self, read: Callable[[], int], seconds: float = 1.0, on_change: Callable[[int], None] | None = None):
        self._read = read
        self.seconds = seconds
        self._on_change = on_change  # told of each new value (the first one too), e.g. to prepare answers for it
        self._value: int | None = None
        self._at = 0.0
        self._stale = True
        self._lock = threading.Lock()
        self.reads = 0  # how often the store was asked

    def current(self) -> int:
        value = self._value
        if value is not None and not self._stale:
            if time.monotonic() - self._at < self.seconds:
                return value
            # Only old: one thread reads it again while the others go on with the value they have (another
            # process's commit is seen a moment later). A change marked here makes everyone wait for the read.
            if not self._lock.acquire(blocking=False):
                return value
            self._lock.release()
        with self._lock:  # one thread reads; the others take its value
            if self._value is None or self._stale or time.monotonic() - self._at >= self.seconds:
                self._stale = False  # before the read: a change marked during it makes the next call read again
                before = self._value
                try:
                    self._value = int(self._read())
                except BaseException:
                    self._stale = True
                    raise
                self._at = time.monotonic()
                self.reads += 1
                if self._value != before and self._on_change is not None:
                    self._on_change(self._value)
            return self._value

    def peek(self) -> int | None:
        """The value when it needs no read (fresh and not marked changed), else None: for the event loop."""
        value = self._value
        if value is not None and not self._stale and time.monotonic() - self._at < self.seconds:
            return value
        return None

    def changed(self) -> None:
        """Something was committed in this process: the next `current()` reads the store again."""
        self._stale = True


class _Flight:
    __slots__ = ("done", "error", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class ResultCache:
    """Values by (generation, key), least recently used out first once their weights pass `size`: each
    answer weighs 1 by default (`size` answers kept); the tables behind downloads and encoded answers weigh
    their bytes. `generation` (the portal's `Generation.current`) replaces a read of the store per lookup.
    `computed` counts the values computed (not found in the cache, or being computed by another caller)."""

    def __init__(self, size: int = 512, weigh: Callable[[Any], int] = lambda value: 1,
                 generation: Callable[[], int] | None = None):
        self.size = size
        self.weigh = weigh
        self._generation = generation
        self._data: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()
        self._weight = 0
        self._flights: dict[tuple, _Flight] = {}
        self._latest: int | None = None
        self._lock = threading.Lock()
        self.computed = 0

    def __len__(self) -> int:
        return len(self._data)

    def generation(self, store: Store) -> int:
        return self._generation() if self._generation is not None else generation(store)

    def get(self, store: Store, key: tuple, compute: Callable[[], Any]) -> tuple[Any, int]:
        """(value, generation): the cached value for this generation, or a fresh one. A value heavier than the
        whole cache is returned and not kept, and so is one computed for a generation older than the newest
        seen (the data changed meanwhile); values of older generations go at once (never read again)."""
        gen = self.generation(store)
        return self.get_at(gen, key, compute), gen

    def peek(self, gen: int, key: tuple) -> tuple[bool, Any]:
        """(found, value) without computing anything."""
        full = (gen, *key)
        with self._lock:
            if full in self._data:
                self._data.move_to_end(full)
                return True, self._data[full][0]
        return False, None

    def get_at(self, gen: int, key: tuple, compute: Callable[[], Any]) -> Any:
        """The value for (`gen`, `key`); when missing, `compute()` runs once while other callers of the same
        key wait for its value (or its error: errors are shared with those waiting, never kept)."""
        full = (gen, *key)
        with self._lock:
            if full in self._data:
                self._data.move_to_end(full)
                return self._data[full][0]
            flight = self._flights.get(full)
            leader = flight is None
            if leader:
                flight = self._flights[full] = _Flight()
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.value
        try:
            value = compute()
        except BaseException as exc:
            with self._lock:
                self._flights.pop(full, None)
            flight.error = exc
            flight.done.set()
            raise
        weight = self.weigh(value)
        with self._lock:
            self.computed += 1
            self._flights.pop(full, None)
            if self._latest is None or gen > self._latest:  # the data changed: older answers go at once
                self._latest = gen
                for k in [k for k in self._data if k[0] != gen]:
                    self._weight -= self._data.pop(k)[1]
            if gen == self._latest and weight <= self.size and full not in self._data:
                self._data[full] = (value, weight)
                self._weight += weight
                while self._weight > self.size:
                    self._weight -= self._data.popitem(last=False)[1][1]
        flight.value = value
        flight.done.set()
        return value

    async def aget(self, gen: int, key: tuple, compute: Callable[[], Any]) -> Any:
        """`get_at` for the event loop: a hit is answered at once; a miss computes (or waits) in a worker
        thread, so the loop never blocks on another request's computation."""
        found, value = self.peek(gen, key)
        if found:
            return value
        import anyio.to_thread

        return await anyio.to_thread.run_sync(self.get_at, gen, key, compute)
