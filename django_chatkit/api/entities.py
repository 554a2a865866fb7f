"""@-mention search and entity previews over HTTP (the seed's ``/api/search?q=``).

``GET search/?q=ada`` answers with a JSON list of ChatKit ``Entity`` objects
(``id``, ``title``, ``group``, ``icon``, ``interactive``, ``data``; plus ``name`` and
``type`` for the seed's ``onTagSearch`` mapping) drawn from every registered entity
source, each scoped to what the requesting user may see. ``GET entities/<id>/preview/``
answers with ``{"preview": <widget>}`` for ChatKit's ``entities.onRequestPreview``
(``null`` when the source has no preview, 404 when the entity is not visible).
"""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..conf import AUTH_ANONYMOUS_SESSION, chatkit_settings
from ..entities import entity_sources, search_entities, split_entity_id
from ..transport.errors import error_payload
from .errors import EnvelopeErrors


class ChatUserPermission(BasePermission):
    """Who may use the chat may search: logged-in users, or anyone under the
    ``anonymous_session`` policy."""

    message = "Authentication required: log in to search."

    def has_permission(self, request: Request, view: Any) -> bool:
        if chatkit_settings.AUTH_POLICY == AUTH_ANONYMOUS_SESSION:
            return True
        return bool(request.user and request.user.is_authenticated)


class EntitySearchView(EnvelopeErrors, APIView):
    """Entities matching ``q`` (``sources=a,b`` narrows the sources; ``limit`` per source)."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [ChatUserPermission]

    def get(self, request: Request) -> Response:
        query = request.query_params.get("q", "")
        ceiling = chatkit_settings.ENTITY_SEARCH_LIMIT
        raw_limit = request.query_params.get("limit")
        try:
            limit = ceiling if raw_limit is None else int(raw_limit)
        except ValueError:
            return Response(error_payload("invalid_request", "limit must be an integer."), status=400)
        if limit < 1:
            return Response(error_payload("invalid_request", "limit must be at least 1."), status=400)
        sources = request.query_params.get("sources")
        wanted = [s for s in sources.split(",") if s] if sources else None
        if wanted is not None:
            unknown = [key for key in wanted if entity_sources.get(key) is None]
            if unknown:
                message = f"Unknown entity source(s): {', '.join(unknown)}."
                return Response(error_payload("invalid_request", message), status=400)
        return Response(search_entities(request.user, query, limit=min(limit, ceiling), sources=wanted))


class EntityPreviewView(EnvelopeErrors, APIView):
    """``{"preview": widget}`` for one entity the user may see."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [ChatUserPermission]

    def get(self, request: Request, entity_id: str) -> Response:
        try:
            key, local_id = split_entity_id(entity_id)
        except ValueError as exc:
            return Response(error_payload("invalid_request", str(exc)), status=400)
        source = entity_sources.get(key)
        not_found = error_payload("not_found", f"Entity {entity_id} not found.")
        if source is None:
            return Response(not_found, status=404)
        try:
            widget = source.preview(request.user, local_id)
        except LookupError:
            return Response(not_found, status=404)
        if widget is not None and hasattr(widget, "model_dump"):
            widget = widget.model_dump(mode="json", exclude_none=True, by_alias=True)
        return Response({"preview": widget})
