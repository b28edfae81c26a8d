"""Raw input files: hashed, size-limited and archived so nothing is ever lost."""

from __future__ import annotations

import hashlib
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
    """Hash the file and, in the same pass, note its blank lines so reported line numbers stay true."""
    path = Path(path)
    h = hashlib.sha256()
    blanks: list[int] = []
    lines_before = 0  # newlines before the current block
    tail = b""
    with path.open("rb") as fh:
        while block := fh.read(1 << 22):
            h.update(block)
            if len(blanks) < MAX_BLANK_LINES:
                window = tail + block
                for m in _BLANK.finditer(window):
                    if m.start() >= len(tail) - 1 or tail == b"":
                        line = lines_before - tail.count(b"\n") + window.count(b"\n", 0, m.start()) + 2
                        if not blanks or blanks[-1] != line:
                            blanks.append(line)
                tail = block[-2:]
            lines_before += block.count(b"\n")
    return SourceFile(path, path.name, path.stat().st_size, h.hexdigest(), tuple(blanks[:MAX_BLANK_LINES]))


def combined_sha256(files: list[SourceFile]) -> str:
    if len(files) == 1:
        return files[0].sha256
    return hashlib.sha256("".join(f.sha256 for f in files).encode()).hexdigest()


def archive(store: Store, f: SourceFile) -> str:
    """Copy a file into the store's archive under its hash (once) and register it."""
    store.archive_dir.mkdir(parents=True, exist_ok=True)
    target = store.archive_dir / (f.sha256 + "".join(f.path.suffixes[-1:]))
    if not target.exists():
        tmp = target.with_name(target.name + ".part")
        shutil.copyfile(f.path, tmp)
        tmp.replace(target)
    if store.scalar("SELECT count(*) FROM files WHERE sha256 = ?", [f.sha256]) == 0:
        store.execute(
            "INSERT INTO files VALUES (?, ?, ?, ?, ?)",
            [f.sha256, f.name, f.size, str(target), datetime.now(timezone.utc).replace(tzinfo=None)],
        )
    return str(target)
