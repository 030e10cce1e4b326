"""Dependencies of the web routes: the signed-in person, CSRF-checked posts,
and the same service contexts the API builds (CaseContext, AdminContext).

No ``from __future__ import annotations`` here: FastAPI must see the
dependencies' signatures as real objects.
"""

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app.auth.context import AdminContext
from app.cases.context import CaseContext
from app.catalogue.loader import Catalogue
from app.config import Settings
from app.deps import SessionDep, request_id
from app.errors import Forbidden
from app.security.keyring import Keyring
from app.web.auth import COOKIE, WebUser, resolve, tokens_match
from app.web.rendering import CsrfFailed, LoginRequired


async def read_form(request: Request) -> dict[str, list[str]]:
    """The posted form as name -> values (files are refused: no form has any)."""
    form: FormData = await request.form(max_files=0, max_fields=2000)
    result: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        if isinstance(value, str):
            result.setdefault(name, []).append(value)
    return result


Form = Annotated[dict[str, list[str]], Depends(read_form)]


def current_web_user(request: Request, session: SessionDep) -> WebUser:
    token = request.cookies.get(COOKIE)
    web_user = resolve(session, token)
    if web_user is None:
        raise LoginRequired(expired=token is not None)
    request.state.web_user = web_user
    request.state.principal = web_user.principal
    return web_user


CurrentWebUser = Annotated[WebUser, Depends(current_web_user)]


def same_origin(request: Request) -> bool:
    """A browser names the origin of its post (Origin, else Referer); when it
    does, it must be this site (defence in depth beside the token and
    SameSite=Strict). A client that names none is judged by the token alone."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        origin = request.headers.get("referer")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.url.netloc


def checked_post(request: Request, web_user: CurrentWebUser, form: Form) -> WebUser:
    """The signed-in person, after the post's CSRF token and origin checked out."""
    given = (form.get("csrf_token") or [""])[0]
    if not tokens_match(given, web_user.csrf_token) or not same_origin(request):
        raise CsrfFailed()
    return web_user


PostUser = Annotated[WebUser, Depends(checked_post)]


@dataclass(frozen=True)
class Page:
    """What a page handler needs: the person, the request's session and the
    services' context (built exactly as the API's)."""

    request: Request
    user: WebUser
    session: Session
    catalogue: Catalogue
    keyring: Keyring
    settings: Settings

    @property
    def case_ctx(self) -> CaseContext:
        return CaseContext(
            self.session,
            self.user.principal,
            self.catalogue,
            self.keyring,
            self.settings,
            request_id(self.request),
        )

    @property
    def admin_ctx(self) -> AdminContext:
        return AdminContext(self.session, self.user.principal, request_id(self.request))

    @property
    def is_coordinator(self) -> bool:
        return self.user.principal.role == "coordinator"

    def require_coordinator(self) -> None:
        if not self.is_coordinator:
            raise Forbidden(
                "Sidan är för kommunens samordnare.", "This page is for the coordinator."
            )


def _page(request: Request, user: WebUser, session: Session) -> Page:
    state = request.app.state
    return Page(request, user, session, state.catalogue, state.keyring, state.settings)


def get_page(request: Request, user: CurrentWebUser, session: SessionDep) -> Page:
    return _page(request, user, session)


def post_page(request: Request, user: PostUser, session: SessionDep) -> Page:
    return _page(request, user, session)


GetPage = Annotated[Page, Depends(get_page)]
PostPage = Annotated[Page, Depends(post_page)]
