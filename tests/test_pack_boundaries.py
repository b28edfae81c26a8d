"""Packs are plugins: the core names no pack, and imports only go from packs to the core.

The names come from the installed packs themselves (their names, forms, datasets, exports, indicators,
import kinds and derived tables), so a new pack is held to the rule without editing this test.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from passage.ingest import importers
from passage.plugins import available_packs, load_pack, merged, pack_dirs

SRC = Path(__file__).resolve().parents[1] / "src" / "passage"
PACKS = SRC / "packs"
# A core file is every module outside packs/, the web shell's templates and static files included.
CORE = sorted(p for p in SRC.rglob("*") if p.is_file() and PACKS not in p.parents
              and p.suffix in (".py", ".html", ".js", ".css") and "vendor" not in p.parts)


def pack_words() -> dict[str, str]:
    """Every name a pack brings -> the pack it belongs to."""
    words: dict[str, str] = {}
    for name in available_packs():
        pack = load_pack(name)
        found = {name, *pack.forms, *pack.datasets, *pack.exports, *(i["name"] for i in pack.indicators)}
        words.update({w: name for w in found})
    for kind, make in importers().items():
        owner = getattr(make, "pack", None) or getattr(getattr(make, "func", None), "pack", None)
        if owner:
            words[kind] = owner
    words.update({t: "derived table" for t in merged("published_tables")})
    return words


def test_the_builtin_packs_are_installed_through_their_entry_points():
    assert {"dtm", "travel", "staff", "institutional"} <= set(pack_dirs())
    assert all(d.is_relative_to(PACKS) for n, d in pack_dirs().items() if n in ("dtm", "travel", "staff", "institutional"))


def test_core_names_no_pack():
    words = pack_words()
    assert len(words) > 20, words  # the rule below must have something to hold against
    pattern = re.compile(r"(?<![\w-])(" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
                         + r")(?![\w-])", re.IGNORECASE)
    hits = []
    for path in CORE:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for m in pattern.finditer(line):
                hits.append(f"{path.relative_to(SRC)}:{n}: {m.group(1)!r} ({words[m.group(1).lower()] if m.group(1).lower() in words else words.get(m.group(1), '?')}): {line.strip()[:100]}")
    assert not hits, "core modules name packs:\n" + "\n".join(hits)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def test_core_never_imports_a_pack():
    bad = [f"{p.relative_to(SRC)} imports {m}" for p in CORE if p.suffix == ".py"
           for m in sorted(_imports(p)) if m == "passage.packs" or m.startswith("passage.packs.")]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("name", ["dtm", "travel", "staff", "institutional"])
def test_a_pack_imports_only_the_core_and_the_packs_it_requires(name):
    allowed = {name, *load_pack(name).requires}
    bad = []
    for path in (PACKS / name).rglob("*.py"):
        for m in _imports(path):
            parts = m.split(".")
            if parts[:2] == ["passage", "packs"] and len(parts) > 2 and parts[2] not in allowed:
                bad.append(f"{path.relative_to(SRC)} imports {m}")
    assert not bad, "\n".join(bad)
