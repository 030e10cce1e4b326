"""ACCEPTANCE I2: no personal data in logs, problem bodies or exception texts.

One representative run of bad (and good) requests carrying synthetic
personnummer, a unit's own client code and comments; then every captured log
record (message, arguments and structured fields, at DEBUG), every response
(body and headers) and the text of every exception that reached one of the
app's exception handlers (with its cause and context) is searched for them.

Not searched: the ``errors()`` of FastAPI's own ``RequestValidationError``,
which keeps the raw input by design; the app renders it without the input
(checked through the problem bodies) and never logs it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import Response

import app.cases.service as case_service
from app.errors import AppError
from app.main import create_app
from app.security.identifiers import normalise_client_identifier
from tests.api.test_case_support import API, make_world, personnummer, with_version
from tests.conftest import make_settings
from tests.factories import PNR, PNR_OTHER, case_body

PNR_BAD_CHECK = "19121212-1213"
PNR_MINOR = personnummer(date(2008, 1, 15), "384")
LOCAL_CODE = "KLIENT-HEMLIG-4711"
COMMENT = "Hemlig kommentar om klienten Qzxv"
SUGGESTION = "Klientens eget förslag Wjkq"
NEEDLES = {
    PNR,
    PNR.replace("-", ""),  # 191212121212
    PNR[2:],  # 121212-1212
    PNR[2:].replace("-", ""),  # 1212121212
    PNR_OTHER,
    PNR_OTHER.replace("-", ""),
    PNR_BAD_CHECK,
    PNR_MINOR,
    PNR_MINOR.replace("-", ""),
    LOCAL_CODE,
    COMMENT,
    "Qzxv",  # not hex: request ids and hashes cannot contain it by chance
    SUGGESTION,
    "Wjkq",
}


@pytest.fixture(scope="module")
def observed_app(database_url: str) -> Iterator[tuple[FastAPI, list[str]]]:
    """An app of its own whose exception handlers also record the exception texts
    (built before any test transaction holds the SQLite lock)."""
    api = create_app(make_settings(database_url))
    texts: list[str] = []

    def chain(exc: BaseException | None) -> Iterator[BaseException]:
        seen: set[int] = set()
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            yield exc
            exc = exc.__cause__ or exc.__context__

    def observe(handler: Callable[..., Any]) -> Callable[..., Any]:
        async def wrapped(request: Request, exc: Exception) -> Response:
            for e in chain(exc):
                if isinstance(e, RequestValidationError):
                    texts.append(type(e).__name__)
                    continue
                texts.extend([str(e), repr(e), repr(e.args)])
                if isinstance(e, AppError):
                    texts.extend([e.detail, e.detail_en, repr(e.errors), repr(e.headers)])
            response: Response = await handler(request, exc)
            return response

        return wrapped

    for key, handler in list(api.exception_handlers.items()):
        api.exception_handlers[key] = observe(handler)
    yield api, texts
    api.state.engine.dispose()


@pytest.fixture
def observed(
    observed_app: tuple[FastAPI, list[str]], session_factory: sessionmaker[Session]
) -> Iterator[tuple[FastAPI, list[str]]]:
    api, texts = observed_app
    original = api.state.session_factory, api.state.read_session_factory
    api.state.session_factory = api.state.read_session_factory = session_factory
    texts.clear()
    yield api, texts
    api.state.session_factory, api.state.read_session_factory = original


def test_no_personal_data_in_logs_problems_or_exceptions(
    observed: tuple[FastAPI, list[str]],
    session: Session,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api, exception_texts = observed
    caplog.set_level(logging.DEBUG)
    world = make_world(session)
    h = world.worker.headers
    identifier_errors: list[str] = []
    real_normalise = normalise_client_identifier

    def normalise(raw: str, **kw: Any) -> Any:
        try:
            return real_normalise(raw, **kw)
        except Exception as exc:
            identifier_errors.extend([str(exc), repr(exc)])
            raise

    monkeypatch.setattr(case_service, "normalise_client_identifier", normalise)
    responses = []
    with TestClient(api, raise_server_exceptions=False) as client:

        def send(method: str, path: str, expected: int, **kw: Any) -> None:
            r = client.request(method, path, **kw)
            assert r.status_code == expected, (method, path, r.text)
            responses.append(r)

        good = case_body(comments={"disability": COMMENT})
        send("POST", API, 201, json=good, headers=h)
        case_id = responses[-1].json()["id"]
        assert responses[-1].json()["comments"]["disability"] == COMMENT
        responses.pop()  # the one body that must show the comment: the owner's read
        for bad in (
            case_body(client_id=PNR_BAD_CHECK, comments={"disability": COMMENT}),
            case_body(client_id=PNR_MINOR, comments={"disability": COMMENT}),
            case_body(client_id=PNR_OTHER, values={"age": 30}),
            case_body(comments={"disability": COMMENT + "\x00"}),
            case_body(values={"disability": [4, 1]}, comments={"disability": COMMENT}),
            case_body(comments={"disability": COMMENT * 200}),
            case_body(client_id=LOCAL_CODE, values={"age": 17}),
            case_body(client_id=LOCAL_CODE, local_values={"k0180.nope": PNR}),
            case_body(client_id=PNR + "\x00"),
            case_body(caseworker_ref=PNR * 10),
            case_body(values={"sex": PNR}),
            case_body(actualised_on=PNR),
        ):
            send("POST", API, 422, json=bad, headers=h)
        as_json = {**h, "Content-Type": "application/json"}
        raw = json.dumps(good).encode()
        send(
            "POST",
            API,
            422,
            content=raw.replace(b"om klienten", b"om \xff klienten"),
            headers=as_json,
        )
        send(
            "POST",
            API,
            422,
            content=raw.replace(b"om klienten", b"om \\ud800 klienten"),
            headers=as_json,
        )
        send("POST", API, 422, content=f'{{"client_id": "{PNR}", '.encode(), headers=h)
        send(
            "POST", API, 413, json={**good, "comments": {"disability": COMMENT * 40_000}}, headers=h
        )
        with_key = {**h, "Idempotency-Key": "privacy-1"}
        send("POST", API, 201, json=case_body(client_id=PNR_OTHER), headers=with_key)
        responses.pop()
        send(
            "POST",
            API,
            422,
            json=case_body(client_id=PNR, comments={"origin": COMMENT}),
            headers=with_key,
        )
        patch = {"comments": {"perpetrator": COMMENT}, "values": {"perpetrator": [1]}}
        send("PATCH", f"{API}/{case_id}", 412, json=patch, headers=with_version(world.worker, 7))
        send("PATCH", f"{API}/{case_id}", 428, json=patch, headers=h)
        survey = {
            "answered_on": "2025-06-15",
            "language": 1,
            "mode": 1,
            "survey_suggestions": SUGGESTION,
        }
        send(
            "PUT",
            f"{API}/{case_id}/survey",
            422,
            json=survey,
            headers=with_version(world.worker, 1),
        )
        intervention = {
            "intervention_start_on": "2025-03-10",
            "intervention_type": 1,
            "comments": {"intervention_type": COMMENT},
        }
        send(
            "POST",
            f"{API}/{case_id}/interventions",
            404,
            json=intervention,
            headers=world.outsider.headers,
        )
        send(
            "POST",
            f"{API}/{case_id}/interventions",
            422,
            json={**intervention, "intervention_start_on": "2999-01-01"},
            headers=h,
        )
        send("GET", f"{API}/{case_id}", 401, headers={"Authorization": f"Bearer {PNR}"})
    assert len(exception_texts) > 20  # the handlers were observed
    assert identifier_errors  # and the identifier checks raised
    haystacks = {
        "logs": "\n".join([caplog.text] + [repr(vars(record)) for record in caplog.records]),
        "problem bodies": "\n".join(r.text for r in responses),
        "response headers": "\n".join(repr(r.headers.multi_items()) for r in responses),
        "exception texts": "\n".join(exception_texts + identifier_errors),
    }
    hits = {
        (where, needle) for where, text in haystacks.items() for needle in NEEDLES if needle in text
    }
    assert hits == set()
    # Every rejected response was a problem, never a 500.
    assert all(r.headers["content-type"].startswith("application/problem+json") for r in responses)


def test_unexpected_error_logs_its_type_only(
    app: FastAPI,
    session: Session,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Even an exception that quotes a value is logged by its type alone, and it
    never leaves the app: a server (uvicorn) would log the text of one that did.
    This client raises any exception that leaves the app."""
    caplog.set_level(logging.DEBUG)
    world = make_world(session)

    def leaky(*_: Any, **__: Any) -> None:
        raise RuntimeError(f"could not handle {PNR} / {COMMENT}")

    monkeypatch.setattr(case_service, "create_case", leaky)
    with TestClient(app, raise_server_exceptions=True) as client:
        r = client.post(
            API, json=case_body(comments={"disability": COMMENT}), headers=world.worker.headers
        )
    assert r.status_code == 500
    assert r.json()["type"] == "/problems/internal"
    logged = caplog.text + "".join(repr(vars(rec)) for rec in caplog.records)
    # The request's own log line names the error (app.middleware, app.ops.logging).
    failed = [rec for rec in caplog.records if getattr(rec, "error_type", None) == "RuntimeError"]
    assert [rec.getMessage() for rec in failed] == ["request"]
    assert "RuntimeError" in getattr(failed[0], "traceback", "")
    assert PNR not in logged
    assert COMMENT not in logged
    assert PNR not in r.text
    assert COMMENT not in r.text
