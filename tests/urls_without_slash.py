"""A site that gives ChatKit ``api.url = "/chatkit"`` (no trailing slash)."""

from django.urls import include, path

from django_chatkit.transport.views import chatkit_view

urlpatterns = [
    path("chatkit", chatkit_view, name="chatkit-no-slash"),
    path("chatkit/", include("django_chatkit.urls")),
]
