"""The portal and the API as one ASGI application.

`create_app(db, settings)` opens the store; `passage serve` runs it with uvicorn. Pages live in
`pages.py`, the JSON/CSV API under `/api/v1` in `api.py`; both are thin over the library.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from passage.errors import AuthError, ImportRejected, PassageError, UsageError
from passage.settings import DEFAULTS, Settings
from passage.web import i18n
from passage.web.context import LANG_COOKIE, Portal

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


async def _has_nul(request: Request) -> bool:
    """A NUL byte in the path, the query or a URL-encoded form: no store or file name can take one."""
    scope = request.scope
    if "\x00" in scope.get("path", "") or any(b in scope.get("query_string", b"") for b in (b"%00", b"\x00")):
        return True
    if request.method in ("POST", "PUT", "PATCH") and request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"):
        body = await request.body()
        return b"%00" in body or b"\x00" in body
    return False


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

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        portal.close()

    app = FastAPI(
        title="Passage API",
        version="1",
        description="Places, forms, records, indicators, exports and documents of a Passage store. "
                    "Read access follows the caller's role; send `Authorization: Bearer <token>` "
                    "(create tokens on your account page or with `passage users tokens create`).",
        docs_url=None, redoc_url=None, openapi_url="/api/v1/openapi.json", lifespan=lifespan,
    )
    app.state.portal = portal

    @app.middleware("http")
    async def language_and_headers(request: Request, call_next):
        lang = i18n.pick_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
        token = i18n.current.set(lang)
        try:
            if await _has_nul(request):
                response = await passage_error(request, UsageError("a parameter holds a NUL byte", code="usage.nul"))
            else:
                response = await call_next(request)
        except Exception as exc:  # noqa: BLE001 - answered here, so the server keeps the connection open
            response = await unexpected(request, exc)
        finally:
            i18n.current.reset(token)
        return secured(response)

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
    return app
