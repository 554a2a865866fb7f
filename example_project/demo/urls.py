from django.urls import path

from . import views

app_name = "demo"

urlpatterns = [
    path("", views.chat, name="chat"),
    path("articles/<int:pk>/", views.article, name="article"),
    path("gallery/", views.gallery, name="gallery"),
    # Browsers ask every page's origin for /favicon.ico; without one each page logs a 404.
    path("favicon.ico", views.favicon, name="favicon"),
]
