"""Every WebSocket route of the project, gathered from the apps."""

from django.urls import path

from messaging.consumers import RoomConsumer
from union.consumers import NotificationConsumer

websocket_urlpatterns: list = [
    path("ws/notifications/", NotificationConsumer.as_asgi()),
    path("ws/rooms/", RoomConsumer.as_asgi()),
]
