"""The portal and the API as one ASGI application.

`create_app(db, settings)` opens the store; `passage serve` runs it with uvicorn. Pages live in
`pages.py`, the JSON/CSV API under `/api/v1` in `api.py`; both are thin over the library.
"""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from passage.errors import AuthError, ImportRejected, PassageError, UsageError
from passage.settings import DEFAULTS, Settings
from passage.web import i18n
from passage.web.access_log import AccessLog
from passage.web.access_log import line as access_line
from passage.web.context import USER_KEY, Portal, request_language

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("passage.web")

# On every answer, errors included (a route may set its own, stricter Content-Security-Policy).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
                               "script-src 'self' 'unsafe-eval'; worker-src 'self' blob:; frame-ancestors 'none'",
}


def secured(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def _nul_check(scope: dict, receive: Any) -> tuple[bool, Any]:
    """(whether a NUL byte is in the path, the query or a URL-encoded form, the `receive` to pass on): no store
    or file name can take one. A form's body is read here and given again to the application."""
    if "\x00" in scope.get("path", "") or any(b in scope.get("query_string", b"") for b in (b"%00", b"\x00")):
        return True, receive
    content_type = dict(scope.get("headers") or ()).get(b"content-type", b"")
    if scope.get("method") not in ("POST", "PUT", "PATCH") or not content_type.startswith(
            b"application/x-www-form-urlencoded"):
        return False, receive
    messages, body = [], b""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if not message.get("more_body"):
            break

    async def again() -> Any:
        return messages.pop(0) if messages else await receive()

    return b"%00" in body or b"\x00" in body, again


class Edge:
    """The plain ASGI middleware every HTTP request passes: its language, the NUL check, the security headers,
    the in-memory generation marked stale after a request that may have changed something, and the access
    log line. (Plain ASGI: Starlette's `@app.middleware("http")` adds a task and a stream per request.)"""

    def __init__(self, app: Any, portal: Portal, log: AccessLog, on_error: Any, on_unexpected: Any):
        self.app = app
        self.portal = portal
        self.log = log
        self.on_error = on_error
        self.on_unexpected = on_unexpected

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, t0 = time.time(), time.perf_counter()
        request = Request(scope, receive)
        token = i18n.current.set(request_language(request))
        changes = scope["method"] not in SAFE_METHODS
        sent = {"status": 0, "bytes": 0, "logged": False}

        def log_once() -> None:  # before the last byte leaves: whoever got the answer finds its line written
            if self.log.enabled and not sent["logged"]:
                sent["logged"] = True
                self._log(scope, request, started, sent, int((time.perf_counter() - t0) * 1e6))

        async def sending(message: dict) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
                if changes:  # the change is committed before the answer starts: readers see it from now on
                    self.portal.generation.changed()
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            elif message["type"] == "http.response.body":
                sent["bytes"] += len(message.get("body", b""))
                if not message.get("more_body"):
                    log_once()
            await send(message)

        try:
            nul, receive = await _nul_check(scope, receive)
            if nul:
                response = await self.on_error(request, UsageError("a parameter holds a NUL byte", code="usage.nul"))
                await response(scope, receive, sending)
            else:
                await self.app(scope, receive, sending)
        except Exception as exc:
            if sent["status"]:
                raise  # the answer has started: nothing else can be sent
            response = await self.on_unexpected(request, exc)
            await response(scope, receive, sending)
        finally:
            i18n.current.reset(token)
            if changes:
                self.portal.generation.changed()
            log_once()

    def _log(self, scope: dict, request: Request, started: float, sent: dict, micros: int) -> None:
        query = scope.get("query_string", b"").decode("latin-1")
        target = scope.get("raw_path", scope["path"].encode()).decode("latin-1") + (f"?{query}" if query else "")
        client = scope.get("client")
        self.log.write(access_line(client[0] if client else None, scope.get(USER_KEY), started, scope["method"],
                                   target, scope.get("http_version", "1.1"), sent["status"] or 500, sent["bytes"],
                                   request.headers.get("referer"), request.headers.get("user-agent"), micros))


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def error_body(exc: PassageError) -> dict:
    body = {"code": exc.code, "message": str(exc)}
    if isinstance(exc, ImportRejected):
        body["report"] = {"ok": False, "counts": exc.report.counts,
                          "findings": [f.as_dict() for f in exc.report.findings]}
    return {"error": body}


def create_app(db: str | None = None, settings: Settings = DEFAULTS) -> FastAPI:
    """The portal over the store `db` (default: `settings.db`), with the settings' upload limits, caches and
    cookie policy (`passage.settings`; `load_settings()` reads them as `passage serve` does)."""
    portal = Portal(db, settings)

    access_log = AccessLog(settings.server.access_log)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        portal.close()
        access_log.close()

    app = FastAPI(
        title="Passage API",
        version="1",
        description="Places, forms, records, indicators, exports and documents of a Passage store. "
                    "Read access follows the caller's role; send `Authorization: Bearer <token>` "
                    "(create tokens on your account page or with `passage users tokens create`).",
        docs_url=None, redoc_url=None, openapi_url="/api/v1/openapi.json", lifespan=lifespan,
    )
    app.state.portal = portal

    @app.exception_handler(PassageError)
    async def passage_error(request: Request, exc: PassageError):
        if _wants_html(request):
            if isinstance(exc, AuthError) and exc.code == "auth.required":
                return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
            from passage.web.pages import error_page

            page = error_page(request, exc)
            if getattr(exc, "retry_after", None):
                page.headers["Retry-After"] = str(exc.retry_after)
            return page
        headers = {"Retry-After": str(exc.retry_after)} if getattr(exc, "retry_after", None) else None
        return JSONResponse(error_body(exc), status_code=exc.http_status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "usage.method"}.get(exc.status_code, "http")
        err = PassageError(str(exc.detail), code=code)
        err.http_status = exc.status_code
        if _wants_html(request):
            from passage.web.pages import error_page

            return error_page(request, err)
        return JSONResponse(error_body(err), status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        details = [{"location": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg")}
                   for e in exc.errors()]
        return JSONResponse({"error": {"code": "usage", "message": "invalid request parameters",
                                       "details": details}}, status_code=400)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        """Anything else: logged with its traceback, answered as `internal` (500) without details. The
        middleware above calls it; as the handler of last resort its answer bypasses the middleware, so it
        carries the security headers itself."""
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        err = PassageError("an unexpected error happened; it has been logged", code="internal")
        if _wants_html(request):
            try:
                from passage.web.pages import error_page

                return secured(error_page(request, err))
            except Exception:
                log.exception("the error page failed too")
        return secured(JSONResponse(error_body(err), status_code=500))

    from passage.plugins import pack_dirs

    for pack, folder in pack_dirs().items():  # a pack's own files: /static/packs/<pack>/...
        if (folder / "static").is_dir():
            app.mount(f"/static/packs/{pack}", StaticFiles(directory=folder / "static"), name=f"static-{pack}")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/docs", include_in_schema=False)
    async def api_docs():
        """Swagger UI from the vendored swagger-ui-dist (FastAPI's default page loads it from a CDN)."""
        from fastapi.openapi.docs import get_swagger_ui_html

        page = get_swagger_ui_html(openapi_url=app.openapi_url, title="Passage API",
                                   swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
                                   swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
                                   swagger_favicon_url="/static/favicon.svg")
        # The page starts Swagger UI with an inline script: allowed here only.
        page.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
        return page
    from passage.plugins import collected
    from passage.web import admin, api, pages, quarantine

    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(quarantine.router)
    app.include_router(admin.router)
    for router in collected("web_routers"):  # every installed pack's pages and API routes
        app.include_router(router)
    app.openapi = _with_bearer(app)
    app.add_middleware(Edge, portal=portal, log=access_log, on_error=passage_error, on_unexpected=unexpected)
    return app


BEARER = {"type": "http", "scheme": "bearer", "bearerFormat": "psg_<token id>_<secret>",
          "description": "An API token: create one on your account page or with `passage users tokens create`. "
                         "Without one, the API answers as it does to the public."}


def _with_bearer(app: FastAPI):
    """`app.openapi` with the bearer token as a security scheme of every API route (optional: the public
    reads without one), so Swagger UI shows Authorize and sends the token."""
    plain = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = plain()
            schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = BEARER
            for path, operations in schema.get("paths", {}).items():
                if path.startswith("/api/"):
                    for operation in operations.values():
                        operation.setdefault("security", [{"bearer": []}, {}])
        return app.openapi_schema

    return openapi
