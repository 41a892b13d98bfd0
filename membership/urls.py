"""Membership URLs. Each area's views module holds its own patterns."""

from membership.views import dashboard, home, join, me, roll

app_name = "membership"
urlpatterns = [*join.urlpatterns, *roll.urlpatterns, *dashboard.urlpatterns, *me.urlpatterns, *home.urlpatterns]
