from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def tessera(request: HttpRequest) -> dict[str, Any]:
    # settings.LANGUAGES names each language in itself; Django's {% get_available_languages %}
    # would translate the names ("Kiingereza" for English on a Swahili page).
    return {"site_name": settings.TESSERA_SITE_NAME, "site_languages": settings.LANGUAGES}
