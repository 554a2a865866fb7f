"""Admin for widget templates: a validating editor, the rendered JSON, history with diff and
restore, and ``.widget`` import/export.

Registered from :mod:`django_chatkit.admin`.
"""

from __future__ import annotations

import difflib
import io
import json
import zipfile
from typing import Any

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import WidgetTemplate, WidgetTemplateVersion
from .widgets import (
    NOT_RENDERED,
    WidgetDefinition,
    WidgetError,
    check_schema,
    save_widget_definition,
    widget_filename,
)

#: Ace (shipped by the django-ace package) and this app's editor glue: see admin_editor.js.
ACE_MEDIA = forms.Media(
    js=[
        "django_ace/ace/ace.js",
        "django_ace/ace/mode-json.js",
        "django_ace/ace/theme-chrome.js",
        "django_ace/ace/theme-tomorrow_night.js",
        "django_ace/ace/ext-searchbox.js",
    ],
    css={
        "all": [
            "django_ace/ace/css/ace.css",
            "django_ace/ace/css/theme/chrome.css",
            "django_ace/ace/css/theme/tomorrow_night.css",
            "django_chatkit/admin_editor.css",
        ]
    },
)


class CodeEditor(forms.Textarea):
    """A textarea that the admin's code editor (Ace, from django-ace) takes over.

    ``mode`` is ``"json"`` or ``"jinja-json"`` (Jinja whose output is JSON). The textarea
    stays the form's field: the editor writes every change back into it, so the form
    posts as usual and works (as a plain textarea) without JavaScript.
    """

    def __init__(self, mode: str, attrs: dict[str, Any] | None = None) -> None:
        defaults = {"class": "chatkit-code", "spellcheck": "false", "data-chatkit-editor": mode, "rows": 12}
        super().__init__(attrs={**defaults, **(attrs or {})})
        self.mode = mode

    @property
    def media(self) -> forms.Media:
        if apps.is_installed("django_ace"):
            return ACE_MEDIA
        return forms.Media(css={"all": ["django_chatkit/admin_editor.css"]})  # plain textareas (check W042)


