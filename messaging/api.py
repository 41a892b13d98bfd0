"""The rooms' JSON API (django-ninja): thin operations that run messaging/permissions.py, then one
service or selector. Bodies are validated by the declared schemas (messaging/schemas.py) before any
of this runs; the OpenAPI document generated from them is served at /api/messaging/openapi.json.

Session authentication; django-ninja's session auth checks the CSRF token on every unsafe method.
Missing and forbidden both answer 404; bad input answers 400 and changes nothing; a commit or
message built on a head that moved answers 409. No body is ever logged.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib.auth import HASH_SESSION_KEY
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers
from ninja import NinjaAPI, Query, Router, Status
from ninja.errors import ValidationError as SchemaError
from ninja.security import django_auth

from messaging import permissions as perms
from messaging import selectors, services
from messaging.api_people import router as people_router
from messaging.models import BackupItem, BackupParams, Commit, Device, Wrap
from messaging.schemas import (
    BackupItemBody,
    BackupItemsOut,
    BackupParamsIn,
    BackupParamsOut,
    CommitAccepted,
    CommitIn,
    CommitsOut,
    DeviceListBody,
    DeviceListsOut,
    Envelope,
    Error,
    MessagesOut,
    MyDevicesOut,
    ReadIn,
    ReadOut,
    RoomCreateIn,
    RoomDetailOut,
    RoomMeta,
    RoomsOut,
    SeatIn,
    SeatOut,
    Sent,
    WrapsOut,
)


class RoomsAPI(NinjaAPI):
    """Every answer is private to its caller: none may be cached by a browser or a proxy."""

    def create_response(self, request: HttpRequest, data: Any, *, status: int | None = None,
                        temporal_response: HttpResponse | None = None) -> HttpResponse:
        response = super().create_response(request, data, status=status, temporal_response=temporal_response)
        add_never_cache_headers(response)
        return response


api = RoomsAPI(
    title="Tessera encrypted rooms",
    version="1",
    description="Ciphertext-only storage and relay for UR1 rooms (see e2ee.md). Session cookie and CSRF token.",
    urls_namespace="messaging_api",
    auth=django_auth,
    docs_url=None,  # the Swagger page loads scripts from a CDN, which our CSP forbids; the JSON is enough
    openapi_url="/openapi.json",
)
router = Router()
MAX_PAGE = 200


@api.exception_handler(SchemaError)
def _schema_error(request: HttpRequest, exc: SchemaError) -> HttpResponse:
    # 400 with where and what, never the offending value (it may be ciphertext or a key).
    errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors]
    return api.create_response(request, {"detail": errors}, status=400)


@api.exception_handler(DjangoValidationError)
def _service_error(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    return api.create_response(request, {"detail": " ".join(exc.messages)}, status=400)


@api.exception_handler(services.StaleCommit)
def _stale(request: HttpRequest, exc: services.StaleCommit) -> HttpResponse:
    return api.create_response(request, {"detail": str(services.ERROR_STALE)}, status=409)


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return api.create_response(request, {"detail": "Forbidden"}, status=403)


@api.exception_handler(Http404)
def _missing(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api.create_response(request, {"detail": "Not Found"}, status=404)


def _user(request: HttpRequest) -> Any:
    return perms.access_room_list(request.user)


# --- devices ------------------------------------------------------------------------------------

@router.get("/devices", response=MyDevicesOut, url_name="devices")
def my_devices(request: HttpRequest) -> dict[str, Any]:
    user = _user(request)
    latest = selectors.latest_device_lists([user.pk])
    return {"user": selectors.ur1_user_id(user), "device_list": latest[0].body if latest else None,
            "devices": [{"id": d.device_id, "revoked": d.revoked_at is not None}
                        for d in Device.objects.filter(user=user).order_by("created_at", "pk")]}


@router.post("/devices", response={201: MyDevicesOut, 400: Error}, url_name="devices_publish")
def publish_device_list(request: HttpRequest, payload: DeviceListBody) -> Status[dict[str, Any]]:
    """Register or revoke devices: publish the next signed device list (a revoked device is one left out).

    Revoking a device ends every other session of the account, the revoked device's among them
    (the server cannot tell which session is which device); this one stays logged in.
    """
    user = _user(request)
    with transaction.atomic():
        services.device_list_publish(actor=user, body=payload.model_dump())
        fresh = user.get_session_auth_hash()
        if request.session.get(HASH_SESSION_KEY) != fresh:
            # Saved in the same transaction, so that this browser's sockets, re-checked once it
            # commits, find it still valid. No new session key: they are bound to this one.
            request.session[HASH_SESSION_KEY] = fresh
            request.session.save()
    return Status(201, my_devices(request))


# --- rooms --------------------------------------------------------------------------------------

@router.get("/rooms", response=RoomsOut, url_name="rooms")
def rooms(request: HttpRequest) -> dict[str, Any]:
    return {"rooms": [{"code": r["room"].code, "room_id": r["room"].room_id, "kind": r["room"].kind,
                       "joined": r["joined"], "unread": r["unread"], "epoch": r["room"].epoch,
                       "last_seq": r["room"].last_seq if r["joined"] else 0,
                       "meta": (r["room"].meta or None) if r["joined"] else None}
                      for r in selectors.room_list_for(_user(request))]}


@router.post("/rooms", response={201: RoomDetailOut, 400: Error, 403: Error}, url_name="rooms_create")
def room_create(request: HttpRequest, payload: RoomCreateIn) -> Status[dict[str, Any]]:
    local, unit, grievance = perms.access_room_parent(request.user, payload.kind, payload.parent)
    room = services.room_create(actor=request.user, kind=payload.kind, local=local, unit=unit,  # type: ignore[arg-type]
                                grievance=grievance, room_id=payload.room_id,
                                retention_days=payload.retention_days, verified_only=payload.verified_only)
    return Status(201, _detail(room))


def _detail(room: Any) -> dict[str, Any]:
    changes = selectors.pending_changes(room)
    admins = room.members.filter(role="admin").select_related("user")
    return {"code": room.code, "room_id": room.room_id, "kind": room.kind, "epoch": room.epoch,
            "head_commit": room.head_commit, "last_seq": room.last_seq, "retention_days": room.retention_days,
            "verified_only": room.verified_only, "admins": sorted(selectors.ur1_user_id(m.user) for m in admins),
            "admins_entitled": sorted(selectors.ur1_user_id(u) for u in selectors.room_admins_entitled(room)),
            "pending_add": changes["add"], "pending_remove": changes["remove"], "pending_devices": changes["devices"],
            "rotation_due": selectors.rotation_due(room), "meta": room.meta or None}


@router.get("/rooms/{code}", response=RoomDetailOut, url_name="room")
def room_detail(request: HttpRequest, code: UUID) -> dict[str, Any]:
    """The room's head, and who the roll adds or removes that no commit has yet (a pending rotation)."""
    return _detail(perms.access_room(request.user, code))


