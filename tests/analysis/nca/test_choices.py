"""The engine applies the analyst's choices: a sample left out is as if never measured; hand-chosen lambda-z points
give the log-linear fit through them, and everything that follows from lambda-z follows."""
import numpy as np
import pandas as pd
import pytest

from analysis.nca import NCAOptionError, NCAOptions
from analysis.nca.engine import run_nca


def profile(days, values, subject="S1"):
    return pd.DataFrame({"subject_id": subject, "analyte": "car_copies", "specimen": "PB", "day": days,
                         "value": values, "blq": False, "lloq": 1.0})


M = pd.concat([profile([1, 4, 7, 10, 14, 21, 28, 60, 90], [5, 80, 900, 4000, 2500, 1500, 700, 90, 40]),
               profile([1, 7, 14, 28], [10, 100, 50, 20], "S2")], ignore_index=True)


def test_a_sample_left_out_is_as_if_never_measured():
    left_out = run_nca(M, NCAOptions(exclusions=(("S1", "car_copies", "PB", 10.0),)))
    without = run_nca(M[~((M["subject_id"] == "S1") & (M["day"] == 10))], NCAOptions())
    numbers = [c for c in without.columns if c not in ("subject_id", "analyte", "specimen", "reason",
                                                       "lambda_z_selection")]
    pd.testing.assert_frame_equal(left_out[numbers], without[numbers])
    assert left_out["reason"].iloc[0].endswith("left out by the analyst: day 10")
    assert left_out["cmax"].iloc[0] == 2500 and left_out["reason"].iloc[1] == run_nca(M, NCAOptions())["reason"][1]


def test_chosen_lambda_z_points_give_the_fit_through_them():
    result = run_nca(M, NCAOptions(lambda_z_points=(("S1", "car_copies", "PB", (28.0, 60.0, 90.0)),))).iloc[0]
    slope, _ = np.polyfit([28, 60, 90], np.log([700, 90, 40]), 1)
    assert result["lambda_z"] == pytest.approx(-slope, rel=1e-12)
    assert result["half_life"] == pytest.approx(np.log(2) / -slope, rel=1e-12)
    assert (result["lambda_z_n_points"], result["lambda_z_start"], result["lambda_z_end"]) == (3, 28, 90)
    assert result["aucinf_obs"] == pytest.approx(result["auclast"] + 40 / -slope, rel=1e-12)
    assert result["lambda_z_selection"] == "manual" and "lambda-z: the analyst's points" in result["reason"]
    automatic = run_nca(M, NCAOptions()).iloc[0]
    assert automatic["lambda_z_selection"] == "automatic" and automatic["lambda_z"] != result["lambda_z"]


def test_two_points_fit_without_an_adjusted_r2_and_a_rising_choice_gives_no_lambda_z():
    two = run_nca(M, NCAOptions(lambda_z_points=(("S1", "car_copies", "PB", (60.0, 90.0)),))).iloc[0]
    assert two["lambda_z"] == pytest.approx(np.log(90 / 40) / 30) and np.isnan(two["r2_adj"])
    rising = run_nca(M, NCAOptions(lambda_z_points=(("S1", "car_copies", "PB", (4.0, 10.0)),))).iloc[0]
    assert np.isnan(rising["lambda_z"]) and np.isnan(rising["aucinf_obs"])
    assert "the analyst's points give no declining fit" in rising["reason"]


def test_choices_are_validated_once():
    with pytest.raises(NCAOptionError, match="at least 2 chosen points"):
        NCAOptions(lambda_z_points=(("S1", "car_copies", "PB", (28.0,)),))
    with pytest.raises(NCAOptionError, match="finite"):
        NCAOptions(exclusions=(("S1", "car_copies", "PB", float("nan")),))
    same = NCAOptions(exclusions=(("S1", "car_copies", "PB", 10),), lambda_z_points=(("S1", "car_copies", "PB",
                                                                                       (90, 28, 28.0)),))
    assert same.exclusions == (("S1", "car_copies", "PB", 10.0),)
    assert same.lambda_z_points == (("S1", "car_copies", "PB", (28.0, 90.0)),)
    assert hash(same) == hash(NCAOptions(exclusions=same.exclusions, lambda_z_points=same.lambda_z_points))
