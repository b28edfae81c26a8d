"""Reported dates lie in the past: a future date is a typing error."""

from passage.checks import Batch, q


def run(batch: Batch, fields: list[str]) -> None:
    for name in fields:
        c = q(name)
        batch.add("future-date", f"TRY_CAST({c} AS DATE) > current_date", f"{name} is in the future",
                  column=name, value=c)
