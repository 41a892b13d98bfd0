"""Bargaining URLs (patterns live beside their views)."""

from bargaining import views, views_ballots, views_consult, views_table

app_name = "bargaining"
urlpatterns = [*views.urlpatterns, *views_ballots.urlpatterns, *views_consult.urlpatterns, *views_table.urlpatterns]
