from django.contrib.auth import views as auth_views
from django.urls import path

from . import views
from .csp import content_security_policy

app_name = "demo"

urlpatterns = [
    path("", views.chat, name="chat"),
    path("articles/<int:pk>/", views.article, name="article"),
    path("gallery/", views.gallery, name="gallery"),
    # Browsers ask every page's origin for /favicon.ico; without one each page logs a 404.
    path("favicon.ico", views.favicon, name="favicon"),
    # A login page for the site's users (the admin's is for staff only).
    path(
        "login/",
        content_security_policy(
            auth_views.LoginView.as_view(template_name="demo/login.html", redirect_authenticated_user=True)
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
