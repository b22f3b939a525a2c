"""The Data page's upload refuses a file over CARTSCOPE_MAX_FILE_MB in the browser, before sending it, and says
which file and why (dcc.Upload alone drops it without a word)."""
from tests.conftest import VALID_TABLES


def test_an_oversize_file_is_refused_in_the_browser_with_a_message(browser, tmp_path, monkeypatch):
    monkeypatch.setenv("CARTSCOPE_MAX_FILE_MB", "0.001")  # 1,000 bytes; read when the page is drawn
    big = tmp_path / "measurements.csv"
    big.write_text(VALID_TABLES["measurements.csv"] * 20, encoding="utf-8")
    small = tmp_path / "subjects.csv"
    small.write_text(VALID_TABLES["subjects.csv"], encoding="utf-8")
    browser.open("/data", "up to 0.001 MB each")
    browser.find("#data-upload input[type=file]").send_keys(f"{small}\n{big}")
    browser.wait_for_text("#data-upload-too-large", "'measurements.csv'")
    message = browser.text("#data-upload-too-large")
    assert "larger than the 0.001 MB limit" in message and "was not read" in message
    assert "subjects.csv" not in message
    browser.wait_for_text("#data-selected-files", "subjects.csv")
    assert "measurements.csv" not in browser.text("#data-selected-files")
