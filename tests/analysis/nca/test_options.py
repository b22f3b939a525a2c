"""Every option is validated once, with a message that says what is wrong."""
import pytest

from analysis.nca import NCAOptionError, NCAOptions
from analysis.nca.options import interval_name


@pytest.mark.parametrize("kwargs,message", [
    ({"auc_method": "log"}, "auc_method 'log' is not one of linuplogdown, linear"),
    ({"blq": "half"}, "blq rule 'half' is not one of pknca, zero, drop, lloq_half"),
    ({"intervals": ((28, 0),)}, "interval (28, 0) must have finite start < end"),
    ({"intervals": ((0, float("inf")),)}, "interval (0, inf) must have finite start < end"),
    ({"intervals": (("a", 3),)}, "interval ('a', 3) is not a pair of numbers (start, end)"),
    ({"intervals": ((0, 28), (0.0, 28.0))}, "intervals must be distinct"),
    ({"min_hl_points": 2}, "min_hl_points must be a whole number of at least 3"),
])
def test_bad_options(kwargs, message):
    with pytest.raises(NCAOptionError) as error:
        NCAOptions(**kwargs)
    assert str(error.value) == message


def test_interval_names():
    assert NCAOptions().interval_names == ("auc_0_28", "auc_0_90")
    assert interval_name(0, 7.5) == "auc_0_7.5"
    assert interval_name(-7, 28) == "auc_m7_28"
