"""The rooms' pages (mounted at /rooms/). The JSON API is messaging/api.py, the socket consumers.py."""

from django.urls import path  # noqa: F401

from messaging import views  # noqa: F401  (pages are added here)

app_name = "messaging"

urlpatterns: list[object] = []
