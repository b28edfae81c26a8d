"""Counts are never below zero."""

from passage.checks import Batch, q


def run(batch: Batch, fields: list[str]) -> None:
    for name in fields:
        c = q(name)
        batch.add("negative-count", f"TRY_CAST({c} AS DOUBLE) < 0", f"{name} is negative", column=name, value=c)
