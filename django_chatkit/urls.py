"""URLs of the app: ``path("chatkit/", include("django_chatkit.urls"))``."""

from django.urls import path

from .transport import views

app_name = "django_chatkit"

urlpatterns = [
    path("", views.chatkit_view, name="endpoint"),
    path("attachments/<str:attachment_id>/upload/", views.attachment_upload, name="attachment-upload"),
    path("attachments/<str:attachment_id>/preview/", views.attachment_preview, name="attachment-preview"),
    path("attachments/<str:attachment_id>/", views.attachment_download, name="attachment-download"),
]
