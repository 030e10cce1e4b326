"""Bearer tokens, the principal, role and scope checks."""
