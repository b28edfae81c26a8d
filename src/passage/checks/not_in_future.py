"""Reported dates lie in the past: a future date is a typing error."""

from passage.checks import Context, flag, q


def run(ctx: Context, fields: list[str]) -> None:
    for name in fields:
        c = q(name)
        flag(ctx, "future-date", f"TRY_CAST({c} AS DATE) > current_date", f"{name} is in the future",
             column=name, value=c)
