"""Numbered store migrations: what changes a store made by an earlier Passage needs, in order.

The core's migrations are the modules `NNNN_name.py` of this package; a pack's are those of its own package,
returned by its `store_migrations` hook (numbered within the pack and recorded per pack). Each module has a
docstring saying what it changes and why, and `apply(store, migration)`, which runs inside the transaction
that records it and may return a few counts for the audit log. A store records what it has applied in
`schema_migrations` (`ledger.py`); opening a store that lacks some of them, or has some this Passage does not
know, is refused; `passage migrate` (`run.py`) applies the missing ones.

    store                          passage.store.open_store checks; passage.store.migrations.migrate applies
    ├── core    0001 baseline      (this package)
    └── <pack>  0001 ...           (the pack's package, through its store_migrations hook)
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from passage.errors import StoreError

CORE = "core"  # the name the core's migrations are recorded under; packs use their own names
_MODULE = re.compile(r"^(\d{4})_(\w+)\.py$")


class MigrationRefused(StoreError):
    """A migration found data it cannot convert safely; its transaction rolled back, nothing was changed."""

    code = "store.migration_refused"


@dataclass(frozen=True)
class Migration:
    pack: str
    number: int
    name: str
    description: str
    apply: Callable[..., dict[str, Any] | None]

    @property
    def label(self) -> str:
        return f"{self.pack} {self.number:04d} {self.name}"


def numbered(package: str, pack: str) -> list[Migration]:
    """The migrations of a package: its modules `0001_name.py`, `0002_name.py`, … numbered without gaps."""
    found = []
    for entry in files(package).iterdir():
        match = _MODULE.match(entry.name)
        if match:
            module = importlib.import_module(f"{package}.{entry.name[:-3]}")
            doc = (module.__doc__ or "").strip()
            if not doc or not callable(getattr(module, "apply", None)):
                raise StoreError(f"migration {package}.{entry.name[:-3]} needs a docstring and apply(store, migration)")
            found.append(Migration(pack, int(match.group(1)), match.group(2), doc, module.apply))
    found.sort(key=lambda m: m.number)
    if [m.number for m in found] != list(range(1, len(found) + 1)):
        raise StoreError(f"migrations of {package} must be numbered 1, 2, 3 … without gaps: "
                         f"{[m.number for m in found]}")
    return found


def known() -> dict[str, list[Migration]]:
    """Every migration this Passage knows: the core's, then each installed pack's (packs by name; `migrate`
    runs them in `requires` order). Asks the plugins only, without loading packs: every open calls it."""
    from passage.plugins import manager

    out = {CORE: numbered(__name__, CORE)}
    for name, plugin in sorted(manager().list_name_plugin()):
        hook = getattr(plugin, "store_migrations", None)
        migrations = list(hook() or []) if hook is not None else []
        wrong = [m.label for m in migrations if m.pack != name]
        if wrong or name == CORE:
            raise StoreError(f"pack {name!r} returns migrations of another name: {wrong or [CORE]}")
        out[name] = migrations
    return out


from passage.store.migrations.ledger import StoreLevels, levels
from passage.store.migrations.run import migrate, status

__all__ = ["CORE", "Migration", "MigrationRefused", "StoreLevels", "known", "levels", "migrate", "numbered",
           "status"]
