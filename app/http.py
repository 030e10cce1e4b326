"""HTTP helpers shared by routers: ETags, If-Match, JSON responses."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header
from fastapi.responses import JSONResponse

from app.errors import PreconditionFailed, PreconditionRequired


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(
    if_match: Annotated[
        str | None,
        Header(
            description='Ärendets version från ETag, t.ex. `"3"` (the case ETag).',
            openapi_examples={
                "version": {
                    "summary": "ETag från senaste läsningen (the ETag of your last read)",
                    "value": '"1"',
                }
            },
        ),
    ] = None,
) -> int:
    """The version the client last saw. Missing → 428; weak or malformed → 412."""
    if if_match is None:
        raise PreconditionRequired(
            "Ange ärendets version i If-Match (ETag från senaste läsningen).",
            "Send the case version in If-Match (the ETag from your last read).",
        )
    value = if_match.strip()
    if value.startswith('"') and value.endswith('"') and value[1:-1].isdigit():
        return int(value[1:-1])
    raise PreconditionFailed(
        "If-Match matchar inte ärendets version.", "If-Match does not match the case version."
    )


def json_response(
    body: dict[str, Any], status: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)
