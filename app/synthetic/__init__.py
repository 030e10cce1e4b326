"""Deterministic synthetic cases calibrated to the SU-Kvinnofrid report."""
