"""The analyst's NCA choices: recorded with who, when and why (and in the audit trail), folded into what is in force,
refused without a reason, and written to and read from the settings file; on SQLite and PostgreSQL."""
import pytest

from data_access import accounts, choices
from data_access.choices import ChoiceError, choices_from_document, current_choices, fold, history, record_choice


def test_choices_are_a_history_folded_into_what_is_in_force(engine):
    common = dict(user="ana", client="127.0.0.1", engine=engine)
    record_choice("demo", 1, "DM-003", "car_copies", "PB", "exclude", day=21, reason="haemolysed", **common)
    record_choice("demo", 1, "DM-003", "car_copies", "PB", "exclude", day=28, reason="mislabelled", **common)
    record_choice("demo", 1, "DM-003", "car_copies", "PB", "include", day=28, reason="relabelled", **common)
    record_choice("demo", 1, "DM-003", "car_copies", "PB", "lambda_z", days=[90, 28, 63], reason="slow phase",
                  **common)
    record_choice("demo", 1, "DM-004", "car_copies", "PB", "lambda_z", days=[28, 60], reason="x", **common)
    record_choice("demo", 1, "DM-004", "car_copies", "PB", "lambda_z_auto", reason="", **common)
    record_choice("demo", 2, "DM-005", "car_copies", "PB", "exclude", day=7, reason="other version", **common)

    chosen = current_choices("demo", 1, engine)
    assert chosen.exclusions == (("DM-003", "car_copies", "PB", 21.0),)
    assert chosen.lambda_z_points == (("DM-003", "car_copies", "PB", (28.0, 63.0, 90.0)),)
    assert chosen.reason_of(("exclude", "DM-003", "car_copies", "PB", 21.0)) == "haemolysed"
    changes = history("demo", 1, engine)
    assert len(changes) == 6 and changes["action"].tolist()[-1] == "lambda_z_auto"
    assert (changes["user_name"] == "ana").all() and changes["at"].is_monotonic_increasing
    assert fold(changes.iloc[:2]).exclusions == (("DM-003", "car_copies", "PB", 21.0),
                                                 ("DM-003", "car_copies", "PB", 28.0))
    audited = accounts.audit_events(action="nca choice", engine=engine)
    assert len(audited) == 7 and set(audited["client"]) == {"127.0.0.1"}
    assert '"reason": "haemolysed"' in audited["detail"].iloc[-1]


@pytest.mark.parametrize(("action", "kwargs", "message"), [
    ("exclude", {"day": 21, "reason": "  "}, "a reason is needed"),
    ("lambda_z", {"days": [28, 63], "reason": ""}, "a reason is needed"),
    ("lambda_z", {"days": [28, 28.0], "reason": "one point twice"}, "at least 2 chosen points"),
    ("exclude", {"reason": "no day"}, "needs the sample's day"),
    ("delete", {"reason": "x"}, "unknown action"),
])
def test_a_choice_without_what_it_needs_is_refused_and_nothing_is_stored(engine, action, kwargs, message):
    with pytest.raises(ChoiceError, match=message):
        record_choice("demo", 1, "DM-003", "car_copies", "PB", action, user="ana", engine=engine, **kwargs)
    assert history("demo", 1, engine).empty and accounts.audit_events(action="nca choice", engine=engine).empty


def test_the_settings_file_holds_the_choices_and_reads_back():
    chosen = choices.Choices((("S1", "car_copies", "PB", 21.0),), (("S1", "car_copies", "PB", (28.0, 63.0)),),
                             ((("exclude", "S1", "car_copies", "PB", 21.0), "haemolysed"),))
    document = choices.settings_document(chosen, study="demo", version=1, options={"blq": "zero"})
    back, options = choices_from_document(document)
    assert (back.exclusions, back.lambda_z_points, options) == (chosen.exclusions, chosen.lambda_z_points,
                                                                {"blq": "zero"})
    assert back.reason_of(("exclude", "S1", "car_copies", "PB", 21.0)) == "haemolysed"


@pytest.mark.parametrize(("document", "message"), [
    ({"exclusions": []}, "not a CARTscope settings file"),
    ({"cartscope_settings": 1, "exclusions": [{"subject_id": "S1", "analyte": "a", "specimen": "PB"}]},
     r"exclusions\[0\]: needs subject_id, analyte, specimen and a numeric day"),
    ({"cartscope_settings": 1, "lambda_z": [{"subject_id": "S1", "analyte": "a", "specimen": "PB", "days": [1]}]},
     r"lambda_z\[0\]: needs at least 2 days"),
    ({"cartscope_settings": 1, "options": [1]}, "options: not an object"),
])
def test_a_bad_settings_file_is_named_with_the_entry_and_why(document, message):
    with pytest.raises(ChoiceError, match=message):
        choices_from_document(document, "my.json")
