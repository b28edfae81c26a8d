"""Administration in a real browser (Debian's Chromium driven by Playwright): the admin finds the admin pages
from the menu, disables a user who then cannot sign in, resets a password, revokes a token that then answers
401, and unpublishes a country that then disappears for the public."""

from __future__ import annotations

import re

import httpx

from portal import sign_in

NEW_PASSWORD = "Reset-by-the-admin-42"


def attempt_sign_in(page, user: str, password: str) -> str | None:
    """Through the sign-in form; the refusal's code, or None once signed in."""
    page.goto("/login")
    page.fill("input[name=user_name]", user)
    page.fill("input[name=password]", password)
    page.click("main form button")
    page.wait_for_load_state()
    if page.locator("main p.error").count():
        return page.locator("main p.error").get_attribute("data-code")
    assert page.locator(".who").inner_text().startswith(user)
    return None


def open_user(page, user: str) -> None:
    """From the menu: Admin, Users, then the user."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    page.wait_for_url(re.compile(r"/admin$"))
    page.locator("main ul.admin-index").get_by_role("link", name="Users").click()
    page.wait_for_url(re.compile(r"/admin/users$"))
    page.locator("#users").get_by_role("link", name=user, exact=True).click()
    page.wait_for_url(re.compile(rf"/admin/users/{re.escape(user)}$"))


def test_a_disabled_user_cannot_sign_in_and_a_reset_password_replaces_the_old(page, open_context, portal):
    sign_in(page, portal, "admin")
    open_user(page, "editor-tcd")
    page.click("#user-disable button")
    page.wait_for_url(re.compile(r"done=disabled"))
    assert page.locator("#user-disabled").is_visible()
    other = open_context().new_page()
    assert attempt_sign_in(other, "editor-tcd", portal.password("editor-tcd")) == "auth.disabled"

    page.click("#user-enable button")
    page.wait_for_url(re.compile(r"done=enabled"))
    assert attempt_sign_in(open_context().new_page(), "editor-tcd", portal.password("editor-tcd")) is None

    open_user(page, "viewer-ssd")
    page.fill("#user-password input[name=password]", NEW_PASSWORD)
    page.click("#user-password button")
    page.wait_for_url(re.compile(r"done=password"))
    assert attempt_sign_in(open_context().new_page(), "viewer-ssd", portal.password("viewer-ssd")) == "auth.invalid"
    assert attempt_sign_in(open_context().new_page(), "viewer-ssd", NEW_PASSWORD) is None

    page.goto("/admin/audit?action=user.")
    actions = page.locator("#audit tbody tr").evaluate_all(
        "rows => rows.map(r => [r.cells[2].textContent, r.cells[3].textContent, r.cells[4].textContent])")
    assert ["admin", "user.password", "viewer-ssd"] in actions
    assert ["admin", "user.update", "editor-tcd"] in actions


def test_a_revoked_token_answers_401(page, portal):
    editor = portal.client("editor-nga")
    csrf = re.search(r'X-CSRF-Token": "([^"]+)"', editor.get("/").text).group(1)
    made = editor.post("/api/v1/tokens", data={"name": "field-laptop"}, headers={"X-CSRF-Token": csrf}).json()
    script = httpx.Client(base_url=portal.url, timeout=60, headers={"Authorization": f"Bearer {made['token']}"})
    assert script.get("/api/v1/me").json()["user"] == "editor-nga"

    sign_in(page, portal, "admin")
    page.goto("/admin")
    page.locator("main ul.admin-index").get_by_role("link", name="API tokens").click()
    page.fill("#token-filter input[name=user]", "editor-nga")
    page.click("#token-filter button")
    row = page.locator(f'#tokens tr[data-token="{made["token_id"]}"]')
    assert row.get_attribute("data-status") == "active"
    row.get_by_role("button", name="Revoke").click()
    page.wait_for_url(re.compile(r"done=revoked"))
    assert page.locator(f'#tokens tr[data-token="{made["token_id"]}"]').get_attribute("data-status") == "revoked"

    answer = script.get("/api/v1/me")
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "auth.bad_token"


def test_an_unpublished_country_disappears_for_the_public(page, open_context, portal):
    public = open_context().new_page()

    def public_countries() -> list[str]:
        public.goto("/")
        return sorted(public.locator(".figures .figure a.value").evaluate_all(
            "as => as.map(a => a.getAttribute('href'))"))

    def public_records(iso3: str) -> int:
        answer = httpx.get(f"{portal.url}/api/v1/datasets/dtm_idps/records", params={"country": iso3, "limit": 5})
        return len(answer.json()["data"])

    assert "/countries/TCD" in public_countries() and public_records("TCD") > 0

    sign_in(page, portal, "admin")
    page.goto("/admin")
    page.locator("main ul.admin-index").get_by_role("link", name="Visibility").click()
    row = page.locator('section[data-dataset="dtm_idps"] tr[data-country="TCD"]')
    assert row.get_attribute("data-published") == "yes"
    row.get_by_role("button", name="Unpublish").click()
    page.wait_for_url(re.compile(r"done=unpublished"))
    assert page.locator('section[data-dataset="dtm_idps"] tr[data-country="TCD"]').get_attribute(
        "data-published") == "no"

    assert "/countries/TCD" not in public_countries() and public_records("TCD") == 0
    assert "/countries/NGA" in public_countries() and public_records("NGA") > 0
