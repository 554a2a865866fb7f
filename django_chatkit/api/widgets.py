"""Widget templates over HTTP, for staff: list, retrieve, and render with data.

``GET  widget-templates/``                  the templates (``?search=`` filters by name/title)
``GET  widget-templates/<name>/``           one template, with its source, schema and sample data
``POST widget-templates/<name>/render/``    ``{"data": {...}, "version": 3}`` (version optional)
``POST widget-templates/preview/``          ``{"template": "...", "jsonSchema": {...}, "data": {...}}``
                                            renders unsaved source (the admin's live preview)

Both render endpoints answer ``200 {"template", "version", "widget"}`` with the widget
root's JSON, or ``400`` with the app's error envelope ``{"error": {"code", "message"}}`` and,
beside it, the :class:`~django_chatkit.widgets.WidgetError`'s details:
``{"template", "version", "stage", "field", "detail", "errors": [{"path", "message"}]}``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from rest_framework import serializers, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from ..models import WidgetTemplate
from ..transport.errors import error_payload
from ..widgets import WidgetDefinition, WidgetError, WidgetNotFound, get_widget_definition
from .errors import EnvelopeErrors


class WidgetTemplateSerializer(serializers.ModelSerializer):
    versions = serializers.SerializerMethodField()

    class Meta:
        model = WidgetTemplate
        fields = [
            "name",
            "title",
            "description",
            "version",
            "template",
            "json_schema",
            "sample_data",
            "versions",
            "created_at",
            "updated_at",
        ]

    def get_versions(self, obj: WidgetTemplate) -> list[int]:
        return list(obj.versions.values_list("version", flat=True))


class WidgetTemplateListSerializer(serializers.ModelSerializer):
    class Meta:
        model = WidgetTemplate
        fields = ["name", "title", "description", "version", "updated_at"]


def _widget_error(exc: WidgetError, status: int) -> Response:
    """The app's error envelope, with the widget error's details beside it."""
    code = "not_found" if isinstance(exc, WidgetNotFound) else "invalid_widget"
    return Response({**error_payload(code, str(exc)), **exc.as_dict()}, status=status)


def _bad_request(message: str, field: str = "data") -> Response:
    return Response(
        {
            **error_payload("invalid_request", message),
            "template": None,
            "version": None,
            "stage": "request",
            "field": field,
            "detail": message,
            "errors": [{"path": "$", "message": message}],
        },
        status=400,
    )


def _render(definition: WidgetDefinition, data: Any) -> Response:
    try:
        root = definition.render(data)
    except WidgetError as exc:
        return _widget_error(exc, 400)
    return Response(
        {
            "template": definition.name,
            "version": definition.version,
            "widget": root.model_dump(mode="json", exclude_none=True),
        }
    )


class WidgetTemplatePermission(BasePermission):
    """Active staff with the model permissions of the admin: ``view_widgettemplate`` to
    list, read and render stored templates; ``change_widgettemplate`` to preview unsaved
    source (what editing a template in the admin takes)."""

    message = "You need the widget template permissions of the admin to use this endpoint."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_active and user.is_staff):
            return False
        needed = "change" if getattr(view, "action", None) == "preview" else "view"
        return user.has_perm(f"django_chatkit.{needed}_widgettemplate")


class WidgetTemplateViewSet(EnvelopeErrors, viewsets.ReadOnlyModelViewSet):
    """Widget templates for staff with the widget template permissions (session login)."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [WidgetTemplatePermission]
    lookup_field = "name"
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        templates = WidgetTemplate.objects.order_by("name")
        search = self.request.query_params.get("search")
        if search:
            templates = templates.filter(Q(name__icontains=search) | Q(title__icontains=search))
        return templates

    def get_serializer_class(self):
        return WidgetTemplateListSerializer if self.action == "list" else WidgetTemplateSerializer

    @action(detail=True, methods=["post"], url_path="render", url_name="render")
    def render_with_data(self, request: Request, name: str) -> Response:
        body = request.data if isinstance(request.data, dict) else None
        if body is None:
            return _bad_request('The body must be a JSON object like {"data": {...}}.')
        version = body.get("version")
        if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
            return _bad_request("version must be an integer.", field="version")
        try:
            definition = get_widget_definition(name, version)
        except WidgetNotFound as exc:
            return _widget_error(exc, 404)
        return _render(definition, body.get("data"))

    @action(detail=False, methods=["post"])
    def preview(self, request: Request) -> Response:
        body = request.data if isinstance(request.data, dict) else None
        if body is None or not isinstance(body.get("template"), str):
            return _bad_request('The body must be a JSON object with a "template" string.', field="template")
        schema = body.get("jsonSchema", body.get("json_schema")) or {}
        definition = WidgetDefinition(
            name=str(body.get("name") or "preview"), template=body["template"], json_schema=schema
        )
        return _render(definition, body.get("data"))
