"""pack.yaml as a typed model, checked when a pack loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml import CSafeLoader


def read_pack_yaml(path: Path, part: str = "pack") -> dict[str, Any]:
    """The file's content; `part` is "pack" (a pack.yaml) or "indicators" (a file it lists under `indicators`)."""
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=CSafeLoader) or {}
