"""Build small measurement tables by hand for the NCA tests."""
import math

import pandas as pd

from analysis.nca import nca

BLQ = "BLQ"


def table(points: dict[float, float | str], analyte="car_copies", specimen="PB", subject="S1", lloq=20.0):
    """{day: value or BLQ} -> long measurements rows of one profile."""
    rows = []
    for day, value in points.items():
        blq = value == BLQ
        rows.append({"subject_id": subject, "analyte": analyte, "specimen": specimen, "day": float(day),
                     "value": math.nan if blq else float(value), "lloq": lloq, "blq": blq})
    return pd.DataFrame(rows)


def one(points, **kwargs) -> pd.Series:
    """NCA of a single profile, as a Series of parameters."""
    nca_kwargs = {k: kwargs.pop(k) for k in ("intervals", "auc_method", "blq", "extrapolate", "car_day0_zero")
                  if k in kwargs}
    result = nca(table(points, **kwargs), **nca_kwargs)
    assert len(result) == 1
    return result.iloc[0]
