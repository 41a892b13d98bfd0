"""Every WebSocket route of the project, gathered from the apps."""

from django.urls import path

from bargaining.consumers import CampaignDocumentsConsumer
from messaging.consumers import RoomConsumer
from union.consumers import NotificationConsumer

websocket_urlpatterns: list = [
    # Channels' URLRouter takes Django's path() with an ASGI app; django-stubs types path() for views.
    path("ws/notifications/", NotificationConsumer.as_asgi()),  # type: ignore[arg-type]
    path("ws/rooms/", RoomConsumer.as_asgi()),  # type: ignore[arg-type]
    path("ws/bargaining/<uuid:code>/", CampaignDocumentsConsumer.as_asgi()),  # type: ignore[arg-type]
]