@router.get("/rooms/{code}/device-lists", response=DeviceListsOut, url_name="room_device_lists")
def room_device_lists(request: HttpRequest, code: UUID, history: bool = False) -> dict[str, Any]:
    """The newest device list of everyone in the room or due to join it: what an admin's client
    needs to build the next commit (each list is signed; the client checks it).

    With `history`, every version of the lists of everyone any commit of the room ever listed too:
    what a client verifying the chain from genesis needs for members who left or devices since
    revoked. A member already sees those users and keys in the commits themselves.
    """
    room = perms.access_room(request.user, code)
    ids = set(selectors.room_entitled_users(room).values_list("pk", flat=True))
    ids |= set(room.members.values_list("user_id", flat=True))
    if history:
        return {"device_lists": [dl.body for dl in selectors.room_device_list_history(room, ids)]}
    return {"device_lists": [dl.body for dl in selectors.latest_device_lists(sorted(ids))]}


@router.get("/rooms/{code}/commits", response=CommitsOut, url_name="room_commits")
def room_commits(request: HttpRequest, code: UUID, after: int = Query(-1, ge=-1)) -> dict[str, Any]:
    room = perms.access_room(request.user, code)
    found = Commit.objects.filter(room=room, epoch__gt=after).order_by("epoch")[:MAX_PAGE]
    return {"commits": [c.body for c in found]}


@router.post("/rooms/{code}/commits", response={201: CommitAccepted, 400: Error, 409: Error},
             url_name="room_commits_post")
def room_commit_post(request: HttpRequest, code: UUID, payload: CommitIn) -> Status[dict[str, Any]]:
    # Before genesis only the room's entitled admins see it (access_room), so only they start the chain.
    room = perms.access_room(request.user, code)
    saved = services.commit_post(actor=request.user, room=room, body=payload.commit.model_dump(),  # type: ignore[arg-type]
                                 wraps=[w.model_dump() for w in payload.wraps])
    return Status(201, {"epoch": saved.epoch, "commit_id": saved.commit_id})


