"""GET /api/v1/variables serves the catalogue JSON, the same as `isu variables --json`."""

from __future__ import annotations

import json
import subprocess
import sys

from fastapi.testclient import TestClient

from app.config import PROJECT_ROOT


def test_variables_endpoint_matches_cli(client: TestClient) -> None:
    response = client.get("/api/v1/variables")
    assert response.status_code == 200
    body = response.json()
    cli = subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", "variables", "--json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_ROOT,
    )
    assert json.loads(cli.stdout) == body
    by_suv = {v["suv"]: v for v in body["variables"] if "suv" in v}
    assert sorted(by_suv) == sorted(
        [
            1,
            2,
            3,
            4,
            5,
            14,
            15,
            19,
            20,
            41,
            49,
            58,
            59,
            67,
            90,
            110,
            117,
            118,
            126,
            127,
            161,
            192,
            256,
            257,
            202,
            203,
            206,
            212,
            217,
        ]
    )
    assert by_suv[59]["options"][0]["label"]["sv"] == "Ja"
    assert response.headers["content-type"].startswith("application/json")


def test_unknown_route_is_problem_json(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/not-found"


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/v1/variables" in spec["paths"]
