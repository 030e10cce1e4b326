"""Cases (ärenden): registration, phases, repeated records, closing, history."""
