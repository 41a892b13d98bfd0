"""The campaign page's socket: live progress of its documents being generated.

`/ws/bargaining/<code>/` stands on `AuthenticatedConsumer` (union/consumers.py): the session, second
factor, roles and statuses are re-checked by pushed events and the per-process timer, and
`access_state` adds the campaign's own read rule (bargaining/permissions.py), so a member who
leaves the campaign's units stops hearing about it within seconds. A campaign the user may not
read, or that does not exist, is refused the same way (closed with CLOSE_UNAUTHORIZED). The socket
only listens: events carry step codes, numbers and paths (bargaining/progress.py), no text.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404

from bargaining.permissions import access_campaign
from bargaining.progress import documents_group
from union.consumers import AuthenticatedConsumer

# What a progress event may carry to the page, and nothing else.
FIELDS = ("kind", "step", "percent", "version", "download", "preview")


class CampaignDocumentsConsumer(AuthenticatedConsumer):
    campaign_id: int | None = None

    def access_state(self, user: Any) -> Hashable | None:
        """The campaign's id while the user may read it, else None. Runs in the database thread."""
        code = self.scope["url_route"]["kwargs"]["code"]
        try:
            return access_campaign(user, code).pk
        except (Http404, PermissionDenied):
            return None

    async def join(self) -> None:
        assert self.rights is not None
        campaign_id = self.rights[-1]  # access_state's answer
        assert isinstance(campaign_id, int)
        self.campaign_id = campaign_id
        await self.channel_layer.group_add(documents_group(campaign_id), self.channel_name)

    async def leave(self) -> None:
        if self.campaign_id is not None:
            await self.channel_layer.group_discard(documents_group(self.campaign_id), self.channel_name)
            self.campaign_id = None

    async def document_progress(self, event: dict[str, Any]) -> None:
        if self.open:
            await self.send_json({"type": "progress", **{key: event[key] for key in FIELDS if key in event}})
