"""CRS/ICANS treatments among the concomitant medications, counted by worst CRS grade."""
import pandas as pd

from analysis.safety import crs_icans_treatments, treatment_by_crs_grade, treatment_class


def conmeds(*rows):
    return pd.DataFrame(rows, columns=["subject_id", "drug", "start_day", "end_day", "indication"])


def test_treatment_classes_and_other_indications_left_out():
    assert [treatment_class(d) for d in ("Tocilizumab", "DEXAMETHASONE SODIUM PHOSPHATE", "anakinra", "acyclovir",
                                         "dexamethasone")] == \
        ["Tocilizumab", "Corticosteroids", "Anakinra", None, "Corticosteroids"]
    given = crs_icans_treatments(conmeds(("A", "tocilizumab", 3, 3, "CRS"), ("A", "acyclovir", 0, 365, None),
                                         ("B", "dexamethasone", 2, 3, "Steroid prophylaxis"),
                                         ("B", "dexamethasone", -20, -17, "Bridging therapy (multiple myeloma)"),
                                         ("B", "dexamethasone", 1, 1, "Premedication"),
                                         ("B", "DEXAMETHASONE SODIUM PHOSPHATE", 5, 6, "Cytokine release syndrome"),
                                         ("B", "methylprednisolone", 6, 8, None),
                                         ("C", "dexamethasone", 4, 5, "ICANS grade 2")))
    assert given[["subject_id", "treatment"]].values.tolist() == [["A", "Tocilizumab"], ["B", "Corticosteroids"],
                                                                 ["B", "Corticosteroids"], ["C", "Corticosteroids"]]


def test_patients_given_each_treatment_by_worst_crs_grade_counted_once():
    patients = pd.DataFrame({"subject_id": ["A", "B", "C", "D"],
                             "crs_group": ["CRS grade 2", "CRS grade 2", "No CRS", "CRS grade ≥3"]})
    table = treatment_by_crs_grade(conmeds(("A", "tocilizumab", 3, 3, "CRS"), ("A", "tocilizumab", 4, 4, "CRS"),
                                           ("D", "tocilizumab", 2, 2, "CRS"), ("D", "dexamethasone", 3, 5, "CRS")),
                                   patients).set_index("group")
    assert table.loc["CRS grade 2", ["n", "Tocilizumab", "Corticosteroids"]].tolist() == [2, 1, 0]
    assert table.loc["CRS grade 2", "Tocilizumab %"] == 50.0
    assert table.loc["All patients", ["n", "Tocilizumab", "Corticosteroids", "Anakinra"]].tolist() == [4, 2, 1, 0]
    assert list(table.index) == ["CRS grade 2", "No CRS", "CRS grade ≥3", "All patients"]
