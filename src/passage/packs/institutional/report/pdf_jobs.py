"""The annual report's PDF, built in the background and kept per store generation.

Printing the report takes WeasyPrint many seconds, too long to keep a reader's request waiting. A build is keyed
by what decides its content — the store's generation (bumped by every commit, edit and release), the year, the
language and the reader's access class — so a finished PDF is served at once to every request with the same key,
and no two builds of one key ever run: the second request finds the first's job and reports its progress.
Builds run one at a time (`workers`), in the order asked, on long-lived daemon threads (each keeps its own store
handle), so a portal that stops is never held up by one.

When the data changes, the next request starts a build for the new generation; the PDFs of older generations
are dropped and never served again (they may count records since withdrawn from the reader).

    builds = PdfBuilds()
    job = builds.request((generation, 2020, "fr", "admin"), lambda: html_of_the_report)
    job.state            # "queued", "building", "ready" or "failed"; job.data holds the PDF once ready
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from passage.errors import PassageError

log = logging.getLogger(__name__)

QUEUED, BUILDING, READY, FAILED = "queued", "building", "ready", "failed"


class PdfBusy(PassageError):
    """Too many PDFs are waiting to be built: ask again later."""

    code = "report.pdf_busy"
    http_status = 503


@dataclass
class PdfJob:
    """One PDF being built, or built: its state, the stage it is at, and when it started and ended."""
    key: tuple
    state: str = QUEUED
    stage: str = "queued"  # queued, html, layout, writing, done
    requested_at: float = field(default_factory=time.monotonic)
    started_at: float | None = None
    finished_at: float | None = None
    data: bytes | None = None
    pages: int | None = None
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def generation(self) -> int:
        return self.key[0]

    def elapsed(self) -> float:
        """Seconds since the build was asked for (until it ended)."""
        return (self.finished_at or time.monotonic()) - self.requested_at

    def status(self) -> dict[str, Any]:
        """What a client polling for the PDF is told (no PDF bytes)."""
        out: dict[str, Any] = {"state": self.state, "stage": self.stage, "elapsed_seconds": round(self.elapsed(), 1),
                               "generation": self.generation}
        if self.pages is not None:
            out["pages"] = self.pages
        if self.error:
            out["error"] = self.error
        return out


class PdfBuilds:
    """Background PDF builds, one job per key (`key[0]` is the store generation), `workers` at a time; at most
    `max_waiting` builds wait (more raise PdfBusy) and `max_kept` finished PDFs are kept, the oldest out first."""

    def __init__(self, workers: int = 1, max_waiting: int = 16, max_kept: int = 32):
        self.max_waiting, self.max_kept = max_waiting, max_kept
        self._jobs: dict[tuple, PdfJob] = {}
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._workers = workers
        self._threads: list[threading.Thread] = []
        self._latest = -1  # the newest generation asked for
        self.builds_started = 0  # how many builds ever ran (tests and logs read it)
        self.last_seconds: float | None = None  # how long the last finished build took: the next one's estimate

    def get(self, key: tuple) -> PdfJob | None:
        with self._lock:
            return self._jobs.get(key)

    def request(self, key: tuple, make_html: Callable[[], str],
                make_pdf: Callable[[str, Callable[[str], None]], tuple[bytes, int]] | None = None) -> PdfJob:
        """The job for `key`: the finished or running one, else a new build started in the background.
        A failed build is started again (the reader asked again); `make_html()` runs on the build's thread."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.state != FAILED:
                return job
            if sum(1 for j in self._jobs.values() if j.state == QUEUED) >= self.max_waiting:
                raise PdfBusy(f"{self.max_waiting} PDFs are waiting to be built: ask again in a minute")
            gen = key[0]
            if gen > self._latest:
                self._latest = gen
                for k in [k for k, j in self._jobs.items() if k[0] < gen and j.state in (READY, FAILED)]:
                    del self._jobs[k]  # older generations are never served again; running ones go when they end
            job = self._jobs[key] = PdfJob(key)
            if len(self._threads) < self._workers:
                worker = threading.Thread(target=self._work, daemon=True, name="report-pdf")
                self._threads.append(worker)
                worker.start()
        self._queue.put((job, make_html, make_pdf or _print))
        return job

    def _work(self) -> None:
        while True:
            self._run(*self._queue.get())

    def ahead_of(self, job: PdfJob) -> int:
        """Builds queued or running before this queued one."""
        with self._lock:
            return sum(1 for j in self._jobs.values()
                       if j is not job and j.state in (QUEUED, BUILDING) and j.requested_at <= job.requested_at)

    def _run(self, job: PdfJob, make_html: Callable[[], str], make_pdf: Callable) -> None:
        with self._lock:
            stale = job.generation < self._latest
            if not stale:
                self.builds_started += 1
        if stale:  # the data changed while it waited: nobody will ask for it again
            job.state, job.error, job.finished_at = FAILED, "the data changed before it was built", time.monotonic()
            with self._lock:
                if self._jobs.get(job.key) is job:
                    del self._jobs[job.key]
            job.done.set()
            return
        job.state, job.stage, job.started_at = BUILDING, "html", time.monotonic()
        try:
            html = make_html()
            job.data, job.pages = make_pdf(html, lambda stage: setattr(job, "stage", stage))
            job.state, job.stage = READY, "done"
        except Exception as exc:  # a failed build is reported to the reader, not raised here
            log.exception("the annual report's PDF %s could not be built", job.key)
            job.state, job.error = FAILED, f"{type(exc).__name__}: {exc}"
        finally:
            job.finished_at = time.monotonic()
            if job.state == READY:
                self.last_seconds = job.finished_at - job.started_at
            with self._lock:
                if job.generation < self._latest and self._jobs.get(job.key) is job:
                    del self._jobs[job.key]  # the data changed while it was built: nobody will ask for it
                done = sorted((j.finished_at or 0, k) for k, j in self._jobs.items() if j.state in (READY, FAILED))
                for _, k in done[:max(0, len(done) - self.max_kept)]:
                    del self._jobs[k]
            job.done.set()


def _print(html: str, progress: Callable[[str], None]) -> tuple[bytes, int]:
    from passage.packs.institutional.report.annual import pdf

    return pdf(html, progress=progress)
