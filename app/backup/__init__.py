"""`isu backup` and `isu restore`: consistent copies of the database with a
manifest, restored only after they are checked (docs/operations.md)."""
