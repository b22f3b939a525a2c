"""Non-compartmental analysis of CAR-T cellular kinetics, vectorised over every profile.

Conventions follow PKNCA (docs/nca.md); one module per concern, as PKNCA has one function per parameter:
options (validated settings), profiles (grouping, Day 0), blq (BLQ rules), simple (Cmax, Tmax,
Clast, Tlast), interpolate (segment methods), auc (AUClast, AUCall, partial AUCs, AUCinf), half_life
(lambda-z selection), extras (IL-6 and plasma-cell parameters), engine (`nca`), and reference
(a plain per-profile implementation used as a test oracle and benchmark baseline).
"""
from analysis.nca.engine import nca
from analysis.nca.options import NCAOptionError, NCAOptions

__all__ = ["nca", "NCAOptions", "NCAOptionError"]
