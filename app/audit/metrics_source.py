"""The audit figures /metrics reports (see app/ops/metrics.py).

TODO(lead): audit sealing is being added in app/audit/service.py; make this
return the number of audit events not yet sealed, e.g. by re-exporting
``app.audit.service.unsealed_count``. Until then there is nothing to count.
"""

from __future__ import annotations

from sqlalchemy.orm import Session


def unsealed_count(session: Session) -> int:
    """Audit events not yet sealed (placeholder until sealing exists: 0)."""
    del session
    return 0
