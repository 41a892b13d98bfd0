from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def tessera(request: HttpRequest) -> dict[str, Any]:
    return {"site_name": settings.TESSERA_SITE_NAME}
