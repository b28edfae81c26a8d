"""Who is asking, in which language, on which store handle: resolved once per request.

Browsers sign in with a session cookie (HttpOnly, SameSite=Lax, Secure over HTTPS) and send a CSRF
token with every form; API clients send `Authorization: Bearer psg_…` and need no CSRF token.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request

from passage import auth
from passage.errors import AuthError, Forbidden
from passage.settings import DEFAULTS, Settings
from passage.store import Store, open_store
from passage.store.schema import generation
from passage.web import i18n
from passage.web.cache import Generation, ResultCache
from passage.web.export_cache import ExportCache
from passage.web.slices import PreparedSlices

SESSION_COOKIE = "passage_session"
CSRF_COOKIE = "passage_csrf"  # double-submit token for forms shown before signing in (sign-in itself)
LANG_COOKIE = "passage_lang"
USER_KEY = "passage.user"  # the request scope's key for the caller's user name (the access log writes it)


class Portal:
    """The running portal: one store, a handle per worker thread, the store's generation kept in memory
    (`passage.web.cache.Generation`), the maps' indicators and charts prepared per generation
    (`passage.web.slices`), a result cache, a cache of the API's encoded answers
    (`settings.cache.response_bytes`), the downloads' file cache (`settings.cache.export_bytes` on disk at
    most, least recently used out first)."""

    def __init__(self, db: str | None = None, settings: Settings = DEFAULTS):
        self.settings = settings
        self.db = db or settings.db
        self.root = open_store(self.db, settings)
        from passage.plugins import available_packs, install_pack

        for pack in available_packs():  # every installed pack's forms have their tables before a page reads them
            install_pack(self.root, pack)
        from passage.releases import index_datasets

        try:  # PostgreSQL: the record tables' indexes for readers' first (cold) requests
            index_datasets(self.root)
        except Exception as exc:  # noqa: BLE001 - e.g. a role that may not create indexes: slower, not broken
            logging.getLogger(__name__).warning("record table indexes not made: %s", exc)
        self._warm_up()
        self._local = threading.local()
        self.slices = PreparedSlices(self.root, settings.cache.prepare_maps, poll=lambda: self.generation.current(),
                                     poll_seconds=settings.cache.generation_seconds or 1.0)
        self.generation = Generation(lambda: generation(self.store()), settings.cache.generation_seconds,
                                     on_change=self.slices.want)
        self.slices.start()
        now = self.generation.current
        now()  # the generation at start: the maps and charts are prepared for it in the background
        self.cache = ResultCache(settings.cache.result_entries, generation=now)
        self.responses = ResultCache(int(settings.cache.response_bytes), weigh=lambda a: len(a.body), generation=now)
        self.export_dir = Path(tempfile.mkdtemp(prefix="passage-exports-"))  # cached downloads, removed on close
        self.exports = ExportCache(self.export_dir, int(settings.cache.export_bytes))
        # downloads read the store's generation itself: a file is keyed by it (`service.export_file`)
        self.tables = ResultCache(int(settings.cache.table_bytes), weigh=lambda t: t.data.nbytes)

    def _warm_up(self) -> None:
        """Load what a reader's first query needs (the query modules, Ibis's backend and SQL compiler) before the
        first request instead of during it: about a second the first reader after a start no longer waits."""
        import ibis

        from passage import explore, query  # noqa: F401 - loaded for what they load

        try:
            t = ibis.table({"a": "int64"}, name="warm_up")  # compiled only, never run
            self.root.ibis().compile(t.filter(t.a > 0).group_by("a").aggregate(n=t.count()))
        except Exception as exc:  # noqa: BLE001 - only a head start: the first request does it otherwise
            logging.getLogger(__name__).debug("warm-up: %s", exc)

    @property
    def secure_cookies(self) -> bool | None:
        return self.settings.server.secure_cookies

    def store(self) -> Store:
        st = getattr(self._local, "store", None)
        if st is None:
            st = self._local.store = self.root.sibling()
        return st

    def close(self) -> None:
        self.slices.close()
        shutil.rmtree(self.export_dir, ignore_errors=True)
        self.root.close()


@dataclass
class Ctx:
    request: Request
    principal: Any
    csrf: str
    lang: str
    via_token: bool = False
    session: str | None = None

    @property
    def store(self) -> Store:
        """The calling thread's handle: FastAPI may run the dependency and the endpoint on different threads."""
        return self.request.app.state.portal.store()

    @property
    def user(self) -> str | None:
        return self.principal.user_name

    @property
    def ip(self) -> str | None:
        return self.request.client.host if self.request.client else None

    def cache_key(self) -> str:
        """Readers who see the same data share cached results."""
        p = self.principal
        return "admin" if p.is_admin else f"{p.role}:{','.join(sorted(p.scopes))}"

    def slices(self, ds: Any) -> Any:
        """The prepared map indicators of dataset `ds` this reader may use (`passage.web.slices`), or None."""
        portal: Portal = self.request.app.state.portal
        return portal.slices.for_reader(self.principal, portal.generation.current(), ds)

    def prepared_series(self, ds: Any, iso3: str) -> list[dict] | None:
        """A country's chart prepared for this reader (`passage.web.slices`), or None."""
        portal: Portal = self.request.app.state.portal
        return portal.slices.series(self.principal, portal.generation.current(), ds, iso3)

    def cached(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """`compute()`, kept until the data changes, per reader class: always, so no answer computed for one
        reader can reach another who may see less (even answers that look the same for all today)."""
        portal: Portal = self.request.app.state.portal
        value, _ = portal.cache.get(self.store, (*key, self.cache_key()), compute)
        return value

    def require_user(self) -> None:
        """Signed in, before a form's CSRF token is checked: the anonymous are told to sign in. What a signed-in
        user may do is the library verbs' to decide (`passage.access`)."""
        if self.principal.is_public:
            raise AuthError("sign in first", code="auth.required")

    def require_session(self) -> None:
        """Signed in through the sign-in form: an API token cannot do this (e.g. mint another token)."""
        self.require_user()
        if self.via_token:
            raise Forbidden("an API token cannot do this: sign in with your password", code="auth.session_required")

    def check_csrf(self, token: str | None) -> None:
        """Forms and cookie-authenticated API calls that change something must carry the token."""
        if self.via_token:
            return
        if not token or not self.csrf or not hmac.compare_digest(token.encode(), self.csrf.encode()):
            raise Forbidden("missing or wrong CSRF token: reload the page and try again", code="csrf")


def resolve(request: Request) -> Ctx:
    ctx = _resolve(request)
    request.scope[USER_KEY] = ctx.principal.user_name
    return ctx


async def aresolve(request: Request) -> Ctx:
    """`resolve` for the event loop: the public (no session cookie, no token), a token and a session cookie checked
    moments ago (`auth.tokens.known_token_principal`, `auth.sessions.known_session_principal`) are resolved in
    the loop; anything that needs the store in a worker thread."""
    header = request.headers.get("authorization", "")
    ctx: Ctx | None = None
    if header.lower().startswith("bearer "):
        principal = auth.tokens.known_token_principal(request.app.state.portal.root.url, header[7:].strip())
        if principal is not None:
            ctx = Ctx(request, principal, csrf="", lang=request_language(request), via_token=True)
    elif SESSION_COOKIE not in request.cookies:
        ctx = Ctx(request, auth.PUBLIC, csrf=request.cookies.get(CSRF_COOKIE) or "", lang=request_language(request))
    else:
        token = request.cookies.get(SESSION_COOKIE)
        found = auth.sessions.known_session_principal(request.app.state.portal.root.url, token)
        if found is not None:
            ctx = Ctx(request, found[0], csrf=found[1], lang=request_language(request), session=token)
    if ctx is None:
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(resolve, request)
    request.scope[USER_KEY] = ctx.principal.user_name
    return ctx


def request_language(request: Request) -> str:
    """The reader's language: their choice (the language cookie), else their browser's."""
    return i18n.pick_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def _resolve(request: Request) -> Ctx:
    portal: Portal = request.app.state.portal
    store = portal.store()
    lang = request_language(request)
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        principal = auth.tokens.kept_token_principal(store, header[7:].strip())
        if principal is None:
            raise AuthError("unknown or revoked API token", code="auth.bad_token")
        return Ctx(request, principal, csrf="", lang=lang, via_token=True)
    token = request.cookies.get(SESSION_COOKIE)
    found = auth.sessions.kept_session_principal(store, token) if token else None
    if found:
        principal, csrf = found
        return Ctx(request, principal, csrf=csrf, lang=lang, session=token)
    csrf = request.cookies.get(CSRF_COOKIE) or ""
    return Ctx(request, auth.PUBLIC, csrf=csrf, lang=lang)


def new_csrf() -> str:
    return secrets.token_urlsafe(32)
