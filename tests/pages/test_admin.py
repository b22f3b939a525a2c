"""The Admin page in headless Chromium: add users, change them, grant studies, filter the audit trail and download
it as CSV; non-admins see a notice and their callbacks are refused."""
import uuid

import pandas as pd
import pytest
from selenium.webdriver.common.keys import Keys

from data_access import accounts
from tests.conftest import wait_until


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def add_user(browser, name: str, role: str | None = None, password: str = "", email: str = "") -> None:
    browser.find("#admin-add-name").send_keys(name)
    if role:
        browser.duo.select_dcc_dropdown("#admin-add-role", value=role)
    if email:
        browser.find("#admin-add-email").send_keys(email)
    if password:
        browser.find("#admin-add-password").send_keys(password)
    browser.find("#admin-add").click()


def grid_rows(browser, grid_id: str, field: str) -> list:
    return browser.driver.execute_script(
        f"const api = dash_ag_grid.getApi('{grid_id}'); const out = [];"
        f"api.forEachNodeAfterFilterAndSort(n => out.push(n.data['{field}'])); return out;")


def test_add_a_user_grant_a_study_filter_the_audit_and_download_it(browser, tmp_path):
    name = unique("viewer")
    browser.open("/admin", "Audit trail")
    browser.wait_for_text("#admin-audit-summary", "match")
    add_user(browser, name, email=f"{name}@example.org")
    browser.wait_for_text("#admin-add-result", f"Added {name} (viewer).")
    wait_until(lambda: name in grid_rows(browser, "admin-users-grid", "name"))
    user = accounts.find_user(name)
    assert (user.role, user.email, user.has_password) == ("viewer", f"{name}@example.org", False)
    assert browser.find("#admin-add-name").get_attribute("value") == ""
    # refusals say why, and add nobody
    add_user(browser, name.upper())
    browser.wait_for_text("#admin-add-result", f"Not added: there is already a user '{name.upper()}'")
    browser.find("#admin-add-name").clear()
    add_user(browser, unique("short"), password="too short")
    browser.wait_for_text("#admin-add-result", "Not added: a password needs at least 12 characters")
    assert browser.find("#admin-add-password").get_attribute("value") == ""
    # grant the demo study
    browser.duo.select_dcc_dropdown("#admin-grant-user", value=name)
    browser.duo.select_dcc_dropdown("#admin-grant-study", value="demo")
    browser.find("#admin-grant").click()
    browser.wait_for_text("#admin-grant-result", f"Granted demo to {name}.")
    assert accounts.granted_studies(accounts.find_user(name)) == {"demo"}
    wait_until(lambda: "demo" in grid_rows(browser, "admin-users-grid", "studies"))
    browser.find("#admin-grant").click()
    browser.wait_for_text("#admin-grant-result", f"{name} already has demo; nothing changed.")
    # an event whose text a spreadsheet would run as a formula
    accounts.record("grant", "=HYPERLINK(\"http://x\")", "10.0.0.7", study="demo", detail={"user": "x"})
    # the audit: both changes were recorded, by the page's user, newest first
    events = accounts.audit_events(limit=20)
    mine = events[events["detail"].fillna("").str.contains(name)]
    assert mine["action"].tolist() == ["grant", "user added"]
    assert set(mine["user_name"]) == {"local"} and set(mine["client"]) == {"127.0.0.1"}
    # filter by study: the grant and the export, newest first
    browser.duo.select_dcc_dropdown("#admin-audit-study", value="demo")
    wait_until(lambda: grid_rows(browser, "admin-audit-grid", "user_name")[:2] == ["=HYPERLINK(\"http://x\")",
                                                                                 "local"])
    assert set(grid_rows(browser, "admin-audit-grid", "study")) == {"demo"}
    browser.duo.select_dcc_dropdown("#admin-audit-action", value="grant")
    wait_until(lambda: set(grid_rows(browser, "admin-audit-grid", "action")) == {"grant"})
    details = grid_rows(browser, "admin-audit-grid", "detail")
    assert f"user: {name}" in details and "user: x" in details
    browser.wait_for_text("#admin-audit-summary", "action 'grant', study demo")
    expected = accounts.audit_events(action="grant", study="demo", limit=None)
    # download exactly the filtered events
    browser.find("#admin-download").click()
    csv = pd.read_csv(browser.downloaded("audit-trail.csv"), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(csv.columns) == ["at", "user_name", "client", "action", "study", "subject_id", "detail"]
    assert len(csv) == len(expected) and set(csv["action"]) == {"grant"} and set(csv["study"]) == {"demo"}
    assert f'"user": "{name}"' in csv["detail"].iloc[1]
    assert "'=HYPERLINK(\"http://x\")" in set(csv["user_name"])  # neutralised: a spreadsheet shows it as text
    # the downloads themselves are in the trail
    assert accounts.audit_events(action="export", user_name="local", limit=1)["detail"].str.contains(
        "audit trail").all()
    browser.screenshot("admin")
    assert browser.severe_logs() == []


def test_the_audit_date_range_narrows_the_table(browser):
    accounts.record("study view", "dates-user", "10.0.0.8", study="dated")
    browser.open("/admin", "Audit trail")
    browser.duo.select_dcc_dropdown("#admin-audit-study", value="dated")
    wait_until(lambda: grid_rows(browser, "admin-audit-grid", "user_name") == ["dates-user"])
    today = pd.Timestamp.now(tz="UTC")
    start, end = browser.find_all("#admin-audit-dates-wrapper input.dash-datepicker-input")

    def pick(first, last):
        for box, day in ((start, first), (end, last)):
            box.click()
            box.send_keys(Keys.CONTROL, "a", Keys.BACKSPACE)
            box.send_keys(day.strftime("%Y-%m-%d"), Keys.ENTER)

    pick(today - pd.Timedelta(days=1), today)  # both days included: today's event is in
    browser.wait_for_text("#admin-audit-summary", f"to {today:%Y-%m-%d}")
    assert grid_rows(browser, "admin-audit-grid", "user_name") == ["dates-user"]
    pick(today + pd.Timedelta(days=1), today + pd.Timedelta(days=3))
    wait_until(lambda: grid_rows(browser, "admin-audit-grid", "user_name") == [], timeout=15)
    browser.wait_for_text("#admin-audit-summary", "No events match")
    assert browser.severe_logs() == []


def test_changing_users_keeps_the_last_active_admin(browser):
    assert not accounts.has_admin(), "another test left an active admin in the session's database"
    boss, deputy = unique("boss"), unique("deputy")
    browser.open("/admin", "Audit trail")
    add_user(browser, boss, role="admin", password="a long enough secret")
    browser.wait_for_text("#admin-add-result", f"Added {boss} (admin) with a password.")
    browser.duo.select_dcc_dropdown("#admin-edit-user", value=boss)
    wait_until(lambda: browser.find("#admin-edit-active input[value=yes]").is_selected())
    browser.find("#admin-edit-active input[value=no]").click()
    browser.find("#admin-edit").click()
    browser.wait_for_text("#admin-edit-result", f"Not changed: '{boss}' is the last active admin and cannot be "
                          "deactivated")
    assert accounts.find_user(boss).active
    # with a second admin, the first can be deactivated and given a new password
    browser.find("#admin-add-name").clear()
    add_user(browser, deputy, role="admin")
    browser.wait_for_text("#admin-add-result", f"Added {deputy} (admin).")
    browser.find("#admin-edit-password").send_keys("a brand new secret")
    browser.find("#admin-edit").click()
    browser.wait_for_text("#admin-edit-result", f"Changed {boss}: deactivated, new password set.")
    assert not accounts.find_user(boss).active
    assert accounts.check_password(boss, "a brand new secret", "test").reason == "wrong name or password"
    changed = accounts.audit_events(action="user changed", limit=1)["detail"].iloc[0]
    assert boss in changed and "a brand new secret" not in changed
    wait_until(lambda: "no" in grid_rows(browser, "admin-users-grid", "active"))
    for name in (boss, deputy):  # leave no active admin for other tests
        accounts.change_user(name, active=False, by="test")
    assert browser.severe_logs() == []


def test_non_admins_see_a_notice_and_their_callbacks_are_refused(browser, app, monkeypatch):
    from werkzeug.exceptions import Forbidden

    import pages.admin as admin_page

    viewer = accounts.User(user_id=99, name="vera", role="data-manager", email=None, active=True, has_password=True)
    monkeypatch.setattr(admin_page, "current_user", lambda: viewer)
    browser.open("/admin", "Admins only")
    assert "signed in as vera (data-manager)" in browser.text("#_pages_content")
    assert not browser.find_all("#admin-users-grid") and not browser.find_all("#admin-audit-grid")
    browser.screenshot("admin-refused")
    with app.server.test_request_context("/"), pytest.raises(Forbidden):
        admin_page.download_audit(1, None, None, None, None, None)
    with app.server.test_request_context("/"), pytest.raises(Forbidden):
        admin_page.add_user(1, "mallory", "admin", None, None, 0)
    assert accounts.find_user("mallory") is None
