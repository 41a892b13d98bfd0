"""ASGI entry point: HTTP through Django, WebSockets through Channels with origin and session checks.

A socket is refused unless its Origin is one of the site's own (scheme, host and port: union/origins.py).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "union.settings")
django_asgi_app = get_asgi_application()

from django.conf import settings  # noqa: E402

if settings.TESSERA_SERVE_STATIC:
    # Development and tests: Daphne serves /static/ itself. Production leaves it to nginx.
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    django_asgi_app = ASGIStaticFilesHandler(django_asgi_app)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from union.origins import SiteOriginValidator  # noqa: E402
from union.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SiteOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
