"""Orderings and groupings shared by every analysis: dose levels low to high, IMWG response ranks."""
from __future__ import annotations

import re

from data_access.schema import RESPONSES

_LEADING_NUMBER = re.compile(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)")


def dose_sort_key(dose_level: str) -> tuple[float, str]:
    """Order dose levels by their leading number ('150e6 CAR+ T cells' < '450e6 ...'), then by text."""
    match = _LEADING_NUMBER.match(str(dose_level))
    return (float(match.group(1)) if match else float("inf"), str(dose_level))


def ordered_dose_levels(dose_levels) -> list[str]:
    return sorted(set(dose_levels), key=dose_sort_key)


def response_rank(response: str) -> int:
    """0 for sCR (best) ... 7 for NE, so min() gives the best response."""
    return RESPONSES.index(response)
