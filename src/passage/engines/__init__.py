"""Engines: where measures and export tables run. DuckDB or PostgreSQL is the store itself (the default);
Spark reads a Parquet snapshot of it (`passage.engines.snapshot`) through Ibis's PySpark backend
(`passage.engines.spark`), with the same results. docs/scale-out.md says how to run it on a cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from passage.errors import UsageError
from passage.settings import DEFAULTS, Settings
from passage.store.base import Store

ENGINES = ("store", "spark")


def open_engine(engine: str, snapshot: str | Path | None, settings: Settings = DEFAULTS, *,
                session: Any = None, master: str | None = "local[2]") -> Store:
    """A read-only store over `snapshot` on `engine` ("spark"): on `session` (a SparkSession, kept open), else
    on a session of its own on `master` (None: spark-submit's), stopped when the store is closed."""
    if engine != "spark":
        raise UsageError(f"unknown engine {engine!r} (have: {', '.join(ENGINES)})", code="usage.engine")
    if not snapshot:
        raise UsageError("--engine spark reads a snapshot: give --snapshot DIR (written by "
                         "`passage snapshot -o DIR`)", code="usage.engine")
    from passage.engines.spark import SparkStore

    return SparkStore(snapshot, session, settings=settings, master=master)


__all__ = ["ENGINES", "open_engine"]
