"""Writes on grievances. Callers have checked access with grievances/permissions.py first.

Every service is atomic, writes the case's timeline and the audit log, and sends notifications
only after commit. Notifications and emails name no details: a case number at most.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from grievances.deadlines import add_days
from grievances.evidence import check_upload
from grievances.models import (
    AdverseAction,
    CaseCounter,
    Category,
    Custody,
    Event,
    Evidence,
    Grievance,
    Grievant,
    Letter,
    LetterRequest,
    Step,
)
from grievances.permissions import can_be_assigned, can_work
from membership.models import BargainingUnit, Local, Member, User
from union import documents
from union.audit import audit_record
from union.files import new_name
from union.realtime import notify_user, notify_users
from union.signals import roll_changed

ERR_NOT_DRAFT = _("Only a draft can be submitted.")
ERR_NOT_OPEN = _("This case is not open.")
ERR_NOT_CLOSED = _("Only a closed case can be reopened.")
ERR_STEP = _("A case moves one step forward at a time; it cannot go from %(current)s to %(new)s.")
ERR_LAST_STEP = _("This case is already at its last step.")
ERR_AMOUNT = _("A settlement needs the amount agreed.")
ERR_NO_AMOUNT = _("Only a settlement has an amount.")
ERR_STEWARD = _("A steward must be an officer of this local who works grievances.")
ERR_GRIEVANTS = _("A case needs at least one grievant from this local.")
ERR_EMPTY = _("Write something first.")
ERR_CORRECT_ONCE = _("Correct the original entry, not a correction.")
NOTE_KINDS = (Event.Kind.NOTE, Event.Kind.SHARED_NOTE, Event.Kind.MEETING, Event.Kind.EMPLOYER_RESPONSE,
              Event.Kind.DOCUMENT)


class GrievanceError(Exception):
    """A change the workflow does not allow; the message is safe to show."""


def _event(grievance: Grievance, kind: str, actor: User | None, *, body: str = "", shared: bool = False,
           occurred_on: date | None = None, corrects: Event | None = None, **data: Any) -> Event:
    return Event.objects.create(grievance=grievance, kind=kind, author=actor, body=body or None, shared=shared,
                                occurred_on=occurred_on, corrects=corrects, data=data)


def _tell(users: list[User], text: Any, grievance: Grievance) -> None:
    """In-app notice to each user, in their language, naming the case number only; and an email
    that names nothing at all, only a link to log in (union.emails.account_news)."""
    from union import emails

    texts = {}
    for user in users:
        if user is None or not user.is_active:
            continue
        with translation.override(user.language or "en"):
            texts[user.pk] = str(text) % {"number": grievance.number or ""}
        transaction.on_commit(partial(emails.account_news, user))
    notify_users(texts, kind="grievance.update", text=texts, url=f"/grievances/{grievance.code}/")


def _grievant_users(grievance: Grievance) -> list[User]:
    return [g.member.user for g in Grievant.objects.filter(grievance=grievance).select_related("member__user")
            if g.member.user is not None]


def _others(grievance: Grievance, actor: User) -> list[User]:
    """The grievants and the assigned steward, but not whoever made the change.

    A steward who no longer works the local's grievances (role lost, suspended...) is not told.
    """
    steward = grievance.steward if grievance.steward and can_be_assigned(grievance.steward, grievance.local) else None
    users = [*_grievant_users(grievance), steward]
    return [u for u in users if u is not None and u.pk != actor.pk]


def _lock(grievance: Grievance) -> Grievance:
    return Grievance.objects.select_for_update(of=("self",)).select_related("unit", "step", "local").get(pk=grievance.pk)


def _due(step: Step, start: date, grievance: Grievance) -> date:
    return add_days(start, step.deadline_days, kind=step.day_kind, country=grievance.country)


@transaction.atomic
def grievance_create(*, actor: User, local: Local, category: Category, grievants: list[Member], title: str,
                     narrative: str = "", remedy: str = "", unit: BargainingUnit | None = None,
                     incident_date: date | None = None, contract_article: str = "", sensitive: bool = False,
                     letter_may_name: bool = False, confidentiality: str = Grievance.Confidentiality.NORMAL,
                     ) -> Grievance:
    """A draft case, by a member for themselves or by a steward on a member's behalf."""
    if not grievants or any(m.local_id != local.pk for m in grievants):
        raise GrievanceError(ERR_GRIEVANTS)
    grievance = Grievance(
        union=local.union, local=local, unit=unit, employer=unit.employer if unit else None, category=category,
        filed_by=actor, title=title, narrative=narrative or None, remedy=remedy or None,
        incident_date=incident_date, contract_article=contract_article, sensitive=sensitive,
        letter_may_name=letter_may_name, confidentiality=confidentiality,
    )
    grievance.full_clean(exclude=["grievants"])
    grievance.save()
    Grievant.objects.bulk_create([Grievant(grievance=grievance, member=m) for m in grievants])
    audit_record(actor, "grievance.draft", grievance, local_id=local.pk, grievants=len(grievants))
    return grievance


