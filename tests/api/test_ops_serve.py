"""A real ``isu serve`` subprocess (both engines): its JSON log on stderr, the
failed-authentication limiter behind no proxy and behind a trusted one, and
the metrics of several workers added up."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import PNR, case_body
from tests.support.serve import caseworker as _caseworker
from tests.support.serve import isu_serve

COMMENT = "Hemlig kommentar om klienten Qzxv"
METRICS_TOKEN = "metrics-token-" + "m" * 32
STARTUP_SECONDS = 120  # a wait for the server, not an assertion about speed


def _bad_token(client: httpx.Client, forwarded_for: str) -> int:
    headers = {
        "Authorization": f"Bearer wrong-{uuid.uuid4().hex}",
        "X-Forwarded-For": forwarded_for,
    }
    return client.get("/api/v1/cases", headers=headers).status_code


def test_served_log_is_json_and_forwarded_for_is_not_believed(
    fresh_database_url: str, tmp_path: Path
) -> None:
    worker = _caseworker(fresh_database_url)
    auth = {"Authorization": f"Bearer {worker.token}"}
    missing_case = str(uuid.uuid4())
    with (
        isu_serve(fresh_database_url, tmp_path, auth_failure_limit="3") as served,
        httpx.Client(base_url=served.url) as c,
    ):
        listing = c.get("/api/v1/cases", headers=auth)
        statuses = [
            c.get("/api/v1/variables").status_code,
            listing.status_code,
            c.get(f"/api/v1/cases/{missing_case}", headers=auth).status_code,
            c.post(
                "/api/v1/cases",
                json=case_body(
                    client_id=PNR, actualised_on="inte ett datum", comments={"disability": COMMENT}
                ),
                headers=auth,
            ).status_code,
        ]
        # Rotating X-Forwarded-For does not help: no proxy is trusted, the
        # client is 127.0.0.1 and its fourth failure is refused.
        limited = [_bad_token(c, f"203.0.113.{n}") for n in range(4)]
    assert statuses == [200, 200, 404, 422]
    assert listing.headers["cache-control"] == "no-store"
    assert limited == [401, 401, 401, 429]

    lines = served.log_lines()  # every line is JSON, uvicorn's own too
    assert {"Application startup complete.", "Finished server process"} <= {
        line["event"].split(" [")[0] for line in lines if line["logger"] == "uvicorn.error"
    }
    requests = [line for line in lines if line["event"] == "request"]
    assert {r["route"] for r in requests[:-8]} == {"/healthz"}  # waiting for the start
    requests = requests[-8:]
    assert [(r["route"], r["status"], r["user_id"]) for r in requests] == [
        ("/api/v1/cases", 200, worker.user_id),
        ("/api/v1/variables", 200, None),
        ("/api/v1/cases/{case_id}", 404, worker.user_id),
        ("/api/v1/cases", 422, worker.user_id),
        *[("/api/v1/cases", 401, None)] * 3,
        ("/api/v1/cases", 429, None),
    ]
    for request in requests:
        assert set(request) == {
            "timestamp",
            "level",
            "logger",
            "event",
            "request_id",
            "method",
            "route",
            "status",
            "latency_ms",
            "user_id",
        }
    text = served.stderr.read_text()
    for secret in (PNR, "191212121212", COMMENT, worker.token, missing_case, "203.0.113"):
        assert secret not in text


def _requests_total(body: str, route: str, status: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name == "isu_http_requests_total"
        and sample.labels["route"] == route
        and sample.labels["status"] == status
    )


def test_trusted_proxy_and_two_workers_sharing_metrics(
    fresh_database_url: str, tmp_path: Path
) -> None:
    with (
        isu_serve(
            fresh_database_url,
            tmp_path,
            workers=2,
            trusted_proxies="127.0.0.1",
            metrics_token=METRICS_TOKEN,
            auth_failure_limit="3",
        ) as served,
        httpx.Client(base_url=served.url) as c,
    ):
        # Behind a trusted proxy each forwarded address is its own client ...
        rotating = [_bad_token(c, f"198.51.100.{n}") for n in range(8)]
        # ... and one address is limited: of 7 tries over 2 workers (each
        # with its own limiter of 3), some worker sees a fourth.
        same = [_bad_token(c, "198.51.100.200") for _ in range(7)]
        assert c.get("/metrics").status_code == 401
        auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        expected = (8 + same.count(401), same.count(429))
        deadline = time.monotonic() + 30  # a worker counts just after it answers
        while True:
            body = c.get("/metrics", headers=auth).text
            counted = (
                _requests_total(body, "/api/v1/cases", "401"),
                _requests_total(body, "/api/v1/cases", "429"),
            )
            if counted == expected or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert rotating == [401] * 8
    assert same[:3] == [401] * 3
    assert 429 in same
    assert counted == expected
    events = [line["event"] for line in served.log_lines()]
    assert any(event.startswith("Started parent process") for event in events)
    assert sum(event.startswith("Started server process") for event in events) >= 2
    assert list(tmp_path.glob("isu-metrics-*")) == []  # the shared metrics dir is gone
