"""URLs of the app: ``path("chatkit/", include("django_chatkit.urls"))``."""

from django.urls import path

from .transport import live, views

app_name = "django_chatkit"

urlpatterns = [
    path("", views.chatkit_view, name="endpoint"),
    path("threads/<str:thread_id>/stop/", live.stop_run, name="thread-stop"),
    path("attachments/<str:attachment_id>/upload/", views.attachment_upload, name="attachment-upload"),
    path("attachments/<str:attachment_id>/preview/", views.attachment_preview, name="attachment-preview"),
    path("attachments/<str:attachment_id>/", views.attachment_download, name="attachment-download"),
]
