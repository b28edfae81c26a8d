"""/api/docs: the OpenAPI document declares the bearer token, so Swagger UI shows Authorize and sends the token."""

from __future__ import annotations

import re

import httpx


def test_openapi_declares_the_bearer_scheme_on_every_api_route(portal):
    spec = httpx.get(portal.url + "/api/v1/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "psg_<token id>_<secret>",
        "description": spec["components"]["securitySchemes"]["bearer"]["description"]}
    operations = [(path, method, op) for path, ops in spec["paths"].items() for method, op in ops.items()]
    assert len(operations) > 20
    for path, method, op in operations:
        assert op.get("security") == [{"bearer": []}, {}], (path, method)  # optional: the public reads without


def test_swagger_ui_authorize_sends_the_token(portal, page):
    client = portal.client("editor-nga")
    csrf = re.search(r'X-CSRF-Token": "([^"]+)"', client.get("/").text).group(1)
    token = client.post("/api/v1/tokens", data={"name": "swagger"}, headers={"X-CSRF-Token": csrf}).json()["token"]

    page.goto("/api/docs")
    authorize = page.locator("button.btn.authorize")
    authorize.wait_for()
    assert "Authorize" in authorize.inner_text()
    authorize.click()
    dialog = page.locator(".modal-ux")
    assert "bearer" in dialog.inner_text() and "http, Bearer" in dialog.inner_text()
    dialog.locator("input").first.fill(token)
    dialog.locator("button.authorize").click()
    dialog.locator("button.btn-done").click()

    operation = page.locator("[id^='operations-'][id$='_api_v1_me_get']").first
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    with page.expect_response(lambda r: r.url.endswith("/api/v1/me")) as answer:
        operation.locator("button.execute").click()
    assert answer.value.request.headers["authorization"] == f"Bearer {token}"
    assert answer.value.json()["user"] == "editor-nga"
