"""HTTP helpers shared by routers: ETags, If-Match, JSON responses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header
from fastapi.responses import JSONResponse

from app.errors import PreconditionFailed, PreconditionRequired


def etag(version: int) -> str:
    return f'"{version}"'


@dataclass(frozen=True)
class IfMatch:
    """The If-Match header, checked only when the route asks for the version.

    Reading it lazily lets the request body and path be validated first, so a
    malformed request is a 422 whatever its If-Match says.
    """

    raw: str | None

    @property
    def value(self) -> int:
        """The version the client last saw. Missing → 428; weak or malformed → 412."""
        if self.raw is None:
            raise PreconditionRequired(
                "Ange ärendets version i If-Match (ETag från senaste läsningen).",
                "Send the case version in If-Match (the ETag from your last read).",
            )
        value = self.raw.strip()
        if value.startswith('"') and value.endswith('"') and value[1:-1].isdigit():
            return int(value[1:-1])
        raise PreconditionFailed(
            "If-Match matchar inte ärendets version.", "If-Match does not match the case version."
        )


async def expected_version(
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
) -> IfMatch:
    return IfMatch(if_match)


def json_response(
    body: dict[str, Any], status: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)
