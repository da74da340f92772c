"""Verification statistics as pure functions on score arrays: counting primitive, curves,
exact AUC/EER/TAR@FAR, rates, bootstrap, fairness, the metric catalog.

May import: ``face_bench.core`` only. No plotting, no models.
"""
