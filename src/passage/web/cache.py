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
    """Values by (generation, key), least recently used out first once their weights pass `size`: each
    answer weighs 1 by default (`size` answers kept); the tables behind downloads weigh their bytes."""

    def __init__(self, size: int = 512, weigh: Callable[[Any], int] = lambda value: 1):
        self.size = size
        self.weigh = weigh
        self._data: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()

    def get(self, store: Store, key: tuple, compute: Callable[[], Any]) -> tuple[Any, int]:
        """(value, generation): the cached value for this generation, or a fresh one. A value heavier than the
        whole cache is returned and not kept; values of older generations go at once (never read again)."""
        gen = generation(store)
        full = (gen, *key)
        with self._lock:
            if full in self._data:
                self._data.move_to_end(full)
                return self._data[full][0], gen
        value = compute()
        weight = self.weigh(value)
        with self._lock:
            for k in [k for k in self._data if k[0] != gen]:
                self._weight -= self._data.pop(k)[1]
            if weight <= self.size and full not in self._data:
                self._data[full] = (value, weight)
                self._weight += weight
                while self._weight > self.size:
                    self._weight -= self._data.popitem(last=False)[1][1]
        return value, gen
