"""What a checked session or token resolved to, kept a few seconds in this process.

The portal checks a cookie or a bearer token against the store on every request; within `seconds` of a check
the same credential resolves to the same answer without asking the store again. A change that matters (sign
out, revoke, disable, new password, role or places) forgets the kept answers at once in this process; other
processes see it when theirs run out.
"""

from __future__ import annotations

import threading
import time
from typing import Any

MAX_KEPT = 10_000  # answers kept at most (all are dropped when full: the next requests ask the store)


class Kept:
    """Answers by (store URL, credential hash), each with the user it is about and when it runs out."""

    def __init__(self) -> None:
        self._answers: dict[tuple[str, str], tuple[Any, float, str]] = {}
        self._lock = threading.Lock()

    def keep(self, store_url: str, digest: str, answer: Any, user_name: str, seconds: float) -> None:
        with self._lock:
            if len(self._answers) >= MAX_KEPT:
                self._answers.clear()
            self._answers[(store_url, digest)] = (answer, time.monotonic() + seconds, user_name)

    def get(self, store_url: str, digest: str) -> Any | None:
        found = self._answers.get((store_url, digest))
        return found[0] if found is not None and found[1] > time.monotonic() else None

    def forget(self, user_name: str | None = None, *, digest: str | None = None) -> None:
        """Forget one credential's answer (`digest`), a user's (`user_name`), or every one (neither)."""
        with self._lock:
            for key in [k for k, v in self._answers.items()
                        if (digest is None or k[1] == digest) and (user_name is None or v[2] == user_name)]:
                del self._answers[key]
