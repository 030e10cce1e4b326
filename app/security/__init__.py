"""Security primitives: client identifier normalisation, pseudonymisation, encryption."""
