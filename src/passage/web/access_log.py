"""The portal's access log: one line per request in the combined log format, plus the duration.

    127.0.0.1 - amina [05/Dec/2026:14:32:05 +0000] "GET /api/v1/countries/NGA/map?level=1 HTTP/1.1" 200 5120 "-" "curl/8.5.0" 2310

Fields: client address, `-` (identd), the signed-in user or `-`, time, request line, status, body bytes (`-`
for none), referer, user agent, and the time to the last byte in microseconds (Apache's `%D`). Headers that
carry secrets (Authorization, Cookie) are never written; query parameters whose names hold a secret
(`token`, `password`, `secret`, `csrf`, `session`, `key`) are written as `[redacted]`, and so is anything
shaped like an API token, in the request line and the referer alike. `server.access_log` says where: a file (appended to), `-` for stderr, empty for none.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from pathlib import Path

_SECRET = re.compile(r"(?i)((?:^|[?&;])[^=&;]*(?:token|password|passwd|secret|csrf|session|key)[^=&;]*=)[^&;#]*")


_BEARER = re.compile(r"psg_[0-9A-Za-z]+_[\w-]+")  # an API token's shape, wherever it was put


def redact(text: str) -> str:
    """`text` (a path with its query, or a URL) with the values of secret-looking parameters replaced."""
    return _BEARER.sub("psg_[redacted]", _SECRET.sub(r"\1[redacted]", text))


def _quoted(value: str) -> str:
    """A field between double quotes: quotes, backslashes and control characters escaped, as Apache does."""
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def _user(name: str | None) -> str:
    return re.sub(r"[^\w.@+-]", "_", name) if name else "-"


def line(client: str | None, user: str | None, started: float, method: str, target: str, protocol: str,
         status: int, size: int, referer: str | None, agent: str | None, micros: int) -> str:
    """One access log line (without the newline); `started` is a Unix time."""
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(started))
    request = _quoted(f"{method} {redact(target)} HTTP/{protocol}")
    return (f'{client or "-"} - {_user(user)} [{stamp}] "{request}" {status} {size if size else "-"} '
            f'"{_quoted(redact(referer)) if referer else "-"}" "{_quoted(agent) if agent else "-"}" {micros}')


class AccessLog:
    """Writes lines to `target`: a file path (appended to, opened once), `-` for stderr (looked up on each
    line, so a replaced `sys.stderr` is honoured), empty for nowhere."""

    def __init__(self, target: str):
        self.target = target
        self._lock = threading.Lock()
        self._file = None
        if target and target != "-":
            path = Path(target)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8", buffering=1)

    @property
    def enabled(self) -> bool:
        return bool(self.target)

    def write(self, text: str) -> None:
        if not self.target:
            return
        with self._lock:
            if self._file is not None:
                self._file.write(text + "\n")
            else:
                try:
                    sys.stderr.write(text + "\n")
                except (ValueError, OSError):  # stderr closed (e.g. a test's captured stream): nothing to do
                    pass

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
