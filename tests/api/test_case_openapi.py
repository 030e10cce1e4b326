"""/docs: every case route with a body carries an example, and the examples,
sent as /docs shows them, walk a case through its whole life."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.api.test_case_support import API, make_world, with_version


def _operations(client: TestClient) -> dict[tuple[str, str], dict[str, Any]]:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    spec: dict[str, Any] = r.json()
    return {
        (method.upper(), path): operation
        for path, item in spec["paths"].items()
        if path.startswith(API)
        for method, operation in item.items()
    }


def _example(
    operations: dict[tuple[str, str], dict[str, Any]], method: str, path: str, name: str
) -> Any:
    content = operations[(method, path)]["requestBody"]["content"]["application/json"]
    return content["examples"][name]["value"]


def test_every_case_route_documents_examples(client: TestClient) -> None:
    operations = _operations(client)
    assert len(operations) == 15
    for (method, path), operation in operations.items():
        parameters = {p["name"].lower(): p for p in operation.get("parameters", [])}
        if "requestBody" in operation:
            examples = operation["requestBody"]["content"]["application/json"].get("examples")
            assert examples, (method, path)
            assert all("value" in e and e.get("summary") for e in examples.values())
        if "if-match" in parameters:
            assert parameters["if-match"]["examples"], (method, path)
        if (method == "POST" and "if-match" not in parameters) or path.endswith("/close"):
            assert "idempotency-key" in parameters, (method, path)
    bodies = [k for k, op in operations.items() if "requestBody" in op]
    assert len(bodies) == 9
    assert client.get("/docs").status_code == 200


def test_the_examples_walk_a_case_through_its_life(client: TestClient, session: Session) -> None:
    ops = _operations(client)
    world = make_world(session)
    worker, coordinator = world.worker, world.coordinator

    def ok(r: Any, status: int = 200) -> dict[str, Any]:
        assert r.status_code == status, r.text
        body: dict[str, Any] = r.json()
        return body

    case = ok(
        client.post(API, json=_example(ops, "POST", API, "own_code"), headers=worker.headers), 201
    )
    by_pnr = _example(ops, "POST", API, "personnummer")
    assert (
        ok(client.post(API, json=by_pnr, headers=worker.headers), 201)["client_id_kind"]
        == "personnummer"
    )
    one = f"{API}/{{case_id}}"
    path = f"{API}/{case['id']}"
    version = 1

    def send(
        method: str, template: str, name: str, url: str, status: int = 200, **kw: Any
    ) -> dict[str, Any]:
        nonlocal version
        headers = with_version(kw.pop("account", worker), version)
        body = ok(
            client.request(
                method, url, json=_example(ops, method, template, name), headers=headers
            ),
            status,
        )
        version = body["version"]
        return body

    send("PATCH", one, "values", path)
    assert send("PATCH", one, "none", path)["values"]["collaboration"] == []
    case = send("POST", f"{one}/interventions", "intervention", f"{path}/interventions", 201)
    intervention = case["interventions"][0]["id"]
    send(
        "PATCH",
        f"{one}/interventions/{{intervention_id}}",
        "change",
        f"{path}/interventions/{intervention}",
    )
    case = send("POST", f"{one}/risk-assessments", "assessment", f"{path}/risk-assessments", 201)
    risk = case["risk_assessments"][0]["id"]
    send(
        "PATCH",
        f"{one}/risk-assessments/{{assessment_id}}",
        "change",
        f"{path}/risk-assessments/{risk}",
    )
    assert (
        send("POST", f"{one}/close", "close", f"{path}/close")["status"] == "maluppfoljning_angiven"
    )
    assert (
        send("PUT", f"{one}/survey", "survey", f"{path}/survey")["status"]
        == "brukarenkat_genomford"
    )
    excluded = send("POST", f"{one}/exclusion", "exclude", f"{path}/exclusion", account=coordinator)
    assert excluded["is_excluded"] is True
