"""The rooms' pages (mounted at /rooms/). The JSON API is messaging/api.py, the socket consumers.py."""

from django.urls import path

from messaging import views

app_name = "messaging"

urlpatterns: list[object] = [
    path("keys/", views.keys_setup, name="keys_setup"),
    path("keys/restore/", views.keys_restore, name="keys_restore"),
    path("devices/", views.devices, name="devices"),
]
