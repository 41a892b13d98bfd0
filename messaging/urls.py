"""The rooms' pages (mounted at /rooms/). The JSON API is messaging/api.py, the socket consumers.py."""

from django.urls import path, re_path

from messaging import views

app_name = "messaging"

urlpatterns: list[object] = [
    path("keys/", views.keys_setup, name="keys_setup"),
    path("keys/restore/", views.keys_restore, name="keys_restore"),
    path("devices/", views.devices, name="devices"),
    path("safety-number/", views.safety_number, name="safety_number"),
    path("verify/", views.verify, name="verify"),
    # A protocol user id (§4.1); the view answers 404 for anyone who shares no room with the viewer.
    re_path(r"^verify/(?P<user_id>[A-Za-z0-9_-]{1,64})/$", views.verify_person, name="verify_person"),
    path("", views.room_list, name="list"),
    path("<uuid:code>/", views.room_chat, name="chat"),
]
