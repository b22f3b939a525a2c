"""An address asking for what does not exist (a version, a slide mode, a parameter twice) shows the page with the
defaults and a note saying so; the header's selectors settle without rewriting the address away from the note."""
import time


def test_a_bad_address_keeps_its_note_once_the_page_has_settled(browser):
    browser.open("/patients/DM-003?version=2147483648&slide=foo", "which does not exist; showing the newest")
    browser.idle()
    time.sleep(1)  # the header's callbacks have run
    note = browser.text("#address-note")
    assert "The address asked for version 2147483648 of 'demo', which does not exist; showing the newest" in note
    assert "slide mode 'foo', which does not exist" in note
    assert "version=2147483648" in browser.url and "slide=foo" in browser.url
    assert browser.text("#_pages_content").count("Patient DM-003") >= 1
    browser.open("/kinetics?study=demo&study=other", "The address gives 'study' 2 times")
    browser.idle()
    time.sleep(1)
    assert "using the first, 'demo'" in browser.text("#address-note")
    assert browser.severe_logs() == []
