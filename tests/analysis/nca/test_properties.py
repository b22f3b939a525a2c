"""Properties that must hold for any data (hypothesis), and agreement with the plain per-profile reference."""
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.nca import NCAOptions, nca
from analysis.nca.engine import run_nca
from analysis.nca.parameters import PARAMETERS
from analysis.nca.reference import nca_reference

SPECIMENS = {"car_copies": "PB", "car_t_pct": "BM", "il6": "serum", "plasma_cells_pct": "BM"}
#: Every declared parameter with a real value (counts compared separately).
NUMERIC = [p.name for p in PARAMETERS if p.unit_kind not in ("count", "text")]
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def measurement_tables(draw, max_profiles=4):
    rows = []
    for p in range(draw(st.integers(1, max_profiles))):
        analyte = draw(st.sampled_from(list(SPECIMENS)))
        days = draw(st.lists(st.integers(-20, 260).map(lambda d: d / 2), min_size=1, max_size=12, unique=True))
        lloq = draw(st.sampled_from([1.0, 20.0, float("nan")]))
        for day in days:
            blq = draw(st.integers(0, 3)) == 0
            value = float("nan") if blq else draw(st.floats(0.0, 1e5, allow_nan=False).map(lambda v: round(v, 3)))
            rows.append({"subject_id": f"S{p}", "analyte": analyte, "specimen": SPECIMENS[analyte], "day": day,
                         "value": value, "lloq": lloq, "blq": blq})
    return pd.DataFrame(rows)


options = st.builds(
    NCAOptions,
    intervals=st.just(((0, 28), (3.5, 90), (10, 200))),
    auc_method=st.sampled_from(["linuplogdown", "linear"]),
    blq=st.sampled_from(["pknca", "zero", "drop", "lloq_half"]),
    extrapolate=st.booleans(),
    car_day0_zero=st.booleans(),
)


def assert_same_numbers(a: pd.DataFrame, b: pd.DataFrame, columns, rtol=1e-9):
    for column in columns:
        x = pd.to_numeric(a[column], errors="coerce").astype(float).to_numpy()
        y = pd.to_numeric(b[column], errors="coerce").astype(float).to_numpy()
        assert np.allclose(x, y, rtol=rtol, atol=1e-9, equal_nan=True), (column, x, y)


@SETTINGS
@given(measurement_tables(), options)
def test_engine_matches_the_plain_reference(m, opts):
    fast, plain = run_nca(m, opts), nca_reference(m, opts)
    assert fast[["subject_id", "analyte", "specimen"]].values.tolist() == \
        plain[["subject_id", "analyte", "specimen"]].values.tolist()
    assert_same_numbers(fast, plain, NUMERIC + list(opts.interval_names) + ["lambda_z_n_points"])


@SETTINGS
@given(measurement_tables(max_profiles=2), st.lists(st.integers(0, 280).map(lambda d: d / 2), min_size=3,
                                                     max_size=3, unique=True), st.booleans(),
       st.sampled_from(["linuplogdown", "linear"]))
def test_auc_is_additive_over_adjacent_intervals(m, cuts, extrapolate, method):
    a, b, c = sorted(cuts)
    r = nca(m, intervals=[(a, b), (b, c), (a, c)], extrapolate=extrapolate, auc_method=method)
    names = [f"auc_{x:g}_{y:g}" for x, y in ((a, b), (b, c), (a, c))]
    left, right, whole = (r[n].to_numpy(float) for n in names)
    defined = ~np.isnan(whole)
    assert np.allclose(left[defined] + right[defined], whole[defined], rtol=1e-9, atol=1e-9)


@SETTINGS
@given(measurement_tables(), st.randoms(use_true_random=False))
def test_invariant_to_row_order_and_duplicate_rows(m, rnd):
    duplicated = pd.concat([m, m.sample(n=min(3, len(m)), random_state=rnd.randint(0, 999))])
    shuffled = duplicated.sample(frac=1, random_state=rnd.randint(0, 999))
    base, other = nca(m), nca(shuffled)
    numeric = NUMERIC + ["auc_0_28", "auc_0_90", "lambda_z_n_points"]
    pd.testing.assert_frame_equal(base[numeric], other[numeric])


@SETTINGS
@given(measurement_tables(), st.sampled_from([0.001, 0.5, 3.0, 1000.0]))
def test_concentration_parameters_scale_linearly_and_times_do_not_move(m, k):
    scaled = m.assign(value=m["value"] * k, lloq=m["lloq"] * k)
    base, other = nca(m), nca(scaled)
    for column in ["cmax", "clast", "auclast", "aucall", "auc_0_28", "auc_0_90", "aucinf_obs", "baseline",
                   "peak", "nadir"]:
        assert np.allclose(other[column].to_numpy(float), k * base[column].to_numpy(float), rtol=1e-9,
                           atol=1e-12, equal_nan=True), column
    for column in ["tmax", "tlast", "lambda_z", "half_life", "lambda_z_start", "peak_day", "auc_pct_extrap",
                   "peak_fold_change", "nadir_percent_reduction"]:
        assert np.allclose(other[column].to_numpy(float), base[column].to_numpy(float), rtol=1e-7,
                           atol=1e-9, equal_nan=True), column