class PrettyJSONField(forms.JSONField):
    """A JSON form field shown indented, one key a line, instead of on one line."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        if value is None:
            return ""  # an empty editor, not the word null
        return json.dumps(value, ensure_ascii=False, indent=2, cls=self.encoder)


class WidgetTemplateForm(forms.ModelForm):
    """Refuses a template that does not compile, a schema that is not JSON Schema, sample
    data that fails the schema, or a render that is not a valid widget; each reason is
    shown next to the field at fault."""

    class Meta:
        model = WidgetTemplate
        fields = ["name", "title", "description", "template", "json_schema", "sample_data"]
        field_classes = {"json_schema": PrettyJSONField, "sample_data": PrettyJSONField}
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "template": CodeEditor("jinja-json", attrs={"rows": 24}),
            "json_schema": CodeEditor("json", attrs={"rows": 12}),
            "sample_data": CodeEditor("json", attrs={"rows": 8}),
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        if self.errors:
            return cleaned
        if cleaned.get("sample_data") is None:
            self.add_error("sample_data", _("Give sample data: the template is checked by rendering it."))
            return cleaned
        definition = WidgetDefinition(
            name=cleaned.get("name") or "",
            version=None,
            template=cleaned.get("template") or "",
            json_schema=cleaned.get("json_schema") or {},
        )
        try:
            check_schema(definition.json_schema, name=definition.name)
            definition.compile()
            definition.render(cleaned["sample_data"])
        except WidgetError as exc:
            field = {"json_schema": "json_schema", "data": "sample_data"}.get(exc.field, "template")
            self.add_error(field, [f"{exc.stage}: {message}" for message in exc.messages])
        return cleaned


class _MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class _MultipleFileField(forms.FileField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", _MultipleFileInput(attrs={"accept": ".widget,application/json"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        return [single(d, initial) for d in data] if isinstance(data, (list, tuple)) else [single(data, initial)]


class WidgetImportForm(forms.Form):
    # The form metaclass moves declared fields off the class, so this does not replace
    # BaseForm.files at run time; django-stubs cannot tell.
    files = _MultipleFileField(label=_(".widget files"))  # type: ignore[assignment]


def _content_lines(version: WidgetTemplateVersion | WidgetTemplate) -> list[str]:
    """A version as text, for diffs."""
    sections = [
        f"title: {version.title}",
        f"description: {version.description}",
        "--- template",
        *version.template.splitlines(),
        "--- jsonSchema",
        *json.dumps(version.json_schema, indent=2, sort_keys=True).splitlines(),
        "--- sampleData",
        *json.dumps(version.sample_data, indent=2, sort_keys=True).splitlines(),
    ]
    return sections


@admin.action(description=_("Export selected templates as .widget files"))
def export_widget_files(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset) -> HttpResponse:
    templates = list(queryset.order_by("name"))
    if len(templates) == 1:
        template = templates[0]
        response = HttpResponse(template.definition().to_widget_file(), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{widget_filename(template.name)}"'
        return response
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for template in templates:
            archive.writestr(widget_filename(template.name), template.definition().to_widget_file())
    response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    response["Content-Disposition"] = 'attachment; filename="widget-templates.zip"'
    return response


class WidgetTemplateVersionInline(admin.TabularInline):
    model = WidgetTemplateVersion
    fields = ("version", "comment", "created_by", "created_at", "actions_column")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-version",)
    verbose_name_plural = _("history")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("created_by", "widget_template")  # not a query per version

    @admin.display(description=_("compare / restore"))
    def actions_column(self, obj: WidgetTemplateVersion) -> str:
        url = reverse("admin:django_chatkit_widgettemplate_version", args=[obj.widget_template_id, obj.version])
        return format_html('<a href="{}">{}</a>', url, _("diff with current, restore"))


@admin.register(WidgetTemplate)
class WidgetTemplateAdmin(admin.ModelAdmin):
    form = WidgetTemplateForm
    list_display = ("name", "title", "version", "updated_at")
    list_filter = ("updated_at", "created_at")
    search_fields = ("name", "title", "description", "template")
    readonly_fields = ("version", "rendered_json")
    fieldsets = (
        (None, {"fields": ("name", "title", "description", "version")}),
        (_("Template"), {"fields": ("template", "json_schema", "sample_data")}),
        (_("Sample render"), {"fields": ("rendered_json",)}),
    )
    inlines = [WidgetTemplateVersionInline]
    actions = [export_widget_files]
    change_list_template = "admin/django_chatkit/widgettemplate/change_list.html"

    @admin.display(description=_("rendered JSON for the sample data"))
    def rendered_json(self, obj: WidgetTemplate) -> str:
        if obj is None or not obj.pk:
            return "-"
        if obj.sample_data is None:
            return str(_("(no sample data)"))
        try:
            root = obj.definition().render(obj.sample_data)
        except WidgetError as exc:
            return format_html('<pre class="errornote">{}</pre>', str(exc))
        rendered = json.dumps(root.model_dump(mode="json", exclude_none=True), indent=2, ensure_ascii=False)
        return format_html('<pre class="chatkit-widget-json">{}</pre>', rendered)

    def save_model(self, request: HttpRequest, obj: WidgetTemplate, form: Any, change: bool) -> None:
        obj.save(user=request.user, comment="Edited in the admin" if change else "Created in the admin")

    # -- extra views ---------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_view), name="django_chatkit_widgettemplate_import"),
            path(
                "<int:object_id>/versions/<int:version>/",
                view(self.version_view),
                name="django_chatkit_widgettemplate_version",
            ),
            *super().get_urls(),
        ]

    def version_view(self, request: HttpRequest, object_id: int, version: int) -> HttpResponse:
        template = get_object_or_404(WidgetTemplate, pk=object_id)
        if not self.has_view_permission(request, template):
            raise PermissionDenied
        old = get_object_or_404(WidgetTemplateVersion, widget_template=template, version=version)
        if request.method == "POST":
            if not self.has_change_permission(request, template):
                raise PermissionDenied
            restored = template.restore(version, user=request.user)
            self.message_user(
                request,
                _("Restored version %(old)s of %(name)s as version %(new)s.")
                % {"old": version, "name": template.name, "new": restored.version},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(reverse("admin:django_chatkit_widgettemplate_change", args=[template.pk]))
        diff = list(
            difflib.unified_diff(
                _content_lines(old),
                _content_lines(template),
                fromfile=f"version {old.version}",
                tofile=f"current (version {template.version})",
                lineterm="",
            )
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": template,
            "old": old,
            "diff": [(line[:1], line) for line in diff],
            "is_current": old.version == template.version,
            "can_restore": self.has_change_permission(request, template) and old.version != template.version,
            "title": _("%(name)s: version %(version)s") % {"name": template.name, "version": old.version},
        }
        return TemplateResponse(request, "admin/django_chatkit/widgettemplate/version.html", context)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        form = WidgetImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            for upload in request.FILES.getlist("files"):
                try:
                    definition = WidgetDefinition.from_bytes(upload.read(), source=upload.name or "upload.widget")
                    template, status = save_widget_definition(
                        definition, user=request.user, comment=f"Imported from {upload.name}"
                    )
                except WidgetError as exc:
                    self.message_user(request, f"{upload.name} was not imported: {exc}", messages.ERROR)
                    continue
                done = f"{upload.name}: {template.name} {status} (version {template.version})"
                if definition.check_data is None:
                    self.message_user(request, f"{done}. {NOT_RENDERED}", messages.WARNING)
                else:
                    self.message_user(request, done, messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:django_chatkit_widgettemplate_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "title": _("Import .widget files"),
        }
        return TemplateResponse(request, "admin/django_chatkit/widgettemplate/import.html", context)
