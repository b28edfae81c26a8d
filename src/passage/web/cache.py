"""Results of reader queries, kept until the data changes.

Keys include the store's generation (bumped by every commit, edit and release) and the reader's
access class, so a cached answer is never stale and never shown to someone who may not see it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from passage.store import Store
from passage.store.schema import generation


class ResultCache:
    def __init__(self, size: int = 512):
        self.size = size
        self._data: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, store: Store, key: tuple, compute: Callable[[], Any]) -> tuple[Any, int]:
        """(value, generation): the cached value for this generation, or a fresh one."""
        gen = generation(store)
        full = (gen, *key)
        with self._lock:
            if full in self._data:
                self._data.move_to_end(full)
                return self._data[full], gen
        value = compute()
        with self._lock:
            self._data[full] = value
            while len(self._data) > self.size:
                self._data.popitem(last=False)
        return value, gen


class TableCache:
    """Published tables behind downloads, kept in memory within a byte budget until the data changes: a
    reader who takes CSV and then XLSX, or the five formats of one table, reads the store once."""

    def __init__(self, budget: int):
        self.budget = budget
        self._data: OrderedDict[tuple, Any] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, store: Store, key: tuple, compute: Callable[[], Any], size: Callable[[Any], int]) -> Any:
        """The table for (this generation, `key`), computed when missing; `size(table)` is its bytes."""
        full = (generation(store), *key)
        with self._lock:
            if full in self._data:
                self._data.move_to_end(full)
                return self._data[full][0]
        value = compute()
        nbytes = size(value)
        with self._lock:
            for k in [k for k in self._data if k[0] != full[0]]:  # an older generation is never read again
                self._bytes -= self._data.pop(k)[1]
            if nbytes <= self.budget and full not in self._data:
                self._data[full] = (value, nbytes)
                self._bytes += nbytes
                while self._bytes > self.budget:
                    self._bytes -= self._data.popitem(last=False)[1][1]
        return value
