"""The client's survey pages, on a one-time link: no sign-in, no case data.

``/enkat/{token}`` offers the four languages; ``/enkat/{token}/{lang}`` shows
the five questions in that language (Arabic right to left) and takes the
answers once. The questions, options and comment labels are the catalogue's
``survey_question`` and option labels; a question the catalogue asks only
under a condition (203 after an improvement in 202) is hidden until it holds,
and dropped if it does not. Requests are rate limited per client address.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.auth.service import FailureLimiter
from app.cases.bodies import read_body
from app.cases.schemas import CaseSchemas
from app.catalogue.loader import Catalogue
from app.clock import today
from app.deps import SessionDep, request_id
from app.errors import FieldError
from app.web import survey as links
from app.web.auth import client_address
from app.web.deps import Form, same_origin
from app.web.forms import Field, FormState, parse, raw_from_form, variable_field
from app.web.rendering import WebRoute, render
from app.web.survey_texts import DIRECTION, LANGUAGE_NAMES, every_language, texts_for

REQUESTS_PER_MINUTE = 60
FAILED_LOOKUPS = 20
"""Unknown, used or expired links per client address in ten minutes."""

STATUS = {"unknown": 404, "used": 410, "revoked": 410, "expired": 410}


def _limiters(request: Request) -> tuple[FailureLimiter, FailureLimiter]:
    state = request.app.state
    found: tuple[FailureLimiter, FailureLimiter] | None = getattr(
        state, "web_survey_limiters", None
    )
    if found is None:
        found = (FailureLimiter(REQUESTS_PER_MINUTE, 60), FailureLimiter(FAILED_LOOKUPS, 600))
        state.web_survey_limiters = found
    return found


def survey_fields(catalogue: Catalogue, lang: str) -> list[Field]:
    return [
        replace(
            variable_field(v, "", lang=lang, survey=True, comment_prefix="comments"),
            suv=None,
        )
        for v in catalogue.group_variables("survey")
    ]


def _localised(errors: list[FieldError], lang: str) -> list[FieldError]:
    texts = texts_for(lang)
    result = []
    for e in errors:
        text = texts["too_long"] if "too_long" in e.code else texts["invalid"]
        result.append(FieldError(e.pointer, e.code, text, e.detail_en))
    return result


def _prune(fields: list[Field], body: dict[str, Any]) -> None:
    """Drop answers to questions that were not asked (their condition fails)."""
    for f in fields:
        if f.applies_when is None:
            continue
        controller, values = f.applies_when
        given = body.get(controller)
        if given is None or str(given) not in values:
            body[f.name] = None


def build_survey_router(schemas: CaseSchemas) -> APIRouter:
    router = APIRouter(route_class=WebRoute, include_in_schema=False)

    def limited(request: Request) -> Response | None:
        hits, failures = _limiters(request)
        client = client_address(request)
        wait = hits.retry_after(client) or failures.retry_after(client)
        if wait is not None:
            return _message(request, "too_many", 429, {"Retry-After": str(wait)})
        hits.fail(client)
        return None

    def refused(request: Request, state: str) -> Response:
        _limiters(request)[1].fail(client_address(request))
        return _message(request, state, STATUS[state])

    @router.get("/enkat/{token}")
    def start(token: str, request: Request, session: SessionDep) -> Response:
        if (stop := limited(request)) is not None:
            return stop
        state, _ = links.link_state(session, token)
        if state != "ok":
            return refused(request, state)
        return render(
            request,
            "survey_start.html",
            token=token,
            languages=LANGUAGE_NAMES,
            directions=DIRECTION,
            titles=every_language("title"),
            choose=every_language("choose_language"),
        )

    def form_page(
        request: Request,
        token: str,
        lang: str,
        state: FormState,
        status: int = 200,
    ) -> Response:
        return render(
            request,
            "survey_form.html",
            status=status,
            token=token,
            lang=lang,
            dir=DIRECTION[lang],
            t=texts_for(lang),
            form=state,
        )

    @router.get("/enkat/{token}/{lang}")
    def questions(token: str, lang: str, request: Request, session: SessionDep) -> Response:
        if (stop := limited(request)) is not None:
            return stop
        if lang not in LANGUAGE_NAMES:
            return refused(request, "unknown")
        state, _ = links.link_state(session, token)
        if state != "ok":
            return refused(request, state)
        fields = survey_fields(request.app.state.catalogue, lang)
        return form_page(request, token, lang, FormState(fields))

    @router.post("/enkat/{token}/{lang}")
    def submit(
        token: str, lang: str, request: Request, session: SessionDep, form: Form
    ) -> Response:
        if (stop := limited(request)) is not None:
            return stop
        if lang not in LANGUAGE_NAMES or not same_origin(request):
            return refused(request, "unknown")
        state, link = links.link_state(session, token)
        if state != "ok" or link is None:
            return refused(request, state)
        catalogue: Catalogue = request.app.state.catalogue
        fields = survey_fields(catalogue, lang)
        body, errors = parse(fields, form)
        _prune(fields, body)
        answers = {k: v for k, v in body.items() if k != "comments" and v is not None}
        comments = {k: v for k, v in (body.get("comments") or {}).items() if v is not None}
        full: dict[str, Any] = {
            **answers,
            "answered_on": today().isoformat(),
            "language": links.language_code(catalogue, lang),
            "mode": link.mode_code,
        }
        if comments:
            full["comments"] = comments
        data: dict[str, Any] = {}
        if not errors:
            submitted = read_body(schemas.survey_in, full)
            data, errors = submitted.data, list(submitted.errors)
        if not errors and not answers and not comments:
            errors = [
                FieldError("", "empty", texts_for(lang)["at_least_one"], "Answer a question.")
            ]
        if errors:
            page = FormState(fields, raw_from_form(fields, form))
            page.attach(_localised(errors, lang) if errors[0].code != "empty" else errors)
            return form_page(request, token, lang, page, status=422)
        answer = {k: v for k, v in data.items() if k not in ("answered_on", "language", "mode")}
        outcome = links.answer(
            session,
            catalogue,
            request.app.state.keyring,
            request.app.state.settings,
            token,
            lang,
            answer,
            request_id(request),
        )
        if outcome != "ok":
            return refused(request, outcome)
        return render(
            request, "survey_done.html", lang=lang, dir=DIRECTION[lang], t=texts_for(lang)
        )

    return router


def _message(
    request: Request, key: str, status: int, headers: dict[str, str] | None = None
) -> Response:
    texts = every_language(key)
    help_texts = every_language("ask_again") if key in ("used", "expired", "revoked") else []
    return render(
        request,
        "survey_message.html",
        status=status,
        headers=headers,
        texts=texts,
        help_texts=help_texts,
    )
