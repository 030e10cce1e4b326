"""Units (verksamheter) and users."""
