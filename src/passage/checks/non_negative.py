"""Counts are never below zero."""

from passage.checks import Context, flag, q


def run(ctx: Context, fields: list[str]) -> None:
    for name in fields:
        c = q(name)
        flag(ctx, "negative-count", f"TRY_CAST({c} AS DOUBLE) < 0", f"{name} is negative", column=name, value=c)
