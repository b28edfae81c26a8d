"""Raw input files: hashed, size-limited and archived so nothing is ever lost."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
import re
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from passage.store import Store

MAX_UPLOAD_BYTES = 4 * 1024**3  # a 10 M-row DTM CSV is 1.6 GB


MAX_BLANK_LINES = 1000
_BLANK = re.compile(rb"\n\r?(?=\n)")


@dataclass(frozen=True)
class SourceFile:
    path: Path
    name: str
    size: int
    sha256: str
    blank_lines: tuple[int, ...] = ()  # line numbers of empty lines, which CSV readers skip silently


def describe(path: Path) -> SourceFile:
    """Hash the file and note its blank lines (so reported line numbers stay true), side by side:
    hashlib releases the GIL, so the hash costs no extra time beside the scan."""
    path = Path(path)
    with ThreadPoolExecutor(1) as pool:
        sha = pool.submit(_sha256, path)
        blanks = _blank_lines(path)
        return SourceFile(path, path.name, path.stat().st_size, sha.result(), blanks)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def _blank_lines(path: Path) -> tuple[int, ...]:
    found: list[int] = []  # byte offsets of blank lines (rare: counted to line numbers only when present)
    offset, tail = 0, b""
    with path.open("rb") as fh:
        while block := fh.read(1 << 22):
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
    """Copy a file into the archive under its hash, once. Pure I/O: may run beside validation."""
    archive_dir.mkdir(parents=True, exist_ok=True)
    target = archive_dir / (f.sha256 + "".join(f.path.suffixes[-1:]))
    if not target.exists():
        tmp = target.with_name(f"{target.name}.{os.getpid()}.part")
        shutil.copyfile(f.path, tmp)
        tmp.replace(target)
    return target


def register(store: Store, f: SourceFile, target: Path) -> None:
    """Record an archived file in the store (once per hash)."""
    if store.scalar("SELECT count(*) FROM files WHERE sha256 = ?", [f.sha256]) == 0:
        store.execute(
            "INSERT INTO files VALUES (?, ?, ?, ?, ?)",
            [f.sha256, f.name, f.size, str(target), datetime.now(timezone.utc).replace(tzinfo=None)],
        )
