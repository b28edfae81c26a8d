"""Counting a CSV's records without the CSV parser, so that rows the parser drops cannot go unnoticed.

    shape = Scanner(); shape.feed(block) ...; shape.result()   # while the file is hashed (files.describe)
    records(source, ",").data_rows(skip=2, columns=21)          # what the parser must return

A record ends at a line end (LF, CRLF or a lone CR) outside a quoted field. The scan is vectorised
(numpy over 4 MiB blocks): line ends are found with one comparison, and quotes are paired by parity,
which is exact for RFC 4180 files (quotes only open a field, close it, or come doubled inside it).
A quote in the middle of an unquoted field (`5" screen`) is a literal to DuckDB's reader and to
Python's `csv`, but would flip the parity: the scan notes the byte before every quote that opens a
quoted field, and a file where that byte is anything but a line end, a quote or the file's delimiter
is counted again exactly, with Python's `csv` module (slower; only such files pay for it).

The scan also finds the first record longer than `csvfile.MAX_LINE_BYTES`, so that a huge cell is
reported with its line before DuckDB is asked to read it (its parallel reader fails on one, or drops
the last row without a word).
"""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_RECORD_BYTES = 1 << 20  # kept equal to csvfile.MAX_LINE_BYTES (DuckDB's max_line_size)
HEAD_RECORDS = 8  # blank records among the first few are remembered by position (header lines are skipped)
_LF, _CR, _QUOTE = 10, 13, 34
_EMPTY = np.empty(0, np.int64)


@dataclass(frozen=True)
class Records:
    """A CSV's records as counted without the parser."""

    count: int  # records, blank ones included (a blank record is an empty line)
    blank: int
    blank_head: tuple[int, ...]  # 0-based indices of blank records among the first HEAD_RECORDS
    long: tuple[int, int] | None  # (record number from 1, bytes) of the first record over the limit
    longest: int | None = None  # bytes of the longest record (None: not known)

    def data_rows(self, skip: int, columns: int) -> int:
        """The rows a reader must return after `skip` header records. DuckDB skips blank lines in files of
        more than one column; in a one-column file an empty line is a row with an empty cell."""
        after = self.count - min(skip, self.count)
        if columns > 1:
            after -= self.blank - sum(1 for i in self.blank_head if i < skip)
        return max(after, 0)


@dataclass(frozen=True)
class Shape:
    """What the scan of a file found, before its delimiter is known."""

    records: Records
    openers: frozenset[int]  # bytes seen before a field-opening quote, other than line ends and quotes
    open_at_end: bool  # the file ends inside a quoted field
    nul: bool = True  # the file holds a NUL byte somewhere (True when not scanned: no cell is assumed free of one)