@router.put("/rooms/{code}/meta", response={200: RoomDetailOut, 400: Error, 403: Error, 409: Error},
            url_name="room_meta")
def room_meta_put(request: HttpRequest, code: UUID, payload: RoomMeta) -> dict[str, Any]:
    """An admin's device seals the room's name and topic under K_m of the current epoch."""
    room = perms.access_room_admin(request.user, code)
    room = services.room_meta_set(actor=request.user, room=room, blob=payload.model_dump())  # type: ignore[arg-type]
    return _detail(room)


@router.get("/rooms/{code}/messages", response=MessagesOut, url_name="room_messages")
def room_messages(request: HttpRequest, code: UUID, after: int = Query(0, ge=0),
                  limit: int = Query(100, ge=1, le=MAX_PAGE)) -> dict[str, Any]:
    """Everything after sequence number `after`, in order: what a client fetches after reconnecting."""
    room = perms.access_room(request.user, code)
    found = selectors.messages_after(room, after, limit)
    return {"messages": [{"seq": m.seq, "envelope": m.envelope} for m in found], "last_seq": room.last_seq}


@router.post("/rooms/{code}/messages", response={201: Sent, 400: Error, 409: Error}, url_name="room_messages_post")
def room_message_post(request: HttpRequest, code: UUID, payload: Envelope) -> Status[dict[str, Any]]:
    room = perms.access_room_to_post(request.user, code)
    saved = services.message_post(actor=request.user, room=room, envelope=payload.model_dump())  # type: ignore[arg-type]
    return Status(201, {"seq": saved.seq})


@router.post("/rooms/{code}/read", response=ReadOut, url_name="room_read")
def room_read(request: HttpRequest, code: UUID, payload: ReadIn) -> dict[str, Any]:
    room = perms.access_room(request.user, code)
    return {"read_seq": services.read_mark(actor=request.user, room=room, seq=payload.seq)}  # type: ignore[arg-type]


@router.post("/rooms/{code}/seats", response={200: SeatOut, 400: Error, 403: Error}, url_name="room_seats")
def room_seats(request: HttpRequest, code: UUID, payload: SeatIn) -> dict[str, Any]:
    """Committees: who should be in the room. An admin's client then commits the pending change."""
    room, member = perms.access_committee_seat(request.user, code, payload.member)
    changed = services.committee_seat_set(actor=request.user, room=room, member=member,  # type: ignore[arg-type]
                                          seated=payload.seated)
    pending = selectors.pending_changes(room)
    return {"changed": changed, "pending_add": pending["add"], "pending_remove": pending["remove"]}


# --- wraps and backup ----------------------------------------------------------------------------

@router.get("/wraps", response=WrapsOut, url_name="wraps")
def my_wraps(request: HttpRequest, device: str = Query(..., pattern=r"^[A-Za-z0-9_-]{22}$"),
             after_epoch: int = Query(-1, ge=-1)) -> dict[str, Any]:
    """The wraps sealed to one of the caller's own devices, in rooms the caller may read now."""
    user = _user(request)
    owned = perms.access_own_device(user, device)
    found = (Wrap.objects.filter(to_device=owned, epoch__gt=after_epoch,
                                 room__in=selectors.rooms_visible_to(user)).order_by("room_id", "epoch")[:MAX_PAGE])
    return {"wraps": [w.body for w in found]}


@router.get("/backup/params", response=BackupParamsOut, url_name="backup_params")
def backup_params(request: HttpRequest) -> dict[str, Any]:
    found = BackupParams.objects.filter(user=_user(request)).first()
    return {"params": found.body if found else None}


@router.put("/backup/params", response={200: BackupParamsOut, 400: Error}, url_name="backup_params_put")
def backup_params_put(request: HttpRequest, payload: BackupParamsIn) -> dict[str, Any]:
    saved = services.backup_params_set(actor=_user(request), body=payload.params.model_dump())
    return {"params": saved.body}


@router.get("/backup/items", response=BackupItemsOut, url_name="backup_items")
def backup_items(request: HttpRequest) -> dict[str, Any]:
    return {"items": [i.body for i in BackupItem.objects.filter(user=_user(request)).order_by("pk")]}


@router.put("/backup/items", response={200: BackupItemBody, 400: Error}, url_name="backup_items_put")
def backup_item_put(request: HttpRequest, payload: BackupItemBody) -> dict[str, Any]:
    return services.backup_item_put(actor=_user(request), body=payload.model_dump()).body


api.add_router("/", router)
api.add_router("/", people_router)
