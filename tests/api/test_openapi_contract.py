"""ACCEPTANCE A6: Schemathesis over the whole OpenAPI spec with valid auth.

Every operation gets a fixed budget of positive and negative examples; the
checks are the four the acceptance list names. Failures are collected over
all operations so one run shows them all.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    ignored_auth,
    negative_data_rejection,
    response_schema_conformance,
)
from sqlalchemy.orm import Session

from tests.factories import make_account, make_unit

EXAMPLES_PER_OPERATION = 5


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> bytes:
    """Bulk import bodies are JSON Lines."""
    rows = value if isinstance(value, list) else [value]
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


CHECKS = [not_a_server_error, negative_data_rejection, response_schema_conformance, ignored_auth]


def _exercise(
    operation: Any, mode: schemathesis.GenerationMode, headers: dict[str, str], failures: list[str]
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        return  # nothing to vary (e.g. no parameters to make invalid)
    except (Exception, BaseExceptionGroup) as exc:  # collected and reported below
        details = [str(e)[:900] for e in getattr(exc, "exceptions", [])]
        failures.append(
            f"{operation.label} [{mode.value}]: {type(exc).__name__}: {str(exc)[:600]} {details}"
        )


def test_every_operation_honours_its_contract(
    app: FastAPI, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    unit = make_unit(session)
    headers = make_account(session, "coordinator", unit=unit).headers
    # ignored_auth sends bad tokens on purpose; the brute-force brake is tested in A5.
    monkeypatch.setattr(app.state.settings, "auth_failure_limit", 1_000_000)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an Err raises: the spec is invalid
        operations += 1
        for mode in schemathesis.GenerationMode:
            _exercise(operation, mode, headers, failures)
    assert operations > 30
    assert failures == [], "\n\n".join(failures)
