"""The one number formatter: every number CARTscope shows (pages, grid, figures' hover, exports' text tables)
goes through these, so the same value reads the same everywhere."""
from __future__ import annotations

import math
import re

BLANK = "–"
SIGNIFICANT = 3


def _float(value) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def fmt_sig(value, digits: int = SIGNIFICANT) -> str:
    """3 significant digits, thousands separators, no exponent: 5071 -> '5,070', 0.01234 -> '0.0123';
    blank -> '–'."""
    x = _float(value)
    if x is None:
        return BLANK
    if x == 0:
        return "0"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    rounded = float(f"{x:.{digits}g}")
    decimals = max(digits - 1 - math.floor(math.log10(abs(rounded))), 0)
    return f"{rounded:,.{decimals}f}"


MINUS = "\u2212"


def fmt_day(value) -> str:
    """Days as recorded: 10, 10.5, −7 (a minus sign, not a hyphen); blank -> '–'."""
    x = _float(value)
    return BLANK if x is None else f"{x:g}".replace("-", MINUS)


def fmt_count(value) -> str:
    x = _float(value)
    return BLANK if x is None else f"{int(x):,}"


def fmt_pct(fraction, decimals: int = 0) -> str:
    """0.4512 -> '45%' (a fraction of 1); blank -> '–'."""
    x = _float(fraction)
    return BLANK if x is None else f"{100 * x:.{decimals}f}%"


def fmt_range(low, high, fmt=fmt_sig) -> str:
    """'37,900 – 4,680,000' with no-break spaces, so a range never breaks across lines."""
    return f"{fmt(low)}\u00a0–\u00a0{fmt(high)}" if _float(low) is not None else BLANK


def fmt_months(days, days_per_month: float = 365.25 / 12, missing: str = "NR") -> str:
    """Days as months with one decimal; blank -> `missing` (NR: not reached)."""
    x = _float(days)
    return missing if x is None else f"{x / days_per_month:.1f}"


_DOSE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)[eE]\+?(\d+)(?![\w.])")
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def fmt_dose(label) -> str:
    """A dose level as people write it: '150e6 CAR+ T cells' -> '150 × 10⁶ CAR+ T cells' (other text unchanged).
    Only for display: the data, the grouping and CSV downloads keep the label as recorded."""
    if not isinstance(label, str):
        return BLANK if label is None else str(label)
    return _DOSE.sub(lambda m: f"{m.group(1)} × 10{m.group(2).translate(_SUPERSCRIPT)}", label)


def fmt_p(p) -> str:
    """A p-value as the figures state it: 'p = 0.034', 'p < 0.001' (no-break spaces: it never breaks across lines);
    blank -> '–'."""
    x = _float(p)
    if x is None:
        return BLANK
    return f"p\u00a0=\u00a0{x:.2g}" if x >= 0.001 else "p\u00a0<\u00a00.001"


def fmt_ci(estimate, low, high, fmt=None, unit: str = "") -> str:
    """'20.8 (3.89–111)': an estimate with its interval (each through `fmt`, 3 significant digits by default);
    the estimate alone when the interval is blank; '–' when the estimate is."""
    fmt = fmt or fmt_sig
    if _float(estimate) is None:
        return BLANK
    if _float(low) is None or _float(high) is None:
        return f"{fmt(estimate)}{unit}"
    return f"{fmt(estimate)}{unit} ({fmt(low)}–{fmt(high)})"
