from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("chatkit/", include("django_chatkit.urls")),
    # The REST API; the @-mention search is /api/search?q=… as in the seed.
    path("api/", include("django_chatkit.api.urls")),
    # The demo chat page and the widget gallery.
    path("", include("example_project.demo.urls")),
]