class Scanner:
    """Feed a file's blocks in order; `result()` gives its Shape."""

    def __init__(self, limit: int = MAX_RECORD_BYTES) -> None:
        self.limit = limit
        self.offset = 0  # bytes fed so far
        self.count = 0
        self.blank = 0
        self.blank_head: list[int] = []
        self.long: tuple[int, int] | None = None
        self.longest = 0
        self.start = 0  # offset where the current record starts
        self.in_quote = False
        self.pending_cr = False  # the last block ended with a CR outside quotes
        self.last = -1  # the last byte fed (-1: none yet)
        self.openers: set[int] = set()
        self.bof = 0  # where the first field starts (after a UTF-8 BOM)
        self.nul = False  # a NUL byte was seen (a cell's NUL test is needed only then)

    def feed(self, block: bytes) -> None:
        if not block:
            return
        self.nul = self.nul or b"\0" in block  # memchr: about free beside the rest
        if self.offset == 0 and block.startswith(codecs.BOM_UTF8):
            self.bof = len(codecs.BOM_UTF8)
        a = np.frombuffer(block, np.uint8)
        n = len(a)
        lf = np.flatnonzero(a == _LF)
        cr = np.flatnonzero(a == _CR) if b"\r" in block else _EMPTY
        quoted = self.in_quote or b'"' in block
        if quoted:
            q = np.flatnonzero(a == _QUOTE)
            base = int(self.in_quote)
            if lf.size:
                lf = lf[((np.searchsorted(q, lf) + base) & 1) == 0]
            if cr.size:
                cr = cr[((np.searchsorted(q, cr) + base) & 1) == 0]
            opening = q[base::2]  # quotes met outside a quoted field
            if opening.size:
                if opening[0] == 0:  # the byte before is the previous block's last
                    if self.offset != self.bof and self.last not in (_LF, _CR, _QUOTE):
                        self.openers.add(self.last)
                    opening = opening[1:]
                seen = np.flatnonzero(np.bincount(a[opening - 1], minlength=256))
                self.openers.update(int(b) for b in seen if b not in (_LF, _CR, _QUOTE))
                if self.offset == 0 and self.bof and opening.size and opening[0] == self.bof:
                    # a quote right after the BOM opens the first field: its byte before is not an opener
                    if not np.any(a[opening[1:] - 1] == a[self.bof - 1]):
                        self.openers.discard(int(a[self.bof - 1]))
            self.in_quote = bool((q.size + base) & 1)
        ends = lf
        if cr.size:
            inner = cr[cr < n - 1]
            lone = inner[a[inner + 1] != _LF]
            if lone.size:
                ends = np.union1d(ends, lone)
        if self.pending_cr and a[0] != _LF:
            ends = np.concatenate(([-1], ends))  # the previous block's last byte was a lone CR
        self.pending_cr = bool(cr.size and cr[-1] == n - 1)
        if ends.size:
            self._records(a, ends)
        self.last = int(a[-1])
        self.offset += n

    def _records(self, a: np.ndarray, ends: np.ndarray) -> None:
        glob = ends + self.offset
        starts = np.empty_like(glob)
        starts[0] = self.start
        starts[1:] = glob[:-1] + 1
        lengths = glob - starts
        # an LF after a CR: the CR belongs to the line end
        at = np.maximum(ends, 0)
        is_lf = (ends >= 0) & (a[at] == _LF)
        before = np.where(ends > 0, a[np.maximum(ends - 1, 0)].astype(np.int16), self.last)
        lengths -= (is_lf & (before == _CR) & (lengths > 0)).astype(lengths.dtype)
        self.longest = max(self.longest, int(lengths.max()))
        if self.long is None:
            big = np.flatnonzero(lengths > self.limit)
            if big.size:
                self.long = (self.count + int(big[0]) + 1, int(lengths[big[0]]))
        empty = np.flatnonzero(lengths == 0)
        self.blank += int(empty.size)
        if self.count < HEAD_RECORDS:
            self.blank_head += [self.count + int(i) for i in empty if self.count + int(i) < HEAD_RECORDS]
        self.count += int(glob.size)
        self.start = int(glob[-1]) + 1

    def result(self) -> Shape:
        count, start, long, longest = self.count, self.start, self.long, self.longest
        blank, head = self.blank, list(self.blank_head)
        if self.pending_cr:  # the file ends with a lone CR
            length = self.offset - 1 - start
            longest = max(longest, length)
            if length == 0:
                blank += 1
                head += [count] if count < HEAD_RECORDS else []
            elif long is None and length > self.limit:
                long = (count + 1, length)
            count, start = count + 1, self.offset
        if self.offset > start:  # a last record without a line end
            count += 1
            longest = max(longest, self.offset - start)
            if long is None and self.offset - start > self.limit:
                long = (count, self.offset - start)
        return Shape(Records(count, blank, tuple(head), long, longest), frozenset(self.openers), self.in_quote,
                     self.nul)


def scan(path: Path, limit: int = MAX_RECORD_BYTES) -> Shape:
    """Scan a whole file (files.describe does this while it hashes)."""
    s = Scanner(limit)
    with Path(path).open("rb") as fh:
        while block := fh.read(1 << 22):
            s.feed(block)
    return s.result()


def records(path: Path, shape: Shape | None, delimiter: str, limit: int = MAX_RECORD_BYTES) -> Records | None:
    """The file's records when read with `delimiter`: the scan's count when its quotes pair by parity,
    else an exact count with Python's csv module (None: not countable, e.g. a quote left open)."""
    if shape is not None and shape.openers <= {ord(delimiter)}:
        return shape.records
    return count_exact(path, delimiter, limit)


def count_exact(path: Path, delimiter: str, limit: int = MAX_RECORD_BYTES) -> Records | None:
    """Records as Python's csv module reads them (a quote inside an unquoted field is a literal, as for
    DuckDB). Bytes are read as latin-1, one character each: line ends, quotes and delimiters are ASCII."""
    if csv.field_size_limit() <= limit:
        csv.field_size_limit(limit + 1)  # only ever raised: a longer field is reported, not read
    count = blank = 0
    head: list[int] = []
    long = None
    with Path(path).open(encoding="latin-1", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        while True:
            try:
                rec = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                if "field limit" not in str(exc):
                    return None
                # a field over the limit: reported at the record where it starts
                return Records(count + 1, blank, tuple(head), long or (count + 1, limit + 1))
            if not rec:
                blank += 1
                if count < HEAD_RECORDS:
                    head.append(count)
            elif long is None:
                size = sum(map(len, rec)) + len(rec) - 1
                if size > limit:
                    long = (count + 1, size)
            count += 1
    return Records(count, blank, tuple(head), long)
