"""Disaggregated parts (males, females) never add up to more than their total."""

from passage.checks import Batch, q


def run(batch: Batch, parts: list[str], total: str) -> None:
    summed = " + ".join(f"coalesce(TRY_CAST({q(p)} AS DOUBLE), 0)" for p in parts)
    batch.add("sex-exceeds-total", f"({summed}) > TRY_CAST({q(total)} AS DOUBLE)",
              f"{' + '.join(parts)} exceed {total}", column=parts[-1], value=f"({summed})::BIGINT")
