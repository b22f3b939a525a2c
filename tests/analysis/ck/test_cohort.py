"""Fitting the demo study's blood transgene profiles: the simulator's true parameters (data/demo-truth) are
recovered within their 95% intervals for the profiles that support the model, σ pooled near the simulated one."""
import numpy as np
import pandas as pd
import pytest

from analysis.ck.cohort import FIT_COLUMNS, fit_cohort, observations, pooled_residual_sd
from analysis.ck.fit import CONVERGED, NO_PERSISTENCE, NOT_FITTED
from analysis.ck.model import CK_PARAMETERS
from data_access.readers import files_from_path, read_files
from data_access.validate import validate
from tests.conftest import DEMO_DIR, DEMO_TRUTH_DIR

PRIMARY = ("cmax", "tmax", "rho", "alpha", "fb", "beta")


@pytest.fixture(scope="module")
def demo_fit():
    study, report = validate(read_files(files_from_path(DEMO_DIR), 50_000_000), "demo")
    return fit_cohort(study.measurements)


@pytest.fixture(scope="module")
def truth():
    return pd.read_csv(DEMO_TRUTH_DIR / "ck_parameters.csv").set_index("subject_id")


def test_every_patient_gets_a_row_with_every_parameter(demo_fit):
    table = demo_fit.parameters
    assert len(table) == 62 and table["subject_id"].is_unique
    assert list(table.columns[:len(FIT_COLUMNS)]) == list(FIT_COLUMNS)
    for p in CK_PARAMETERS:
        assert {p.name, f"{p.name}_lower", f"{p.name}_upper"} <= set(table.columns)


def test_not_fitted_profiles_have_a_reason_and_no_numbers(demo_fit):
    table = demo_fit.parameters
    skipped = table[table["status"] == NOT_FITTED]
    assert len(skipped) > 0 and skipped["reason"].str.len().gt(0).all()
    assert skipped[list(PRIMARY)].isna().all().all()
    reduced = table[table["status"] == NO_PERSISTENCE]
    assert reduced[["fb", "beta", "persistence_half_life"]].isna().all().all()
    assert reduced[["cmax", "rho", "alpha"]].notna().all().all()


def test_the_pooled_residual_sd_is_near_the_simulated_one(demo_fit):
    assert demo_fit.residual_sd == pytest.approx(0.35, abs=0.07)
    assert demo_fit.residual_sd_note.startswith("pooled over")
    assert pooled_residual_sd(list(demo_fit.fits.values()))[0] == pytest.approx(demo_fit.residual_sd, rel=0.1)


def test_the_fits_recover_the_simulated_parameters_within_their_intervals(demo_fit, truth):
    table = demo_fit.parameters.set_index("subject_id")
    supported = table[(table["status"] == CONVERGED) & (table["reason"] == "")]
    assert len(supported) >= 20  # about half the demo's profiles show every phase
    covered = []
    for name in PRIMARY:
        true = truth.loc[supported.index, name]
        inside = (supported[f"{name}_lower"] <= true) & (true <= supported[f"{name}_upper"])
        assert inside.mean() >= 0.8, (name, inside.mean())
        covered += list(inside)
        # no systematic error: the median estimate is within 25 % of the truth
        assert abs(np.median(np.log(supported[name] / true))) < np.log(1.25), name
    # 95% intervals: over all parameters, about 95 % contain the truth (bench/ck_validation.py: many cohorts)
    assert np.mean(covered) >= 0.88


def test_observations_carry_predictions_and_standardised_residuals(demo_fit):
    obs = observations(demo_fit)
    assert set(obs["subject_id"]) == {s for s, f in demo_fit.fits.items() if f.fitted}
    quantifiable = obs[~obs["blq"]]
    assert quantifiable["residual"].notna().all() and obs.loc[obs["blq"], "residual"].isna().all()
    # σ is pooled from the profiles that support the model (first pass): over their samples, Σ z² ≈ Σ (n − 6)
    supported = [s for s, f in demo_fit.fits.items() if f.supports_model and f.n_quantifiable > 6]
    z = quantifiable.loc[quantifiable["subject_id"].isin(supported), "residual"]
    spare = sum(demo_fit.fits[s].n_quantifiable - 6 for s in supported)
    assert (z ** 2).sum() == pytest.approx(spare, rel=0.1)
    fitted = obs["predicted"] == [demo_fit.fitted_curve(s, np.array([d]))[0] for s, d in zip(obs["subject_id"],
                                                                                            obs["day"], strict=True)]
    assert fitted.all()


def test_a_given_residual_sd_is_used_as_given(demo_fit):
    study, _ = validate(read_files(files_from_path(DEMO_DIR), 50_000_000), "demo")
    given = fit_cohort(study.measurements, residual_sd=0.5)
    assert given.residual_sd == 0.5 and given.residual_sd_note == "given"
    wider = given.parameters.set_index("subject_id")
    ours = demo_fit.parameters.set_index("subject_id")
    both = wider.index[(wider["status"] == CONVERGED) & (ours["status"] == CONVERGED)]
    ratio = (wider.loc[both, "cmax_upper"] / wider.loc[both, "cmax_lower"]) / \
        (ours.loc[both, "cmax_upper"] / ours.loc[both, "cmax_lower"])
    assert (ratio > 1).mean() > 0.9


def test_several_workers_give_the_same_fits(demo_fit):
    study, _ = validate(read_files(files_from_path(DEMO_DIR), 50_000_000), "demo")
    parallel = fit_cohort(study.measurements, workers=2)
    pd.testing.assert_frame_equal(parallel.parameters, demo_fit.parameters)
