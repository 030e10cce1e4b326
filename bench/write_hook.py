"""What keeping ``case_analysis`` in step costs a write request.

``python -m bench.write_hook URL`` migrates the (empty, throwaway) database at
URL, creates a unit, a caseworker and five cases through the API
(in-process, ``fastapi.testclient``), then sends 120 writes — a PATCH of a
value and a new intervention, alternately — and times every request and every
run of the ``after_flush`` hook. Prints one JSON object (milliseconds). Not
part of ``make bench``; the numbers are quoted in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any


def run(url: str, writes: int = 60) -> dict[str, Any]:
    from alembic import command
    from fastapi.testclient import TestClient
    from sqlalchemy import event
    from sqlalchemy.orm import Session, UOWTransaction

    from app.analysis import sync
    from app.cli import alembic_config
    from app.config import Settings
    from app.db import make_engine, make_session_factory, transaction
    from app.main import create_app
    from app.security.crypto import MasterKey
    from tests.factories import case_body, make_account, make_unit

    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as session:
        account = make_account(session, "caseworker", unit=make_unit(session, "0180"))
    engine.dispose()
    app = create_app(
        Settings(database_url=url, master_key=MasterKey.generate().to_text(), mode="production")
    )
    hook: list[float] = []

    def timed(session: Session, context: UOWTransaction) -> None:
        started = time.perf_counter()
        sync.after_flush(session, context)
        hook.append(time.perf_counter() - started)

    event.remove(Session, "after_flush", sync.after_flush)
    event.listen(Session, "after_flush", timed)
    requests: list[float] = []
    headers = account.headers
    try:
        with TestClient(app) as client:
            ids = [
                client.post("/api/v1/cases", json=case_body(), headers=headers).json()["id"]
                for _ in range(5)
            ]
            hook.clear()
            for i in range(writes):
                case_id = ids[i % len(ids)]
                etag = client.get(f"/api/v1/cases/{case_id}", headers=headers).headers["etag"]
                started = time.perf_counter()
                response = client.patch(
                    f"/api/v1/cases/{case_id}",
                    json={"values": {"origin": 1 + i % 4}},
                    headers={**headers, "If-Match": etag},
                )
                requests.append(time.perf_counter() - started)
                started = time.perf_counter()
                added = client.post(
                    f"/api/v1/cases/{case_id}/interventions",
                    json={"intervention_start_on": "2025-03-10", "intervention_type": 4},
                    headers=headers,
                )
                requests.append(time.perf_counter() - started)
                if response.status_code != 200 or added.status_code != 201:
                    raise RuntimeError("a write failed")
    finally:
        event.remove(Session, "after_flush", timed)
        event.listen(Session, "after_flush", sync.after_flush)
        app.state.engine.dispose()
    ordered = sorted(hook)
    return {
        "requests": len(requests),
        "request_median_ms": statistics.median(requests) * 1000,
        "hook_runs": len(hook),
        "hook_median_ms": statistics.median(hook) * 1000,
        "hook_p95_ms": ordered[int(0.95 * len(ordered))] * 1000,
        "hook_share_of_request_time": sum(hook) / sum(requests),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="a new, empty database (it is migrated and written)")
    args = parser.parse_args(argv)
    sys.stdout.write(json.dumps(run(args.url)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
