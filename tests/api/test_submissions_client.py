"""The `isu submit` client: HTTPS only, retries on transient failures (the
hub makes a resend a no-op, so retrying is safe), a final 4xx is reported."""

from __future__ import annotations

import httpx
import pytest

from app.submissions.client import SubmitError, send_package, submissions_url

TOKEN = "isu_secret-token-value"


def test_submissions_url() -> None:
    assert submissions_url("https://nav.example.se") == "https://nav.example.se/api/v1/submissions"
    assert submissions_url("https://nav.example.se/isu/") == (
        "https://nav.example.se/isu/api/v1/submissions"
    )
    assert submissions_url("https://nav.example.se/api/v1/submissions") == (
        "https://nav.example.se/api/v1/submissions"
    )
    assert submissions_url("http://127.0.0.1:8000").startswith("http://127.0.0.1:8000/")
    assert (
        submissions_url("http://nav.test", allow_http=True) == "http://nav.test/api/v1/submissions"
    )
    with pytest.raises(SubmitError, match="HTTPS"):
        submissions_url("http://nav.example.se")
    with pytest.raises(SubmitError):
        submissions_url("nav.example.se")


def flaky(answers: list[object]) -> tuple[httpx.Client, list[httpx.Request]]:
    """A client whose transport gives ``answers`` in turn (an exception is raised)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, httpx.Response)
        return answer

    return httpx.Client(transport=httpx.MockTransport(handler)), seen


def test_retries_transient_failures_then_succeeds() -> None:
    client, seen = flaky(
        [
            httpx.ConnectError("refused"),
            httpx.Response(503, headers={"Retry-After": "7"}),
            httpx.Response(201, json={"version": 1}),
        ]
    )
    waits: list[float] = []
    result = send_package(
        b"PK" + b"x" * 200_000, "https://nav.test/api/v1/submissions", TOKEN,
        client=client, backoff=0.5, sleep=waits.append,
    )  # fmt: skip
    assert (result.status, result.body, result.attempts) == (201, {"version": 1}, 3)
    assert waits == [0.5, 7.0]
    assert all(r.content == b"PK" + b"x" * 200_000 for r in seen)
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert seen[0].headers["content-type"] == "application/octet-stream"


def test_a_rejection_is_final() -> None:
    problem = {"type": "/problems/package-rejected", "errors": [{"pointer": "/files"}]}
    client, seen = flaky([httpx.Response(422, json=problem)])
    result = send_package(b"PK", "https://nav.test/x", TOKEN, client=client, sleep=lambda _: None)
    assert (result.status, result.body, len(seen)) == (422, problem, 1)
    assert not result.accepted


def test_gives_up_after_the_retries_without_revealing_the_token() -> None:
    client, seen = flaky([httpx.ConnectError("refused") for _ in range(3)])
    with pytest.raises(SubmitError) as info:
        send_package(
            b"PK", "https://nav.test/x", TOKEN, client=client, retries=2, sleep=lambda _: None
        )
    assert len(seen) == 3
    assert TOKEN not in str(info.value)
