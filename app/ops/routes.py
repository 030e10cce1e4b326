"""The path template of the route a request matched (``/api/v1/cases/{case_id}``).

Logs and metrics name routes by template, never by path: a path can carry a
survey link's token. Since FastAPI 0.137 the route an included router puts in
``scope["route"]`` keeps its own path, without the include prefix; the full
template is looked up among the app's route contexts.
"""

from __future__ import annotations

from typing import Any

from starlette.types import Scope

UNMATCHED = "unmatched"


def _templates(app: Any) -> dict[int, str]:
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI copied included routes with the prefix
        return {}
    found: dict[int, str] = {}
    for context in iter_route_contexts(getattr(app, "routes", [])):
        template = context.path_format or context.path
        if template:
            found.setdefault(id(context.original_route), template)
    return found


class RouteTemplates:
    def __init__(self) -> None:
        self._by_route: dict[int, str] = {}

    def template(self, scope: Scope) -> str:
        """The matched route's template, or ``unmatched`` (e.g. a 404 for an unknown path)."""
        route = scope.get("route")
        if route is None:
            return UNMATCHED
        found = self._by_route.get(id(route))
        if found is None:
            # Routes may be added after the first request (tests do): look again.
            self._by_route = _templates(scope.get("app"))
            found = self._by_route.setdefault(
                id(route), str(getattr(route, "path_format", None) or UNMATCHED)
            )
        return found
