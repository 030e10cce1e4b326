"""Dependencies of the administration routes (users, units, keys, audit).

No ``from __future__ import annotations`` here: FastAPI must see the closure's
role check in the dependency's signature as a real object.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from app.auth.context import AdminContext
from app.auth.principal import Principal
from app.deps import SessionDep, request_id, require_role


def admin_context(*roles: str) -> Callable[..., Awaitable[AdminContext]]:
    """An :class:`AdminContext` for a caller holding one of ``roles`` (else 403)."""
    role_check = require_role(*roles)

    async def dependency(
        request: Request,
        principal: Annotated[Principal, Depends(role_check)],
        session: SessionDep,
    ) -> AdminContext:
        return AdminContext(session, principal, request_id(request))

    return dependency


AdminCtx = Annotated[AdminContext, Depends(admin_context("admin"))]
"""Installation administrators only."""
ManagerCtx = Annotated[AdminContext, Depends(admin_context("admin", "coordinator"))]
"""Administrators, and coordinators within their own municipality."""
