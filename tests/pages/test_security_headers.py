"""Every answer carries the security headers, and the pages work under their Content-Security-Policy: every page
draws its figures in Chromium with no policy violation in the console."""
import pytest

PAGES = [("/", "Study overview"), ("/patients/DM-001", "Patient DM-001"), ("/kinetics", "Cohort kinetics"),
         ("/safety", "Safety"), ("/efficacy", "Efficacy"), ("/survival", "Survival"), ("/data", "Import a study")]


@pytest.fixture(scope="module")
def client(app):
    return app.server.test_client()


@pytest.mark.parametrize("path", ["/", "/kinetics", "/_dash-layout", "/_dash-dependencies", "/assets/cartscope.css"])
def test_every_answer_carries_the_security_headers(client, app, path):
    headers = client.get(path).headers
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self' " in policy and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert all(h in policy for h in app.csp_hashes())  # Dash's inline scripts (clientside callbacks) by hash
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert (headers["X-Frame-Options"], headers["X-Content-Type-Options"], headers["Referrer-Policy"]) == \
        ("DENY", "nosniff", "same-origin")


def test_pages_draw_under_the_policy_with_no_violation(browser):
    violations, drawn = [], {}
    for path, heading in PAGES:
        browser.open(path, heading, timeout=30)
        browser.idle(60)
        drawn[path] = len(browser.find_all(".js-plotly-plot .main-svg"))
        # plotly draws this instead of a WebGL trace whose code the policy refused to compile (no 'unsafe-eval')
        refused = [g.text for g in browser.find_all(".js-plotly-plot") if "WebGL is not supported" in g.text]
        violations += [(path, "a figure's WebGL trace could not run")] if refused else []
        violations += [(path, entry["message"][:200]) for entry in browser.driver.get_log("browser")
                       if "Content Security Policy" in entry["message"]]
    assert violations == []
    assert all(drawn[path] for path, _ in PAGES if path != "/data"), drawn
