"""Kodnyckel: pseudonym -> identifier, for coordinators only, audited."""
