"""URLs of the REST API: ``path("api/", include("django_chatkit.api.urls"))``."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import entities, widgets

_router = SimpleRouter()
_router.register("widget-templates", widgets.WidgetTemplateViewSet, basename="widget-template")

app_name = "django_chatkit_api"

urlpatterns = [
    path("search/", entities.EntitySearchView.as_view(), name="entity-search"),
    path("search", entities.EntitySearchView.as_view()),
    path("entities/<str:entity_id>/preview/", entities.EntityPreviewView.as_view(), name="entity-preview"),
    *_router.urls,
]
