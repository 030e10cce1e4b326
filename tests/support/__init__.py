"""Test support: database servers, factories."""
