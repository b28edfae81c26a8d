"""Property-based tests of the API against its own OpenAPI schema (schemathesis): anonymously, as an admin
with a bearer token, and as an editor signed in with a session cookie (so CSRF checks see generated input).

Bounded and deterministic: a fixed number of examples per operation and mode (valid and invalid input)
from a derandomised generator. No request may end in a server error; answers must use declared status
codes and media types and match the declared schemas (errors included: `{"error": {"code", "message"}}`).
"""

from __future__ import annotations

import re

import httpx
import pytest
import schemathesis
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks

from passage.web.api import router

CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance]
BOUNDED = settings(max_examples=25, derandomize=True, deadline=None, database=None, print_blob=True,
                   suppress_health_check=list(HealthCheck))
OPERATIONS = sorted((method, route.path) for route in router.routes if isinstance(route, APIRoute)
                    and route.include_in_schema for method in route.methods)


@pytest.fixture(scope="module")
def api_schema(portal):
    return schemathesis.openapi.from_url(f"{portal.url}/api/v1/openapi.json")


@pytest.fixture(scope="module")
def admin_token(portal) -> str:
    admin = portal.client("admin")
    csrf = re.search(r'X-CSRF-Token": "([^"]+)"', admin.get("/").text).group(1)
    r = admin.post("/api/v1/tokens", data={"name": "schemathesis"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201
    return r.json()["token"]


def exercise(api_schema, method: str, path: str, headers: dict[str, str]) -> None:
    """Valid and invalid requests for one operation; every answer must pass the checks."""
    operation = api_schema[path][method]
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                         operation.as_strategy(GenerationMode.NEGATIVE))

    @BOUNDED
    @given(case=strategy)
    def run(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_api_anonymously(api_schema, method, path):
    exercise(api_schema, method, path, {})


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_api_as_admin(api_schema, admin_token, method, path):
    exercise(api_schema, method, path, {"Authorization": f"Bearer {admin_token}"})


@pytest.fixture(scope="module")
def editor_cookies(portal) -> dict[str, str]:
    return dict(portal.client("editor-nga").cookies)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_api_as_a_signed_in_editor(api_schema, editor_cookies, method, path):
    cookie = "; ".join(f"{k}={v}" for k, v in editor_cookies.items())
    exercise(api_schema, method, path, {"Cookie": cookie})


def test_the_admin_token_survived(portal, admin_token):
    """The admin run acted with a live token throughout (its answers were really an admin's)."""
    me = httpx.get(f"{portal.url}/api/v1/me", headers={"Authorization": f"Bearer {admin_token}"})
    assert me.json()["role"] == "admin"
