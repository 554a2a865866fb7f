from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("chatkit/", include("django_chatkit.urls")),
    path("api/", include("django_chatkit.api.urls")),
    path("", include("tests.browser.urls")),
]
