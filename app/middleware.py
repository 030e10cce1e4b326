"""ASGI middleware: request ids and the request log line; a hard limit on body
size and UTF-8 JSON bodies."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import (
    FieldError,
    PayloadTooLarge,
    escape_pointer_segment,
    problem_response,
    unexpected_error,
    validation_problem,
)
from app.ops.logging import error_fields
from app.ops.routes import RouteTemplates
from app.patterns import EMBEDDED_PERSONAL_NUMBER, unstorable

if TYPE_CHECKING:
    from app.ops.metrics import Metrics

log = logging.getLogger("isu.request")

# An incoming X-Request-ID is kept only if it is a short token of safe
# characters that is not shaped like a personnummer (10 or 12 digits).
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def accepted_request_id(value: str) -> str | None:
    if _SAFE_REQUEST_ID.fullmatch(value) and not EMBEDDED_PERSONAL_NUMBER.search(value):
        return value
    return None


class RequestContext:
    """Per request: an id (``X-Request-ID``), ``Cache-Control: no-store`` unless
    the response set its own (static assets do), one log line and the metrics.

    The log line (event ``request``) has the id, method, route template, status,
    latency and the caller's user id; for a 5xx the error type and a traceback
    without messages. Never bodies, paths, query strings or headers: they may
    carry personal data or a token. An exception no handler took ends here as
    a 500 problem; it is not re-raised, because the server would log its text.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or uuid.uuid4().hex
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False
        error: BaseException | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            error = exc
            response = unexpected_error(scope.get("path", ""), exc)
            if not response_started:
                await response(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = self.routes.template(scope)
            fields: dict[str, Any] = {
                "request_id": request_id,
                "method": scope["method"],
                "route": route,
                "status": status,
                "latency_ms": round(seconds * 1000, 1),
                "user_id": _user_id(state),
            }
            if error is not None:
                fields.update(error_fields(error))
            elif status >= 500:
                fields.update(state.get("error_fields", {}))  # a 5xx a handler answered
            failed = status >= 500 or error is not None
            log.log(logging.ERROR if failed else logging.INFO, "request", extra=fields)
            if self.metrics is not None:
                self.metrics.observe(scope["method"], route, status, seconds)


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            return accepted_request_id(value.decode("latin-1"))
    return None


def _user_id(state: dict[str, Any]) -> str | None:
    """The authenticated principal's user id (set by the auth dependencies)."""
    user_id = getattr(state.get("principal"), "user_id", None)
    return str(user_id) if user_id is not None else None


class BodySizeLimit:
    """Reads the whole request body before the app sees it, at most ``max_bytes``.

    - Larger than ``max_bytes`` (by Content-Length, or counted while a chunked
      body streams in) → 413, without reading further.
    - A JSON body that is not UTF-8 → 422 naming each field whose text is not
      (RFC 8259 requires UTF-8; FastAPI would otherwise give a bare 400).

    Buffering costs nothing extra: FastAPI reads JSON bodies whole anyway.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        content_type = b""
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_large = int(value) > self.max_bytes
                except ValueError:
                    too_large = False
                if too_large:
                    await self._reject(scope, receive, send)
                    return
            elif name == b"content-type":
                content_type = value.lower()
        chunks: list[bytes] = []
        received = 0
        first: Message | None = None
        while True:
            message = await receive()
            if message["type"] != "http.request":
                first = message  # the client went away; let the app see it
                break
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        errors = _unstorable_text(scope, body, content_type)
        if body and _is_json(content_type):
            errors += _encoding_errors(body)
        if errors:
            await validation_problem(scope.get("path", ""), errors)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            if first is not None:
                return first
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        err = PayloadTooLarge(
            f"Begäran är större än {self.max_bytes} byte.",
            f"The request is larger than {self.max_bytes} bytes.",
        )
        response = problem_response(
            status=err.status,
            slug=err.slug,
            title=err.title,
            title_en=err.title_en,
            detail=err.detail,
            detail_en=err.detail_en,
            instance=scope.get("path", ""),
        )
        await response(scope, receive, send)


def _bad_text(text: str) -> bool:
    """NUL and lone surrogates: no database stores them (PostgreSQL refuses NUL)."""
    return unstorable(text) is not None


def _unstorable_text(scope: Scope, body: bytes, content_type: bytes) -> list[FieldError]:
    """Query parameters, the path and posted form fields that hold text no
    database can store (or bytes that are not UTF-8): 422 naming each, before
    any route sees them. JSON bodies are checked field by field by their models."""
    found: list[str] = []
    if _bad_text(scope.get("path", "")):
        found.append("/path")
    sources = [("query", scope.get("query_string", b""))]
    if content_type.split(b";", 1)[0].strip() == b"application/x-www-form-urlencoded":
        sources.append(("form", body))
    for where, raw in sources:
        if not raw:
            continue
        pairs = parse_qsl(
            raw.decode("latin-1"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="surrogateescape",
        )
        for name, value in pairs:
            if _bad_text(name) or _bad_text(value):
                found.append(f"/{where}/{escape_pointer_segment(name)}")
    return [
        FieldError(
            pointer,
            "nul_character",
            "Texten innehåller otillåtna tecken (NUL eller ogiltig UTF-8).",
            "The text contains characters that cannot be stored (NUL or invalid UTF-8).",
        )
        for pointer in dict.fromkeys(found)
    ]


def _is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


def _encoding_errors(body: bytes) -> list[FieldError]:
    """Nothing if ``body`` is UTF-8; else one error per field holding bytes that
    are not (the whole body if it cannot be parsed even so). Never quotes them."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return []
    pointers: list[str] = []
    try:
        # Undecodable bytes become lone surrogates U+DC80..U+DCFF.
        document = json.loads(body.decode("utf-8", errors="surrogateescape"))
        _find_undecodable(document, "", pointers)
    except (ValueError, RecursionError):
        pointers = []
    return [
        FieldError(
            pointer,
            "string_unicode",
            "Texten är inte giltig UTF-8.",
            "The text is not valid UTF-8.",
        )
        for pointer in (pointers or [""])
    ]


def _undecodable(text: str) -> bool:
    return any("\udc80" <= c <= "\udcff" for c in text)


def _find_undecodable(node: Any, pointer: str, found: list[str]) -> None:
    if isinstance(node, str):
        if _undecodable(node):
            found.append(pointer)
    elif isinstance(node, dict):
        for key, value in node.items():
            if _undecodable(key):
                found.append(pointer)  # a bad key: point at its object
            else:
                _find_undecodable(value, f"{pointer}/{escape_pointer_segment(key)}", found)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _find_undecodable(value, f"{pointer}/{index}", found)
