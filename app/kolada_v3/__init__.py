"""Kolada API v3-compatible read API (``/kolada/v3``)."""
