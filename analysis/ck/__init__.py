"""Cellular-kinetic model fits: the multiphasic model of Stein et al. 2019 per profile and per cohort
(docs/ck-model.md)."""
