"""Indicators: the measures a pack publishes (tables, maps, charts, the API), from its indicator files, and
those users add to their own forms (`passage indicators add`, kept in the store: `passage.forms.datasets`).

An indicator is a measure (`passage.measures`) listed in a file the pack.yaml names under `indicators`, or
in a user's YAML file; this module finds them and runs them. The measure language is documented in docs/measures.md.
"""

from __future__ import annotations

from typing import Any

import ibis

from passage.errors import NotFound
from passage.measures import Measure, published_measures
from passage.measures import compute as compute_measure
from passage.measures import expression as measure_expression
from passage.store import Store

Indicator = Measure


def all_indicators(store: Store | None = None) -> dict[str, Measure]:
    """The packs' indicators, and with a store, its users' indicators too."""
    if store is None:
        return published_measures()
    from passage.forms.datasets import stored_measures

    return {**stored_measures(store), **published_measures()}


def get_indicator(name: str, store: Store | None = None) -> Measure:
    found = all_indicators(store)
    if name not in found:
        raise NotFound(f"no indicator {name!r} (have: {', '.join(sorted(found))})")
    return found[name]


def expression(store: Store, ind: Measure, filters: dict[str, Any] | None = None,
               table: ibis.Table | None = None, as_of: str | None = None) -> ibis.Table:
    """The indicator as an Ibis expression over the store (not yet executed).

    `table` replaces the form's current records, e.g. with what a reader may see (`passage.access`);
    `as_of`: the indicator as it stood at each value of that key (`passage.measures.expression`)."""
    return measure_expression(store, ind, filters, table, as_of)


def compute(store: Store, name: str, filters: dict[str, Any] | None = None, table: ibis.Table | None = None) -> Any:
    """The indicator's rows as a pyarrow Table."""
    return compute_measure(store, get_indicator(name, store), filters, table)
