"""Templates, response headers and the route class of the web interface.

Every page is rendered on the server (Jinja2, autoescaped). Every response gets
headers that keep sensitive pages out of caches, frames and referrers
(``no-store``, a strict Content-Security-Policy without inline script,
``Referrer-Policy: same-origin`` so a survey link never leaks to another site). Errors raised
by the services inside a web route become HTML pages, not problem+json.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Coroutine
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm.exc import StaleDataError

from app.errors import AppError

log = logging.getLogger("isu.web")

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STOCKHOLM = ZoneInfo("Europe/Stockholm")

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@cache
def static_version() -> str:
    """A digest of the static files, so browsers fetch them again after a change."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.glob("*")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def _local_time(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


def _iso(day: date | None) -> str:
    return day.isoformat() if day else ""


def _percent(value: float | None) -> str:
    """Swedish style: 12,5 %."""
    return "–" if value is None else f"{value:.1f}".replace(".", ",") + "\u00a0%"


env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters["local_time"] = _local_time
env.filters["iso"] = _iso
env.filters["percent"] = _percent


def render(
    request: Request,
    template: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    web_user = getattr(request.state, "web_user", None)
    page = env.get_template(template).render(
        request=request,
        path=request.url.path,
        web_user=web_user,
        static_version=static_version(),
        **context,
    )
    return HTMLResponse(page, status_code=status, headers=headers)


def redirect(url: str) -> RedirectResponse:
    """303 See Other: after a post, the browser follows with a GET (no resubmit)."""
    return RedirectResponse(url, status_code=303)


class LoginRequired(Exception):
    """No live session: go to the sign-in page (and come back afterwards)."""

    def __init__(self, *, expired: bool = False) -> None:
        super().__init__("login required")
        self.expired = expired


class CsrfFailed(Exception):
    """A form post without this session's CSRF token (or from another origin)."""


ERROR_PAGES = {
    403: ("Behörighet saknas", "Din roll får inte göra detta."),
    404: ("Sidan finns inte", "Det du söker finns inte, eller så har du inte tillgång till det."),
    409: ("Det gick inte", None),
    412: ("Ärendet har ändrats", None),
    413: ("För mycket data", "Formuläret innehöll för mycket data."),
    422: ("Uppgifterna kunde inte sparas", None),
    429: ("För många försök", None),
}


def error_page(request: Request, status: int, detail: str | None = None) -> HTMLResponse:
    title, default = ERROR_PAGES.get(status, ("Något gick fel", "Ett oväntat fel inträffade."))
    return render(
        request, "error.html", status=status, title=title, detail=detail or default or title
    )


def with_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def login_url(request: Request, *, expired: bool = False) -> str:
    target = request.url.path
    if request.method != "GET":
        target = "/arenden"  # a post is not repeated after signing in
    elif request.url.query:
        target += "?" + request.url.query
    return "/logga-in?next=" + quote(target, safe="") + ("&utgangen=1" if expired else "")


class WebRoute(APIRoute):
    """A route whose errors are pages: sign-in redirects, 403/404/409 pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except LoginRequired as exc:
                response = redirect(login_url(request, expired=exc.expired))
            except CsrfFailed:
                response = error_page(
                    request,
                    403,
                    "Formuläret kunde inte tas emot (säkerhetskontroll). "
                    "Ladda om sidan och försök igen.",
                )
            except AppError as exc:
                response = error_page(request, exc.status, exc.detail)
                for name, value in exc.headers.items():
                    if name.lower() == "retry-after":
                        response.headers[name] = value
            except StaleDataError:
                response = error_page(
                    request, 412, "Ärendet har ändrats av någon annan. Ladda om sidan."
                )
            except RequestValidationError:
                # A malformed id or parameter in the address: as if it did not exist.
                response = error_page(request, 404)
            except Exception as exc:
                # Logged by type only: the text may quote stored values.
                log.error("web_unhandled_error", extra={"error_type": type(exc).__name__})
                response = error_page(request, 500)
            return with_headers(response)

        return route
