"""Raw input files: hashed, size-limited and archived so nothing is ever lost."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from passage.errors import DiskFull
from passage.ingest.csvscan import Scanner, Shape
from passage.store import Store

MAX_BLANK_LINES = 1000
_BLANK = re.compile(rb"\n\r?(?=\n)")


@dataclass(frozen=True)
class SourceFile:
    path: Path
    name: str
    size: int
    sha256: str
    blank_lines: tuple[int, ...] = ()  # line numbers of empty lines, which CSV readers skip silently
    shape: Shape | None = None  # its records as a CSV, counted without the parser (csvscan)


def describe(path: Path) -> SourceFile:
    """Hash the file, note its blank lines (so reported line numbers stay true) and count its CSV records
    (so rows a parser drops are noticed), side by side: hashlib releases the GIL, so the hash costs no
    extra time beside the scan."""
    path = Path(path)
    with ThreadPoolExecutor(1) as pool:
        sha = pool.submit(_sha256, path)
        scanner = Scanner()
        blanks = _blank_lines(path, scanner)
        return SourceFile(path, path.name, path.stat().st_size, sha.result(), blanks, scanner.result())


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def _blank_lines(path: Path, scanner: Scanner | None = None) -> tuple[int, ...]:
    found: list[int] = []  # byte offsets of blank lines (rare: counted to line numbers only when present)
    offset, tail = 0, b""
    with path.open("rb") as fh:
        while block := fh.read(1 << 22):
            if scanner is not None:
                scanner.feed(block)
            window = tail + block
            if len(found) < MAX_BLANK_LINES and (b"\n\n" in window or b"\n\r\n" in window):
                base = offset - len(tail)
                found += [base + m.start() for m in _BLANK.finditer(window) if base + m.start() not in found]
            tail = block[-2:]
            offset += len(block)
    return _line_numbers(path, found[:MAX_BLANK_LINES])


def _line_numbers(path: Path, offsets: list[int]) -> tuple[int, ...]:
    """Line numbers of the empty lines that start one byte after each offset (a newline)."""
    if not offsets:
        return ()
    lines, pos, out = 1, 0, []
    with path.open("rb") as fh:
        data = fh.read(offsets[-1] + 1)
    for off in sorted(set(offsets)):
        lines += data.count(b"\n", pos, off + 1)
        pos = off + 1
        out.append(lines)
    return tuple(out)


def combined_sha256(files: list[SourceFile]) -> str:
    if len(files) == 1:
        return files[0].sha256
    return hashlib.sha256("".join(f.sha256 for f in files).encode()).hexdigest()


def copy_to_archive(archive_dir: Path, f: SourceFile) -> Path:
    """Copy a file into the archive under its hash, once. Pure I/O: may run beside validation.

    The copy is written to a `.part` file of its own (two imports of one file may copy it at once) and
    renamed when complete; a copy that fails (a full disk: `DiskFull`) leaves no `.part` behind.
    """
    target = archive_dir / (f.sha256 + "".join(f.path.suffixes[-1:]))
    tmp = None
    try:
        archive_dir.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            fd, name = tempfile.mkstemp(dir=archive_dir, prefix=f"{target.name}.", suffix=".part")
            os.close(fd)
            tmp = Path(name)
            shutil.copyfile(f.path, tmp)
            tmp.replace(target)
            tmp = None
    except BaseException as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        full = disk_full(exc, f"archiving {f.name}")
        if full is not None:
            raise full from exc
        raise
    return target


_FULL_WORDS = ("no space left on device", "failed to offload data block", "disk quota exceeded")


def disk_full(exc: BaseException, doing: str = "importing") -> DiskFull | None:
    """`DiskFull` when `exc` says the disk is full (OSError ENOSPC/EDQUOT, or DuckDB unable to write its
    data or its temporary data); else None."""
    if isinstance(exc, DiskFull):
        return exc
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT) or getattr(exc, "sqlstate", None) == "53100":
        pass
    elif not (isinstance(exc, duckdb.Error) and any(w in str(exc).lower() for w in _FULL_WORDS)):
        return None
    return DiskFull(f"the disk is full ({doing}): nothing was imported; free some space and import again")


def register(store: Store, f: SourceFile, target: Path) -> None:
    """Record an archived file in the store (once per hash)."""
    if store.scalar("SELECT count(*) FROM files WHERE sha256 = ?", [f.sha256]) == 0:
        store.execute(
            "INSERT INTO files VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",  # the same file, at once elsewhere
            [f.sha256, f.name, f.size, str(target), datetime.now(UTC).replace(tzinfo=None)],
        )
