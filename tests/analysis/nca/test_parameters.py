"""The parameter registry: one declaration per result column, read by everything that shows a parameter."""
import re
from pathlib import Path

import pytest

from analysis.nca import nca
from analysis.nca.parameters import (
    BY_NAME,
    PARAMETERS,
    UNIT_KINDS,
    columns,
    interval_name,
    markdown_table,
    parameter,
)
from tests.analysis.nca.helpers import table

DOCS = Path(__file__).resolve().parents[3] / "docs" / "nca.md"


def test_every_result_column_is_declared_once_in_the_engine_order():
    result = nca(table({7: 1000, 14: 250, 21: 100, 28: 40}), intervals=[(0, 14), (7, 28)])
    assert list(result.columns) == columns(("auc_0_14", "auc_7_28"))
    declared = [p.name for p in PARAMETERS]
    assert len(declared) == len(set(declared))
    for name in result.columns[3:-1]:
        assert parameter(name).label  # every column has a label, unit kind and description
        assert parameter(name).unit_kind in UNIT_KINDS and parameter(name).description


def test_labels_units_and_cdisc_codes():
    assert BY_NAME["cmax"].header("copies/µg gDNA") == "Cmax (copies/µg gDNA)"
    assert BY_NAME["auclast"].header("%") == "AUClast (%·day)"
    assert BY_NAME["lambda_z_n_points"].header("%") == "λz points"
    auc = parameter("auc_0_28")
    assert (auc.label, auc.pptestcd, auc.header("pg/mL")) == ("AUC day 0–28", "AUCINT", "AUC day 0–28 (pg/mL·day)")
    assert parameter(interval_name(-7, 7.5)).label == "AUC day -7–7.5"
    codes = {p.name: p.pptestcd for p in PARAMETERS if p.pptestcd}
    assert codes == {"cmax": "CMAX", "tmax": "TMAX", "clast": "CLST", "tlast": "TLST", "auclast": "AUCLST",
                     "aucall": "AUCALL", "lambda_z": "LAMZ", "half_life": "LAMZHL", "r2": "R2", "r2_adj": "R2ADJ",
                     "lambda_z_n_points": "LAMZNPT", "lambda_z_start": "LAMZLL", "lambda_z_end": "LAMZUL",
                     "aucinf_obs": "AUCIFO", "auc_pct_extrap": "AUCPEO", "nadir": "CMIN", "nadir_day": "TMIN"}
    with pytest.raises(KeyError, match="'cmin' is not an NCA parameter"):
        parameter("cmin")


def test_docs_show_the_registry_table():
    text = DOCS.read_text(encoding="utf-8")
    assert markdown_table() in text
    documented = set(re.findall(r"^\| `([a-z0-9_<>]+)` \|", text, flags=re.MULTILINE))
    assert {p.name for p in PARAMETERS} <= documented
