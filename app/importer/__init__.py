"""Bulk import of cases (JSON Lines), from the CLI and the API."""
