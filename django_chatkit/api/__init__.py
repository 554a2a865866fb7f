"""The REST API of django_chatkit (Django REST framework views)."""
