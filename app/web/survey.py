"""One-time links to the client survey (brukarenkät).

The caseworker opens a link for a closed case; the client answers on it,
without signing in and without seeing anything of the case. The link:

* carries a 256-bit random token; only its SHA-256 is stored, so the table
  cannot be turned back into links and guessing is infeasible;
* is valid for ``LINK_MINUTES`` (30) and dies at its first use, when the
  caseworker makes a new one for the case or registers the answers by hand;
* lands the answers on the case through :func:`app.cases.records.put_survey`
  (same validation, history and audit as the API), as the person who opened
  the link, with the language the client chose and the link's mode.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.cases import records
from app.cases.context import CaseContext
from app.cases.scope import get_case
from app.catalogue.loader import Catalogue
from app.clock import today, utcnow
from app.config import Settings
from app.errors import Conflict, FieldError, NotFound, ValidationFailed
from app.models import Case, SurveyLink, User
from app.security.crypto import hash_token
from app.security.keyring import Keyring
from app.web.auth import aware, principal_of

LINK_MINUTES = 30
LANGUAGES = ("sv", "en", "ar", "so")
"""Languages of the survey, in the catalogue's order of the ``language`` codes."""
LINK_MODES = (4, 2)
"""Catalogue codes of ``mode`` a link may be opened for: Webb (the client's own
device) and Personligt möte (a device in the meeting)."""


def language_code(catalogue: Catalogue, lang: str) -> int:
    """The catalogue code of the survey's ``language`` for an ISO code: the
    options are in the order sv, en, ar, so (checked at start-up)."""
    language = next(f for f in catalogue.groups["survey"].extra_fields if f.key == "language")
    return language.options[LANGUAGES.index(lang)].code


def check_catalogue(catalogue: Catalogue) -> None:
    """Fail at start-up if the catalogue no longer has what the links rely on."""
    survey = catalogue.groups.get("survey")
    if survey is None:
        raise RuntimeError("catalogue: the survey group is missing")
    extras = {f.key: f for f in survey.extra_fields}
    language = extras.get("language")
    if language is None or [o.label.en for o in language.options][:4] != [
        "Swedish",
        "English",
        "Arabic",
        "Somali",
    ]:
        raise RuntimeError("catalogue: survey languages are not sv, en, ar, so")
    mode = extras.get("mode")
    if mode is None or not set(LINK_MODES) <= {o.code for o in mode.options}:
        raise RuntimeError("catalogue: survey modes for links are missing")
    for variable in catalogue.group_variables("survey"):
        if variable.survey_question is None:
            raise RuntimeError(f"catalogue: {variable.key} has no survey wording")


@dataclass(frozen=True)
class NewLink:
    token: str
    expires_at: datetime


def _check_open(case: Case) -> None:
    if case.closed_on is None:
        raise ValidationFailed(
            [
                FieldError(
                    "",
                    "case_not_closed",
                    "Brukarenkäten görs när ärendet är avslutat.",
                    "The client survey is done once the case is closed.",
                )
            ]
        )
    if case.survey is not None:
        raise Conflict(
            "Brukarenkäten är redan besvarad för ärendet.",
            "The client survey of the case is already answered.",
        )


def revoke_links(session: Session, case_id: uuid.UUID) -> int:
    """End the case's live links (a new link, or answers given another way)."""
    result = session.execute(
        update(SurveyLink)
        .where(
            SurveyLink.case_id == case_id,
            SurveyLink.used_at.is_(None),
            SurveyLink.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def create_link(ctx: CaseContext, case_id: uuid.UUID, mode: int) -> NewLink:
    """A new link for a closed case without answers; earlier links die."""
    case = get_case(ctx.session, ctx.principal, case_id)
    if mode not in LINK_MODES:
        raise ValidationFailed(
            [FieldError("/mode", "unknown_code", "Välj ett svarssätt.", "Choose a mode.")]
        )
    _check_open(case)
    revoke_links(ctx.session, case.id)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    link = SurveyLink(
        id=uuid.uuid4(),
        case_id=case.id,
        token_hash=hash_token(token),
        mode_code=mode,
        created_by_id=ctx.principal.user_id,
        created_at=now,
        expires_at=now + timedelta(minutes=LINK_MINUTES),
    )
    ctx.session.add(link)
    ctx.session.flush()
    ctx.audit(
        "survey_link.create",
        object_type="survey_link",
        object_id=link.id,
        fields=["mode"],
        municipality_code=case.municipality_code,
    )
    return NewLink(token, link.expires_at)


def live_link_expiry(session: Session, case_id: uuid.UUID) -> datetime | None:
    """When the case's live link (if any) expires (the case page says so)."""
    expires = session.scalar(
        select(SurveyLink.expires_at)
        .where(
            SurveyLink.case_id == case_id,
            SurveyLink.used_at.is_(None),
            SurveyLink.revoked_at.is_(None),
        )
        .order_by(SurveyLink.created_at.desc())
        .limit(1)
    )
    if expires is None or aware(expires) <= utcnow():
        return None
    return aware(expires)


def link_state(session: Session, token: str) -> tuple[str, SurveyLink | None]:
    """``ok``, ``unknown``, ``used``, ``revoked`` or ``expired``."""
    if not token or len(token) > 100:
        return "unknown", None
    link = session.scalar(select(SurveyLink).where(SurveyLink.token_hash == hash_token(token)))
    if link is None:
        return "unknown", None
    if link.used_at is not None:
        return "used", link
    if link.revoked_at is not None:
        return "revoked", link
    if aware(link.expires_at) <= utcnow():
        return "expired", link
    return "ok", link


def answer(
    session: Session,
    catalogue: Catalogue,
    keyring: Keyring,
    settings: Settings,
    token: str,
    lang: str,
    data: dict[str, Any],
    request_id: str | None,
) -> str:
    """Land the client's answers on the case and kill the link, in one
    transaction. Returns the link's state: ``ok`` when the answers were saved."""
    state, link = link_state(session, token)
    if state != "ok" or link is None:
        return state
    # Claim the link first: of two concurrent posts only one updates the row.
    claimed = session.execute(
        update(SurveyLink)
        .where(
            SurveyLink.id == link.id,
            SurveyLink.used_at.is_(None),
            SurveyLink.revoked_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    if int(getattr(claimed, "rowcount", 0) or 0) != 1:
        return "used"
    creator = session.get(User, link.created_by_id)
    if creator is None:
        raise NotFound()
    ctx = CaseContext(session, principal_of(creator), catalogue, keyring, settings, request_id)
    case = get_case(session, ctx.principal, link.case_id)
    if case.survey is not None:
        return "used"
    body = {
        **data,
        "answered_on": today(),
        "language": language_code(catalogue, lang),
        "mode": link.mode_code,
    }
    records.put_survey(ctx, case.id, case.version, body, by_client=True)
    record(
        session,
        actor=Actor(None, None, case.municipality_code),  # the client, not a user
        action="survey_link.answer",
        object_type="survey_link",
        object_id=link.id,
        fields=["language", "mode", *sorted(k for k, v in data.items() if v is not None)],
        municipality_code=case.municipality_code,
        outcome="ok",
        request_id=request_id,
    )
    return "ok"