@transaction.atomic
def grievance_update_draft(*, actor: User, grievance: Grievance, **fields: Any) -> Grievance:
    grievance = _lock(grievance)
    if grievance.status != Grievance.Status.DRAFT:
        raise GrievanceError(ERR_NOT_DRAFT)
    for name, value in fields.items():
        setattr(grievance, name, value)
    grievance.full_clean(exclude=["grievants"])
    grievance.save()
    audit_record(actor, "grievance.draft_edit", grievance, local_id=grievance.local_id, fields=sorted(fields))
    return grievance


def _next_number(grievance: Grievance) -> str:
    year = timezone.localdate().year
    counter, _created = CaseCounter.objects.select_for_update().get_or_create(union=grievance.union, year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"GRV-{year}-{counter.last:04d}"


@transaction.atomic
def grievance_submit(*, actor: User, grievance: Grievance) -> Grievance:
    """File the draft: it gets its number, enters the first step and its deadline starts."""
    grievance = _lock(grievance)
    if grievance.status != Grievance.Status.DRAFT:
        raise GrievanceError(ERR_NOT_DRAFT)
    first = Step.objects.filter(union=grievance.union).order_by("position").first()
    today = timezone.localdate()
    grievance.number = _next_number(grievance)
    grievance.status, grievance.opened_at = Grievance.Status.OPEN, timezone.now()
    grievance.step, grievance.step_started = first, today
    grievance.due_date = _due(first, today, grievance) if first else None
    grievance.save()
    _event(grievance, Event.Kind.FILED, actor, shared=True, step=first.slug if first else "")
    audit_record(actor, "grievance.submit", grievance, local_id=grievance.local_id, number=grievance.number)
    _tell(_grievant_users(grievance), _("Case %(number)s was filed."), grievance)
    return grievance


@transaction.atomic
def grievance_advance(*, actor: User, grievance: Grievance, step: Step, triggered_on: date | None = None) -> Grievance:
    """Move an open case to the next step; its deadline counts from `triggered_on` (default today)."""
    grievance = _lock(grievance)
    if grievance.status != Grievance.Status.OPEN:
        raise GrievanceError(ERR_NOT_OPEN)
    current = grievance.step
    assert current is not None, "an open case sits at one of its union's steps"
    following = Step.objects.filter(union=grievance.union, position__gt=current.position).order_by("position")
    nxt = following.first()
    if nxt is None:
        raise GrievanceError(ERR_LAST_STEP)
    if step.pk != nxt.pk:
        raise GrievanceError(ERR_STEP % {"current": current.name, "new": step.name})
    start = triggered_on or timezone.localdate()
    grievance.step, grievance.step_started, grievance.due_date = step, start, _due(step, start, grievance)
    grievance.save(update_fields=["step", "step_started", "due_date"])
    moved: dict[str, Any] = {"from": current.slug, "to": step.slug}  # "from" is a keyword: passed as a dict
    _event(grievance, Event.Kind.STEP, actor, shared=True, occurred_on=start, **moved)
    audit_record(actor, "grievance.advance", grievance, local_id=grievance.local_id, step=step.slug)
    _tell(_others(grievance, actor), _("Case %(number)s moved to its next step."), grievance)
    return grievance


@transaction.atomic
def grievance_close(*, actor: User, grievance: Grievance, outcome: str, amount: Decimal | None = None,
                    summary: str = "") -> Grievance:
    grievance = _lock(grievance)
    if grievance.status != Grievance.Status.OPEN:
        raise GrievanceError(ERR_NOT_OPEN)
    outcome = Grievance.Outcome(outcome)
    if outcome == Grievance.Outcome.SETTLED and amount is None:
        raise GrievanceError(ERR_AMOUNT)
    if outcome != Grievance.Outcome.SETTLED and amount is not None:
        raise GrievanceError(ERR_NO_AMOUNT)
    grievance.status, grievance.outcome, grievance.settlement_amount = Grievance.Status.CLOSED, outcome, amount
    grievance.closed_at, grievance.due_date = timezone.now(), None
    grievance.save(update_fields=["status", "outcome", "settlement_amount", "closed_at", "due_date"])
    _event(grievance, Event.Kind.OUTCOME, actor, body=summary, shared=True, outcome=str(outcome),
           amount=str(amount) if amount is not None else None)
    audit_record(actor, "grievance.close", grievance, local_id=grievance.local_id, outcome=str(outcome))
    _tell(_grievant_users(grievance), _("Case %(number)s was closed."), grievance)
    return grievance


@transaction.atomic
def grievance_reopen(*, actor: User, grievance: Grievance, reason: str) -> Grievance:
    grievance = _lock(grievance)
    if grievance.status != Grievance.Status.CLOSED:
        raise GrievanceError(ERR_NOT_CLOSED)
    if not reason.strip():
        raise GrievanceError(ERR_EMPTY)
    today = timezone.localdate()
    previous = grievance.outcome
    grievance.status, grievance.outcome, grievance.settlement_amount, grievance.closed_at = (
        Grievance.Status.OPEN, "", None, None)
    grievance.step_started = today
    grievance.due_date = _due(grievance.step, today, grievance) if grievance.step else None
    grievance.save()
    _event(grievance, Event.Kind.REOPENED, actor, body=reason, shared=True, previous=previous)
    audit_record(actor, "grievance.reopen", grievance, local_id=grievance.local_id, previous=previous)
    return grievance


@transaction.atomic
def grievance_assign(*, actor: User, grievance: Grievance, steward: User) -> Grievance:
    """Assign (or reassign) the steward; they must work grievances in this local."""
    grievance = _lock(grievance)
    if not can_be_assigned(steward, grievance.local):
        raise GrievanceError(ERR_STEWARD)
    previous = grievance.steward_id
    grievance.steward = steward
    grievance.save(update_fields=["steward"])
    # The account id, resolved to today's pseudonym when the timeline is shown: a handle written
    # here would outlive the steward's erasure in an append-only timeline.
    _event(grievance, Event.Kind.ASSIGNMENT, actor, shared=True, steward_id=steward.pk)
    roll_changed.send(sender=Grievance, local_id=grievance.local_id, grievance_id=grievance.pk)
    audit_record(actor, "grievance.assign", grievance, local_id=grievance.local_id, steward_id=steward.pk,
                 previous_id=previous)
    _tell([steward], _("You were assigned case %(number)s."), grievance)
    _tell([u for u in _grievant_users(grievance) if u.pk != steward.pk], _("A steward now works on case %(number)s."),
          grievance)
    return grievance


@transaction.atomic
def event_add(*, actor: User, grievance: Grievance, kind: str, body: str, shared: bool = False,
              occurred_on: date | None = None) -> Event:
    """A note, meeting, employer response or document entry. Shared notes reach the grievants."""
    kind = Event.Kind(kind)
    if kind not in NOTE_KINDS:
        raise GrievanceError(ERR_EMPTY)
    if not body.strip():
        raise GrievanceError(ERR_EMPTY)
    shared = shared or kind == Event.Kind.SHARED_NOTE
    if kind == Event.Kind.NOTE:
        shared = False
    event = _event(grievance, kind, actor, body=body, shared=shared, occurred_on=occurred_on)
    audit_record(actor, "grievance.event", grievance, local_id=grievance.local_id, kind=str(kind), shared=shared)
    if shared:
        _tell(_others(grievance, actor), _("There is news on case %(number)s."), grievance)
    return event


@transaction.atomic
def event_correct(*, actor: User, event: Event, body: str) -> Event:
    """Correct an entry by adding one: the original stays as it was written."""
    if event.kind == Event.Kind.CORRECTION:
        raise GrievanceError(ERR_CORRECT_ONCE)
    if not body.strip():
        raise GrievanceError(ERR_EMPTY)
    correction = _event(event.grievance, Event.Kind.CORRECTION, actor, body=body, shared=event.shared, corrects=event)
    audit_record(actor, "grievance.correct", event.grievance, local_id=event.grievance.local_id)
    return correction


@transaction.atomic
def adverse_action_add(*, actor: User, grievance: Grievance, kind: str, occurred_on: date,
                       description: str = "") -> AdverseAction:
    action = AdverseAction.objects.create(grievance=grievance, kind=AdverseAction.Kind(kind), occurred_on=occurred_on,
                                          description=description or None, recorded_by=actor)
    audit_record(actor, "grievance.adverse_action", grievance, local_id=grievance.local_id, kind=kind)
    return action


def evidence_upload(*, actor: User, grievance: Grievance, name: str, content: bytes) -> Evidence:
    """Check, clean and store an upload (raises EvidenceRejected). Nothing is left behind on failure."""
    clean = check_upload(name, content)
    evidence = Evidence(grievance=grievance, filename=clean.name, content_type=clean.content_type,
                        size=len(clean.content), sha256=hashlib.sha256(clean.content).hexdigest(),
                        storage_name=new_name(), uploaded_by=actor)
    storage = Evidence._meta.get_field("storage_name")
    storage.write(evidence, clean.content)
    try:
        with transaction.atomic():
            evidence.save()
            Custody.objects.create(evidence=evidence, action=Custody.Action.UPLOAD, actor=actor)
            _event(grievance, Event.Kind.DOCUMENT, actor, shared=False, evidence=str(evidence.code),
                   sha256=evidence.sha256)
            audit_record(actor, "evidence.upload", evidence, local_id=grievance.local_id, sha256=evidence.sha256)
    except BaseException:
        storage.remove(evidence)
        raise
    return evidence


@transaction.atomic
def evidence_read(*, actor: User, evidence: Evidence) -> bytes:
    """The decrypted file, with the download recorded in the chain of custody."""
    Custody.objects.create(evidence=evidence, action=Custody.Action.DOWNLOAD, actor=actor)
    audit_record(actor, "evidence.download", evidence, local_id=evidence.grievance.local_id)
    return Evidence._meta.get_field("storage_name").load(evidence)


def letter_signer(grievance: Grievance, actor: User) -> str:
    """The name a letter is signed with: the display name of the case's steward (or of whoever
    issues it when no steward is assigned), which is the pseudonym they chose to show in the union.

    Never the handle: that is half of a login, and a letter goes to the employer. Never the legal
    name either: a steward has not consented to print it (only grievants give that consent, per case).
    An account with no roll entry, or an erased one, signs as the union alone (empty string).
    A steward who no longer works the case (demoted, suspended, resigned) does not sign: the case
    may stay assigned to them until it is reassigned, but the letter must not present them to the
    employer as acting for the union.
    """
    steward = grievance.steward
    signer = steward if steward is not None and can_work(steward, grievance) else actor
    member = Member.objects.filter(user=signer, erased_at__isnull=True).only("pseudonym").first()
    return member.pseudonym if member is not None else ""


def letter_issue(*, actor: User, grievance: Grievance, facts: str) -> Letter:
    """Render the step letter to PDF and keep it as the next version of the case's letter document.

    The PDF goes through the shared document layer (union/documents.py): encrypted on disk, hashed,
    custody recorded, never changed. The caller checked that `actor` works the case.
    """
    names = []
    if grievance.letter_may_name and grievance.confidentiality == Grievance.Confidentiality.NORMAL:
        names = [m.legal_name or m.pseudonym for m in grievance.grievants.all()]
    with transaction.atomic():
        grievance = _lock(grievance)
        with translation.override("en"):
            document = documents.document_render(
                kind=Letter.DOCUMENT_KIND, owner_code=grievance.code, actor_id=actor.pk,
                template="grievances/pdf/letter.html", context={
                    "grievance": grievance, "facts": facts, "names": names, "remedy": grievance.remedy or "",
                    "signer": letter_signer(grievance, actor), "issued_on": timezone.localdate(),
                    "title": gettext("Grievance %(number)s") % {"number": grievance.number},
                })
        letter = Letter.objects.create(grievance=grievance, version=document.version, step=grievance.step,
                                       document=document, issued_by=actor)
        _event(grievance, Event.Kind.LETTER, actor, shared=True, version=letter.version, sha256=document.sha256)
        audit_record(actor, "grievance.letter", grievance, local_id=grievance.local_id, version=letter.version,
                     sha256=document.sha256)
    return letter


@transaction.atomic
def letter_request(*, actor: User, grievance: Grievance, facts: str) -> LetterRequest:
    """Ask for a letter: the facts are kept encrypted and the rendering runs as a background task.

    The task is enqueued inside this transaction: with the database backend its row commits with
    the request or not at all, so a request is never left without its task (nor a task without its
    request). With the immediate backend (development, tests) the letter is issued before this returns.
    """
    from grievances.tasks import issue_letter

    if not facts.strip():
        raise GrievanceError(ERR_EMPTY)
    request = LetterRequest.objects.create(grievance=grievance, facts=facts, requested_by=actor)
    audit_record(actor, "grievance.letter_request", grievance, local_id=grievance.local_id)
    issue_letter.enqueue(request_id=request.pk)
    request.refresh_from_db(fields=["status", "letter"])
    return request


def letter_request_run(*, request_id: int) -> LetterRequest | None:
    """Issue the letter a request asks for (the background task's body). Idempotent: a request
    already done or failed is left alone, so a task run twice issues one letter. A failure marks the
    request failed (the page says so) and is raised again, so the task is recorded as failed too."""
    failure: Exception | None = None
    with transaction.atomic():
        request = (LetterRequest.objects.select_for_update(of=("self",)).select_related("grievance", "requested_by")
                   .filter(pk=request_id, status=LetterRequest.Status.QUEUED).first())
        if request is None:
            return None
        requester = request.requested_by
        # Checked again here, not only when asked: the queue may run the task later, and a steward
        # who lost the case (or their role, or their account) in between must not issue a letter.
        if requester is None or not requester.is_active or not can_work(requester, request.grievance):
            request.status, request.facts = LetterRequest.Status.FAILED, None
            request.save(update_fields=["status", "facts"])
            audit_record(None, "grievance.letter_refused", request.grievance, local_id=request.grievance.local_id)
            return request
        try:
            with transaction.atomic():
                letter = letter_issue(actor=requester, grievance=request.grievance, facts=request.facts or "")
        except Exception as exc:  # noqa: BLE001 - recorded on the request, then raised again below
            failure = exc
            request.status = LetterRequest.Status.FAILED
            request.save(update_fields=["status"])
        else:
            request.status, request.letter, request.facts = LetterRequest.Status.DONE, letter, None
            request.save(update_fields=["status", "letter", "facts"])
        if requester.is_active:
            text = (_("The letter for case %(number)s could not be prepared.") if failure
                    else _("The letter for case %(number)s is ready."))
            with translation.override(requester.language or "en"):
                notify_user(requester.pk, kind="grievance.letter", text=str(text) % {"number": request.grievance.number},
                            url=reverse("grievances:work_letters", kwargs={"code": request.grievance.code}))
    if failure is not None:
        raise failure
    return request


def letter_read(*, actor: User, letter: Letter) -> bytes:
    """The issued letter's PDF, checked against its hash; the download is in the document's custody
    and the case's audit log. The caller checked access."""
    grievance = letter.grievance
    audit_record(actor, "grievance.letter_download", grievance, local_id=grievance.local_id, version=letter.version)
    return documents.document_read(document=letter.document, actor_id=actor.pk)


def grievance_record_view(*, actor: User, grievance: Grievance, page: str) -> None:
    """Record that an officer opened a page that gathers evidence about a person (e.g. the register)."""
    audit_record(actor, f"grievance.{page}_view", grievance, local_id=grievance.local_id)


def grievance_export_record(*, actor: User, local: Local, rows: int) -> None:
    """Audit a CSV export of the local's cases (dashboard): who, which local, how many rows."""
    audit_record(actor, "grievance.export", local, local_id=local.pk, rows=rows)
