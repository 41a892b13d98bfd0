"""Bargaining URLs (patterns live beside their views)."""

from bargaining.views import urlpatterns as urlpatterns

app_name = "bargaining"
