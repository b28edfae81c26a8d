"""Raw input files: hashed, size-limited and archived so nothing is ever lost."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from passage.store import Store

MAX_UPLOAD_BYTES = 4 * 1024**3  # a 10 M-row DTM CSV is 1.6 GB


@dataclass(frozen=True)
class SourceFile:
    path: Path
    name: str
    size: int
    sha256: str


def describe(path: Path) -> SourceFile:
    path = Path(path)
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 22):
            h.update(block)
    return SourceFile(path, path.name, path.stat().st_size, h.hexdigest())


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
