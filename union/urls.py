"""The project's URLs: with asgi.py and routing.py, the only place in union/ that names the feature apps."""

from django.urls import include, path

from membership.account_views import set_language
from membership.views.audit import audit_log
from membership.views.home import home
from messaging.api import api as messaging_api
from union import views

urlpatterns = [
    path("", home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("account/", include("membership.account_urls")),
    path("audit/", audit_log, name="audit_log"),
    path("grievances/", include("grievances.urls")),
    path("api/messaging/", messaging_api.urls),
    path("rooms/", include("messaging.urls")),
    path("bargaining/", include("bargaining.urls")),
    path("", include("membership.urls")),
]

handler403 = "union.views.error_403"
handler404 = "union.views.error_404"
handler500 = "union.views.error_500"
