"""Fuzz the DTM API JSON reader's parse-and-stage step (`dtm`: the v3 envelope around `result`).

    .venv/bin/python fuzz/fuzz_json.py -max_total_time=60 /tmp/corpus-json

Seeds: the bad-file corpus's JSON cases (tests/bad_files/make.py) and its valid API document.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h


def seeds() -> dict[str, bytes]:
    make = h.bad_files()
    return {"api.json": make._json(make.api_doc())} | h.seeds_from_corpus(".json")


def setup() -> None:
    h.store(packs=("dtm",))


def one_input(data: bytes) -> None:
    if not data.lstrip(b"\xef\xbb\xbf \r\n\t").startswith((b"{", b"[")):
        return  # the reader takes anything else for a CSV: fuzz_csv's target
    h.stage("dtm", h.write_input(data, "fuzz.json"))


if __name__ == "__main__":
    h.run(seeds, one_input, setup)
