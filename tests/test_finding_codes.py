"""Finding codes: core codes are plain, a pack's codes carry the pack's name, and the loader holds packs to it."""

from __future__ import annotations

import pytest

from passage.errors import UsageError
from passage.findings import CODES, Finding, all_codes
from passage.plugins import by_pack, hookimpl, manager


def test_every_pack_code_carries_its_pack_name():
    declared = by_pack("finding_codes")
    assert {"dtm", "travel", "staff", "institutional"} <= set(declared)
    for pack, codes in declared.items():
        assert codes, pack
        for code in codes:
            assert code.startswith(f"{pack}.") and code not in CODES, (pack, code)
            assert all_codes()[code] == codes[code]


def test_core_codes_name_no_pack():
    packs = set(by_pack("finding_codes"))
    assert not [c for c in CODES if c.split(".", 1)[0] in packs]


class _Pack:
    """A pack whose `finding_codes` answer the test sets."""

    def __init__(self, codes: dict[str, str]):
        self.codes = codes

    @hookimpl
    def finding_codes(self) -> dict[str, str]:
        return self.codes


@pytest.fixture
def extra_pack():
    """Register a pack for one test; all_codes() is read afresh with it and again once it is gone."""
    registered = []

    def register(name: str, codes: dict[str, str]) -> None:
        manager().register(_Pack(codes), name=name)
        registered.append(name)
        all_codes.cache_clear()

    yield register
    for name in registered:
        manager().unregister(name=name)
    all_codes.cache_clear()
    assert "toycodes.thing" not in all_codes()


def test_a_pack_code_with_its_name_is_accepted(extra_pack):
    extra_pack("toycodes", {"toycodes.thing": "A thing is wrong"})
    assert all_codes()["toycodes.thing"] == "A thing is wrong"
    assert Finding("toycodes.thing", "row 2 is wrong", row=2).code == "toycodes.thing"


@pytest.mark.parametrize(("name", "codes", "says"), [
    ("toycodes", {"thing-wrong": "x"}, "'thing-wrong': a pack's codes start with its name, as in 'toycodes.thing-wrong'"),
    ("toycodes", {"travel.date-missing": "x"}, "'travel.date-missing': a pack's codes start with its name"),
    ("toycodes", {"toycodes.": "x"}, "'toycodes.': a pack's codes start with its name"),
    ("toycodes", {"required": "x"}, "'required', which is a core code"),
    ("doc", {"doc.empty": "x"}, "named like the core's doc.* finding codes"),
    ("boundary", {"boundary.curvy": "x"}, "named like the core's boundary.* finding codes"),
])
def test_all_codes_refuses_a_pack_code_without_its_name_or_shadowing_core(extra_pack, name, codes, says):
    extra_pack(name, codes)
    with pytest.raises(UsageError) as exc:
        all_codes()
    assert exc.value.code == "pack.finding_code"
    assert f"pack {name!r}" in str(exc.value) and says in str(exc.value)
