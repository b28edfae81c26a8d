"""Files written for downloads, kept on disk within a byte budget, least recently used first out.

A key holds the store's generation, so a cached file is never stale: when the data changes, the files of
older generations are removed at once. Each request gets the file open for reading; a file removed while
it is being sent stays readable until it is closed, so eviction never breaks a download in progress.

    cache = ExportCache(Path("/tmp/exports"), budget=64 * 2**20)
    fh, size = cache.open(generation, ("site_visits", "csv", "NGA", "public"), ".csv", write_file)
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from passage.errors import UsageError

log = logging.getLogger(__name__)

DEFAULT_BUDGET = 256 * 2**20


@dataclass
class _Entry:
    path: Path
    size: int


class ExportCache:
    def __init__(self, directory: Path, budget: int = DEFAULT_BUDGET):
        if budget < 0:
            raise UsageError("the export cache budget must not be negative", code="usage.export_cache")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.budget = budget
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()
        self._generation: int | None = None
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """Bytes the cached files take on disk."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def open(self, generation: int, key: tuple, suffix: str, write: Callable[[Path], None]) -> tuple[BinaryIO, int]:
        """The cached file for (`generation`, `key`) open for reading, and its size; `write(path)` makes it
        when it is not cached. A file over the whole budget is served once and not kept."""
        with self._lock:
            self._forget_older(generation)
            entry = self._entries.get((generation, *key))
            if entry is not None:
                try:
                    fh = entry.path.open("rb")
                except FileNotFoundError:  # removed from under us: write it again
                    self._drop((generation, *key))
                else:
                    self._entries.move_to_end((generation, *key))
                    return fh, entry.size
        path = self.directory / f"{uuid.uuid4().hex}{suffix}"
        try:
            write(path)
            size = path.stat().st_size
            fh = path.open("rb")
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        with self._lock:
            stale = self._generation is not None and generation < self._generation  # the data changed meanwhile
            if stale or size > self.budget:  # served from the open file, never kept
                path.unlink(missing_ok=True)
                return fh, size
            self._forget_older(generation)
            self._drop((generation, *key))  # written twice at once: keep the newer file
            self._entries[(generation, *key)] = _Entry(path, size)
            self._bytes += size
            while self._bytes > self.budget and self._entries:
                self._drop(next(iter(self._entries)))
        return fh, size

    def clear(self) -> None:
        with self._lock:
            for key in list(self._entries):
                self._drop(key)

    def _forget_older(self, generation: int) -> None:
        if self._generation is None or generation > self._generation:
            self._generation = generation
            for key in [k for k in self._entries if k[0] < generation]:
                self._drop(key)

    def _drop(self, key: tuple) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self._bytes -= entry.size
        try:
            os.unlink(entry.path)
        except FileNotFoundError:
            pass
        except OSError as exc:  # e.g. a platform that cannot remove an open file: logged, not fatal
            log.warning("could not remove cached export %s: %s", entry.path, exc)


def download_response(fh: BinaryIO, size: int, media_type: str, filename: str) -> StreamingResponse:
    """An open cached file sent as an attachment (and closed once sent)."""
    def chunks():
        while chunk := fh.read(1 << 16):
            yield chunk

    return StreamingResponse(chunks(), media_type=media_type, background=BackgroundTask(fh.close),
                             headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                      "Content-Length": str(size), "Cache-Control": "private, no-cache",
                                      "Vary": "Authorization, Cookie"})
