"""Every WebSocket route of the project, gathered from the apps."""


websocket_urlpatterns: list = []
