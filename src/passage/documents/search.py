"""Full-text search over documents with an inverted index of our own (`document_terms`).

Plain SQL over one table of (term, doc_id, hits) runs the same on DuckDB and PostgreSQL,
with no extension to install. Terms are folded the way people type queries: lower
case, accents dropped ("Déplacement" is found by "deplacement"), split on anything
that is not a letter or digit. A term found in the title weighs more than one in the
text, so a report *about* displacement ranks above one that mentions it once.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import accumulate

from passage.store import Store

TITLE_WEIGHT = 5
TAG_WEIGHT = 3
PLACE_WEIGHT = 2  # the names of a document's places ("Borno" finds documents tagged NG008)
BODY_WEIGHT = 1
MIN_TERM = 2
MAX_TERM = 40  # longer runs are PDF debris (hashes, glued words), not something anyone types
SNIPPET_CHARS = 200

STOP_WORDS = frozenset(
    # English
    "a an and are as at be been but by for from has have in into is it its of on or that the their this to was "
    "were which with will not no "
    # French
    "au aux avec ce ces dans de des du elle en est et il ils la le les leur lui mais ne nous ou par pas pour "
    "qui que sa se ses son sont sur un une "
    # Spanish
    "al como con del el es esta este las lo los para por sin su sus una y".split())

_TOKEN = re.compile(r"[^\W_]+")


@lru_cache(maxsize=65536)
def _fold_char(ch: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)).lower()


def fold(text: str) -> str:
    """Lower case, accents dropped, compatibility forms spelt out (ﬁ → fi)."""
    return "".join(map(_fold_char, text))


def tokens(text: str | None) -> list[str]:
    """Searchable terms of a text, in order, repeats kept."""
    if not text:
        return []
    return [t for t in _TOKEN.findall(fold(text)) if MIN_TERM <= len(t) <= MAX_TERM and t not in STOP_WORDS]


def query_terms(query: str | None) -> list[str]:
    """A query's distinct terms in the order typed."""
    return list(dict.fromkeys(tokens(query)))


def term_hits(title: str, body: str | None, tags: Iterable[str] = (), place_names: Iterable[str] = ()) -> Counter:
    """Weighted hits per term for one document."""
    hits: Counter = Counter()
    for text, weight in ((title, TITLE_WEIGHT), (body, BODY_WEIGHT)):
        for t in tokens(text):
            hits[t] += weight
    for text in tags:
        for t in tokens(text):
            hits[t] += TAG_WEIGHT
    for text in place_names:
        for t in tokens(text):
            hits[t] += PLACE_WEIGHT
    return hits


def index_document(store: Store, doc_id: int, hits: Counter) -> None:
    """Write a new document's terms (inside the caller's transaction), as one statement over two arrays."""
    if not hits:
        return
    terms = sorted(hits)
    store.execute("INSERT INTO document_terms (term, doc_id, hits) "
                  "SELECT unnest(CAST(? AS VARCHAR[])), ?, unnest(CAST(? AS INTEGER[]))",
                  [terms, doc_id, [hits[t] for t in terms]])


def scores(store: Store, terms: Sequence[str]) -> dict[int, int]:
    """Documents holding every term (the last also as a prefix: typing goes on), with summed hits."""
    if not terms:
        return {}
    parts, params = [], []
    for i, term in enumerate(terms):
        last = i == len(terms) - 1
        # Terms are letters and digits only (see `tokens`), so LIKE needs no escaping.
        parts.append(f"SELECT doc_id, {i} AS q, hits FROM document_terms WHERE "
                     + ("term LIKE ?" if last else "term = ?"))
        params.append(term + "%" if last else term)
    sql = ("SELECT doc_id, sum(hits) FROM (" + " UNION ALL ".join(parts) + ") t "
           "GROUP BY doc_id HAVING count(DISTINCT q) = ?")
    return {int(d): int(s) for d, s in store.query(sql, params + [len(terms)])}


def snippet(text: str | None, terms: Sequence[str], size: int = SNIPPET_CHARS) -> str:
    """About `size` characters of plain text around the first hit of any term (or the start)."""
    if not text:
        return ""
    pos = _first_hit(text, terms) if terms else None
    if pos is None:
        start = 0
    else:
        start = max(0, pos - size // 3)
        while start > 0 and not text[start - 1].isspace() and pos - start < size // 2:
            start -= 1  # do not cut the word before the hit in half
    end = min(len(text), start + size)
    while end < len(text) and not text[end].isspace() and end - start < size + 30:
        end += 1
    piece = " ".join(text[start:end].split())
    return ("…" if start > 0 else "") + piece + ("…" if end < len(text) else "")


def _first_hit(text: str, terms: Sequence[str]) -> int | None:
    """Where in `text` (not in its folded form) the first term, or the last term as a prefix, starts."""
    pieces = list(map(_fold_char, text))
    folded = "".join(pieces)
    alternatives = [re.escape(t) + r"(?![^\W_])" for t in terms[:-1]] + [re.escape(terms[-1])]
    m = re.search(r"(?<![^\W_])(?:" + "|".join(alternatives) + ")", folded)
    if m is None:
        return None
    if len(folded) == len(text):
        return m.start()
    ends = list(accumulate(map(len, pieces)))  # folded offset after each original character
    return bisect_right(ends, m.start())
