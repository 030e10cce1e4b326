"""Sending a package to the national hub over HTTPS (``isu submit``).

Safe to retry: the hub treats the same package again as a no-op, so a
connection dropped after sending, a 429 or a 5xx is simply tried again (with
back-off, honouring ``Retry-After``). A 4xx other than 429 is final: the hub
has said what is wrong with the package.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

SUBMISSIONS_PATH = "/api/v1/submissions"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
CHUNK = 64 * 1024
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class Answer(Protocol):
    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def json(self) -> Any: ...


class HttpClient(Protocol):
    """What is needed of an HTTP client (httpx.Client; a test client)."""

    def post(self, url: str, *, content: Any = ..., headers: Any = ...) -> Answer: ...


class SubmitError(Exception):
    """The package could not be delivered; the message says why (no secrets)."""


@dataclass(frozen=True)
class SubmitResult:
    status: int
    body: dict[str, Any]
    attempts: int

    @property
    def accepted(self) -> bool:
        return self.status in (200, 201)


@dataclass
class Progress:
    """Callbacks for a progress bar: ``start(total)`` then ``advance(n)``."""

    start: Callable[[int], None] = field(default=lambda _total: None)
    advance: Callable[[int], None] = field(default=lambda _n: None)


def submissions_url(base: str, *, allow_http: bool = False) -> str:
    """``https://hub.example`` -> ``https://hub.example/api/v1/submissions``.
    Plain http only to this machine, or when explicitly allowed."""
    parts = urlsplit(base)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise SubmitError("Ange navets adress, t.ex. https://nav.example.se (give the hub's URL).")
    if parts.scheme == "http" and not allow_http and parts.hostname not in LOCAL_HOSTS:
        raise SubmitError("Paket skickas bara över HTTPS. (Packages are only sent over HTTPS.)")
    path = parts.path.rstrip("/")
    if not path.endswith(SUBMISSIONS_PATH):
        path += SUBMISSIONS_PATH
    return f"{parts.scheme}://{parts.netloc}{path}"


def _retry_after(response: Answer, fallback: float) -> float:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else fallback


def send_package(
    content: bytes,
    url: str,
    token: str,
    *,
    client: HttpClient | None = None,
    retries: int = 5,
    backoff: float = 1.0,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> SubmitResult:
    """POST the package, retrying transient failures; the final answer."""
    if client is None:
        with httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0)) as own:
            return send_package(
                content,
                url,
                token,
                client=own,
                retries=retries,
                backoff=backoff,
                progress=progress,
                sleep=sleep,
            )
    events = progress or Progress()
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/octet-stream",
        "Content-Length": str(len(content)),
    }

    def chunks() -> Iterator[bytes]:
        events.start(len(content))
        for start in range(0, len(content), CHUNK):
            piece = content[start : start + CHUNK]
            yield piece
            events.advance(len(piece))

    attempt = 0
    while True:
        attempt += 1
        wait = backoff * 2 ** (attempt - 1)
        try:
            response = client.post(url, content=chunks(), headers=headers)
        except httpx.TransportError:
            if attempt > retries:
                raise SubmitError("Navet kunde inte nås. (The hub could not be reached.)") from None
            sleep(wait)
            continue
        if response.status_code in RETRY_STATUSES and attempt <= retries:
            sleep(_retry_after(response, wait))
            continue
        try:
            body = response.json()
        except ValueError:
            body = {}
        return SubmitResult(response.status_code, body if isinstance(body, dict) else {}, attempt)
