"""Grievance URLs. Each area's views module holds its own patterns."""

from grievances.views import cases, dashboard, work

app_name = "grievances"
urlpatterns = [*cases.urlpatterns, *work.urlpatterns, *dashboard.urlpatterns]
