"""A regional developer's county summary over the API, timed request by request.

``python -m bench.api_summary URL [--requests 20] [--county 01]`` creates a
regional user in the (bench) database, starts the application in-process
(``fastapi.testclient``: the whole ASGI stack — middleware, authentication,
scope, the read, disclosure control, JSON) and sends ``GET
/api/v1/stats/summary`` for the county's whole years. Prints one JSON object:
the first request (which computes the published release from the analysis
table) and the following ones (served from that release until any case
changes), with their median and 95th percentile in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from typing import Any


def run(url: str, *, requests: int, county: str) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from app.config import Settings
    from app.db import make_engine, make_session_factory, transaction
    from app.main import create_app
    from app.security.crypto import MasterKey
    from app.units.service import create_user

    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as session:
        _user, token = create_user(
            session,
            username=f"bench-regional-{time.time_ns()}",
            role="regional",
            municipality_code=None,
            unit_id=None,
            county_code=county,
            expires_in_days=1,
        )
    engine.dispose()
    settings = Settings(
        database_url=url, master_key=MasterKey.generate().to_text(), mode="production"
    )
    app = create_app(settings)
    params = {"from": "2000-01-01", "to": "2025-12-31"}
    headers = {"Authorization": f"Bearer {token}"}
    times: list[float] = []
    cases = None
    with TestClient(app) as client:
        for _ in range(requests + 1):
            started = time.perf_counter()
            response = client.get("/api/v1/stats/summary", params=params, headers=headers)
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"summary answered {response.status_code}")
            cases = response.json()["meta"].get("cases")
    app.state.engine.dispose()
    warm = sorted(times[1:])
    p95 = warm[max(0, math.ceil(0.95 * len(warm)) - 1)]  # nearest rank
    return {
        "county": county,
        "requests": requests,
        "first_ms": times[0],
        "warm_median_ms": statistics.median(warm),
        "warm_p95_ms": p95,
        "warm_max_ms": warm[-1],
        "n_cases_shown": cases,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--county", default="01")
    args = parser.parse_args(argv)
    result = run(args.url, requests=args.requests, county=args.county)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
