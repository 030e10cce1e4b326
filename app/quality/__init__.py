"""Data-quality report: which cases lack which variables."""
