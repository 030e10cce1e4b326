"""Sign-in, sign-out, the person's own password, the start page and static files."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response

from app.audit.service import Actor, record
from app.auth.passwords import change_own_password, demo_accounts
from app.deps import SessionDep, request_id
from app.errors import NotFound
from app.web.auth import (
    COOKIE,
    IDLE_MINUTES,
    LOGIN_COOKIE,
    SignInLimiter,
    clear_cookie,
    client_address,
    end_session,
    resolve,
    set_cookie,
    sign_in,
    tokens_match,
)
from app.web.deps import Form, GetPage, PostPage
from app.web.forms import Field, FormState
from app.web.pages_cases import attempt
from app.web.rendering import STATIC, WebRoute, redirect, render

STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
LOGIN_TOKEN_SECONDS = 3600


def safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no other host, no sign-in loop)."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 32 for c in target)
        or target.startswith(("/logga-in", "/logga-ut", "/static", "/enkat", "/api"))
    ):
        return "/arenden"
    return target


def limiter_of(request: Request) -> SignInLimiter:
    limiter: SignInLimiter | None = getattr(request.app.state, "web_sign_in_limiter", None)
    if limiter is None:
        settings = request.app.state.settings
        limiter = SignInLimiter(
            per_client=settings.auth_failure_limit,
            per_user=5,
            window_seconds=max(settings.auth_failure_window_seconds, 300),
        )
        request.app.state.web_sign_in_limiter = limiter
    return limiter


def _login_fields() -> list[Field]:
    return [
        Field(name="username", kind="text", label="Användarnamn", autocomplete="username"),
        Field(name="password", kind="password", label="Lösenord", autocomplete="current-password"),
    ]


def _login_page(
    request: Request,
    session: SessionDep,
    *,
    status: int = 200,
    username: str = "",
    error: str | None = None,
    notice: str | None = None,
    next_url: str = "/arenden",
    headers: dict[str, str] | None = None,
) -> Response:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    state = FormState(_login_fields(), {"username": [username]})
    demo = demo_accounts(session) if request.app.state.settings.mode == "dev" else []
    response = render(
        request,
        "login.html",
        status=status,
        headers=headers,
        form=state,
        login_token=token,
        error=error,
        notice=notice,
        next_url=next_url,
        demo=demo,
    )
    set_cookie(request, response, LOGIN_COOKIE, token, LOGIN_TOKEN_SECONDS)
    return response


def build_auth_router() -> APIRouter:
    router = APIRouter(route_class=WebRoute, include_in_schema=False)

    @router.get("/")
    def home(request: Request, session: SessionDep) -> Response:
        if resolve(session, request.cookies.get(COOKIE)) is not None:
            return redirect("/arenden")
        return redirect("/logga-in")

    @router.get("/logga-in")
    def login_form(
        request: Request,
        session: SessionDep,
        next: Annotated[str | None, Query(max_length=500)] = None,
        utloggad: str | None = None,
        utgangen: str | None = None,
    ) -> Response:
        if resolve(session, request.cookies.get(COOKIE)) is not None:
            return redirect(safe_next(next))
        notice = None
        if utloggad:
            notice = "Du är utloggad."
        elif utgangen:
            notice = (
                f"Du har loggats ut eftersom sidan inte använts på {IDLE_MINUTES} minuter. "
                "Logga in igen."
            )
        return _login_page(request, session, next_url=safe_next(next), notice=notice)

    @router.post("/logga-in")
    def login(request: Request, session: SessionDep, form: Form) -> Response:
        username = (form.get("username") or [""])[0].strip()[:100]
        password = (form.get("password") or [""])[0][:256]
        next_url = safe_next((form.get("next") or [""])[0])
        if not tokens_match((form.get("csrf_token") or [""])[0], request.cookies.get(LOGIN_COOKIE)):
            return _login_page(
                request,
                session,
                status=400,
                username=username,
                next_url=next_url,
                error="Sidan hade hunnit gå ut. Försök igen.",
            )
        limiter = limiter_of(request)
        client = client_address(request)
        wait = limiter.retry_after(client, username)
        if wait is not None:
            record(
                session,
                actor=_anonymous(),
                action="auth.failed",
                object_type="web_login",
                outcome="rate_limited",
                request_id=request_id(request),
            )
            return _login_page(
                request,
                session,
                status=429,
                username=username,
                next_url=next_url,
                error=f"För många misslyckade inloggningar. Vänta {wait} sekunder och försök igen.",
                headers={"Retry-After": str(wait)},
            )
        if not username or not password:
            limiter.fail(client, username)
            return _login_page(
                request,
                session,
                status=401,
                username=username,
                next_url=next_url,
                error="Ange användarnamn och lösenord.",
            )
        result = sign_in(
            session,
            username,
            password,
            previous_token=request.cookies.get(COOKIE),
            request_id=request_id(request),
        )
        if result.reason == "role":
            return _login_page(
                request,
                session,
                status=403,
                username=username,
                next_url=next_url,
                error="Webbgränssnittet är för handläggare och samordnare. "
                "Din roll använder API:t (se /docs).",
            )
        if result.token is None:
            limiter.fail(client, username)
            return _login_page(
                request,
                session,
                status=401,
                username=username,
                next_url=next_url,
                error="Fel användarnamn eller lösenord.",
            )
        response = redirect(next_url)
        set_cookie(request, response, COOKIE, result.token, 60 * 60 * 12)
        clear_cookie(request, response, LOGIN_COOKIE)
        return response

    @router.post("/logga-ut")
    def logout(request: Request, page: PostPage) -> Response:
        token = request.cookies.get(COOKIE)
        ended = end_session(page.session, token) if token else None
        record(
            page.session,
            actor=page.user.principal.actor,
            action="auth.web_logout",
            object_type="web_session",
            object_id=ended,
            request_id=request_id(request),
        )
        response = redirect("/logga-in?utloggad=1")
        clear_cookie(request, response, COOKIE)
        return response

    def _password_fields() -> list[Field]:
        return [
            Field(
                name="current",
                kind="password",
                label="Nuvarande lösenord",
                autocomplete="current-password",
            ),
            Field(
                name="password",
                kind="password",
                label="Nytt lösenord",
                hint="Minst 12 tecken. En mening eller flera ord är lätt att minnas.",
                autocomplete="new-password",
            ),
            Field(
                name="confirm",
                kind="password",
                label="Nytt lösenord igen",
                autocomplete="new-password",
            ),
        ]

    @router.get("/konto/losenord")
    def password_form(page: GetPage, sparat: str | None = None) -> Response:
        return render(
            page.request,
            "account.html",
            form=FormState(_password_fields()),
            csrf=page.user.csrf_token,
            saved=bool(sparat),
        )

    @router.post("/konto/losenord")
    def change_password(page: PostPage, form: Form) -> Response:
        fields = _password_fields()
        _, refused = attempt(
            page.session,
            lambda: change_own_password(
                page.session,
                page.user.principal,
                current=(form.get("current") or [""])[0],
                new=(form.get("password") or [""])[0],
                confirm=(form.get("confirm") or [""])[0],
                keep_session=page.user.session_id,
                request_id=request_id(page.request),
            ),
        )
        if refused is not None:
            state = FormState(fields)
            state.attach(list(refused.errors))
            return render(
                page.request,
                "account.html",
                status=refused.status,
                form=state,
                csrf=page.user.csrf_token,
                saved=False,
            )
        return redirect("/konto/losenord?sparat=1")

    @router.get("/static/{name}")
    def static(name: str) -> Response:
        path = STATIC / name
        media = STATIC_TYPES.get(path.suffix)
        if media is None or path.parent != STATIC or not path.is_file():
            raise NotFound()
        return FileResponse(
            path,
            media_type=media,
            headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
        )

    return router


def _anonymous() -> Actor:
    return Actor(None, None, None)
