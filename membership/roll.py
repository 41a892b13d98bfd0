"""The roll: keyset pages, search through the blind index, CSV import (parse and check) and export.

Nothing here checks access: views call `membership.permissions.access_roll_local` /
`access_roll_member` first. Writes
live in `membership.services` (roll block at the end).
"""

from __future__ import annotations

import base64
import binascii
import csv
import json
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, TypedDict

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.db.models.lookups import BuiltinLookup
from django.utils.translation import gettext as _

from membership.models import BargainingUnit, Local, Member, RoleGrant, normalize_phone
from membership.names import ERR_UNSAFE_CHARACTERS, unsafe_characters
from union import crypto
from union.csv import FORMULA_STARTS
from union.csv import neutralise as neutralise  # re-exported: import and tests use it here

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

PAGE_SIZE = 50
IMPORT_MAX_BYTES = 2 * 1024 * 1024
IMPORT_MAX_ROWS = 20000
EXPORT_CHUNK = 2000
# Columns of the CSV file, in order; export writes them and import reads them (by header name).
COLUMNS = ("pseudonym", "legal_name", "email", "phone", "unit", "languages", "job_title", "status", "dues",
           "dues_last_paid", "role")
IMPORT_REQUIRED = ("pseudonym",)
IMPORT_STATUSES = (Member.Status.ACTIVE, Member.Status.PENDING, Member.Status.LAPSED)
PHONE_QUERY = re.compile(r"^\+?[\d\s().-]{6,}$")
C1_CONTROLS = re.compile("[\x80-\x9f]")
# A language as the roll stores it: an ISO 639 code with an optional region or script
# ("sw", "fil", "pt-br", "zh-hant"). Anything else would be noise, and the column holds 100 characters.
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")
LANGUAGES_MAX = 100


# --- listing ----------------------------------------------------------------------------------

class RoleAnnotation(TypedDict):
    role: str | None


def with_role(qs: QuerySet[Member]) -> QuerySet[WithAnnotations[Member, RoleAnnotation]]:
    """Annotate each member with their role in their own local (None without an account)."""
    role = RoleGrant.objects.filter(user_id=OuterRef("user_id"), local_id=OuterRef("local_id")).values("role")[:1]
    return qs.annotate(role=Subquery(role))


def roll_queryset(local: Local, filters: dict[str, Any]) -> QuerySet[Member]:
    """The local's members matching `filters` (cleaned RollFilterForm data), in roll order."""
    # union_id lets the (union, email_index) and (union, phone_index) unique indexes serve searches.
    qs = Member.objects.filter(union_id=local.union_id, local=local, erased_at__isnull=True)
    if filters.get("unit"):
        qs = qs.filter(unit=filters["unit"])
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("dues"):
        qs = qs.filter(dues=filters["dues"])
    if filters.get("language"):
        qs = qs.filter(languages__contains=f",{filters['language']},")
    if filters.get("role"):
        qs = qs.filter(user__role_grants__local=local, user__role_grants__role=filters["role"])
    if filters.get("q"):
        qs = qs.filter(search_q(filters["q"]))
    return with_role(qs.select_related("unit__employer", "unit__client")).order_by("pseudonym", "id")


def search_q(text: str) -> Q:
    """Pseudonym contains the text; an address or a number also matches exactly through the blind index.

    Email and phone are encrypted, so they match only as a whole (normalised) value: the database
    can compare HMACs, never parts of an address.
    """
    text = text.strip()
    if "@" in text:
        # Pseudonyms hold no "@" worth a scan: an address goes straight to the blind index.
        return Q(email_index=crypto.blind_index(text, purpose="email"))
    q = Q(pseudonym__icontains=text)
    if PHONE_QUERY.match(text):
        phone = normalize_phone(text)
        if phone:
            q |= Q(phone_index=crypto.blind_index(phone, purpose="phone"))
    return q


def encode_cursor(member: Member) -> str:
    raw = json.dumps([member.pseudonym, member.pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[str, int] | None:
    """The (pseudonym, id) in a cursor, or None for anything malformed (treated as the first page)."""
    try:
        value = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)
            and isinstance(value[1], int) and not isinstance(value[1], bool)):
        return value[0], value[1]
    return None


@dataclass
class KeysetPage:
    members: list[Member]
    next_cursor: str | None
    prev_cursor: str | None


class RowAfter(TupleGreaterThan):
    """`(a, b) > (x, y)` as one row-value comparison on every database we run on.

    Django writes tuple lookups on SQLite as `a > x OR (a = x AND b > y)`, which no index can
    seek; SQLite has compared row values since 3.15 (2016), and seeks an index with them as
    PostgreSQL does.
    """

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, Any]:
        return BuiltinLookup.as_sql(self, compiler, connection)


class RowBefore(TupleLessThan):
    """`(a, b) < (x, y)`, as RowAfter."""

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, Any]:
        return BuiltinLookup.as_sql(self, compiler, connection)


def roll_key() -> Tuple:
    return Tuple(F("pseudonym"), F("id"))


def keyset_page(qs: QuerySet[Member], *, after: str = "", before: str = "", size: int = PAGE_SIZE) -> KeysetPage:
    """One page of `qs` ordered by (pseudonym, id), in exactly one query whatever the roll size.

    Offset pagination reads and throws away every row before the page; a keyset seeks the index
    (`member_roll_order`, or the status and unit ones under a filter) straight to the cursor with a
    row-value comparison `(pseudonym, id) > (%s, %s)`, so page 2,000 costs what page 1 costs, in
    either direction.
    """
    after_key, before_key = decode_cursor(after) if after else None, decode_cursor(before) if before else None
    if before_key is not None:
        rows = list(qs.filter(RowBefore(roll_key(), before_key)).order_by("-pseudonym", "-id")[: size + 1])
        more_before = len(rows) > size
        members = rows[:size][::-1]
        return KeysetPage(members, encode_cursor(members[-1]) if members else None,
                          encode_cursor(members[0]) if more_before and members else None)
    if after_key is not None:
        qs = qs.filter(RowAfter(roll_key(), after_key))
    rows = list(qs[: size + 1])
    members = rows[:size]
    return KeysetPage(members, encode_cursor(members[-1]) if len(rows) > size else None,
                      encode_cursor(members[0]) if after_key is not None and members else None)


# --- export -----------------------------------------------------------------------------------

EXPORT_VALUES = ("pseudonym", "legal_name", "email", "phone", "unit__employer__name", "unit__client__name",
                 "unit__project", "unit__country", "languages", "job_title", "status", "dues", "dues_last_paid", "role")


def export_row(values: tuple[Any, ...]) -> list[str]:
    """One CSV row from `EXPORT_VALUES`; the unit is written as its label, which import reads back."""
    (pseudonym, legal_name, email, phone, employer, client, project, country, languages, job_title, status,
     dues, last_paid, role) = values
    unit = " · ".join(p for p in (employer, client, project, country) if p)
    return [pseudonym, legal_name or "", email or "", phone or "", unit, " ".join(c for c in languages.split(",") if c),
            job_title, status, dues, last_paid.isoformat() if last_paid else "", role or ""]


def export_rows(qs: QuerySet[Member]) -> Iterator[list[str]]:
    """The rows of the CSV file for the members of `qs`, read from the database a chunk at a time.

    Plain tuples from `.iterator(chunk_size=...)` (no model instances): memory stays flat whether
    the roll has a hundred rows or a hundred thousand. `union.csv.CsvResponse` neutralises the
    cells and streams them, under Daphne as an async iterator.
    """
    for values in qs.values_list(*EXPORT_VALUES).iterator(chunk_size=EXPORT_CHUNK):
        yield export_row(values)


# --- import -----------------------------------------------------------------------------------

class ImportFileError(Exception):
    """The whole file is unusable; the message is safe to show to the officer."""


@dataclass
class ImportRow:
    line: int
    pseudonym: str = ""
    legal_name: str = ""
    email: str = ""
    phone: str = ""
    unit: BargainingUnit | None = None
    languages: list[str] = field(default_factory=list)
    job_title: str = ""
    status: str = Member.Status.ACTIVE
    dues: str = Member.Dues.ARREARS
    dues_last_paid: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class ImportPreview:
    rows: list[ImportRow]

    @property
    def valid(self) -> list[ImportRow]:
        return [r for r in self.rows if r.ok]

    @property
    def rejected(self) -> list[ImportRow]:
        return [r for r in self.rows if not r.ok]


def decode_upload(data: bytes) -> str:
    """UTF-8 (with or without a BOM), else Latin-1. UTF-16/32 and binary files are refused."""
    if len(data) > IMPORT_MAX_BYTES:
        raise ImportFileError(_("The file is too large (at most 2 MB)."))
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data:
        raise ImportFileError(_("This file is not UTF-8 or Latin-1 text. Save it as “CSV UTF-8” and try again."))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def parse_csv(text: str, local: Local) -> ImportPreview:
    """Read and check every row. Nothing is written; the preview lists what would be imported."""
    try:
        sample = text[:4096]
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(text.splitlines(), dialect)
    try:
        return _parse_rows(reader, local)
    except csv.Error:
        # The csv module refuses a field over csv.field_size_limit() (131,072 characters) and
        # some malformed quoting; either way the file cannot be read row by row.
        raise ImportFileError(_("This file cannot be read as CSV: a cell is too long (more than %(n)s characters) "
                                "or quotes are unbalanced.") % {"n": csv.field_size_limit()}) from None


def _parse_rows(reader: Iterator[list[str]], local: Local) -> ImportPreview:
    header = [h.strip().lower().lstrip("\ufeff") for h in next(reader, [])]
    missing = [c for c in IMPORT_REQUIRED if c not in header]
    if missing:
        raise ImportFileError(_("The first line must name the columns; “pseudonym” is required. "
                                "Known columns: %(columns)s.") % {"columns": ", ".join(COLUMNS[:-1])})
    units = _unit_lookup(local)
    rows: list[ImportRow] = []
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(rows) >= IMPORT_MAX_ROWS:
            raise ImportFileError(_("The file has too many rows (at most %(n)s).") % {"n": IMPORT_MAX_ROWS})
        record = {name: _unneutralise(cells[i].strip()) if i < len(cells) else "" for i, name in enumerate(header)}
        rows.append(_check_row(number, record, units))
    _check_duplicates(rows, local)
    return ImportPreview(rows)


def _unneutralise(cell: str) -> str:
    """Undo `neutralise`: our own export wrote "'+254..." so a spreadsheet would not run it.

    Without this an exported phone comes back without its "+", indexes differently and a member
    already on the roll is imported a second time.
    """
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


def _unit_lookup(local: Local) -> dict[str, BargainingUnit]:
    lookup: dict[str, BargainingUnit] = {}
    for unit in BargainingUnit.objects.filter(local=local).select_related("employer", "client"):
        lookup[str(unit.code)] = unit
        lookup[str(unit).casefold()] = unit
    return lookup


def _check_row(number: int, record: dict[str, str], units: dict[str, BargainingUnit]) -> ImportRow:
    row = ImportRow(line=number, pseudonym=record.get("pseudonym", "")[:80],
                    legal_name=record.get("legal_name", ""), job_title=record.get("job_title", "")[:120])
    if any(C1_CONTROLS.search(v) for v in record.values()):
        row.errors.append(_("Unreadable characters: the file may be in another encoding (use UTF-8)."))
    elif unsafe_characters(row.pseudonym) or unsafe_characters(row.legal_name):
        row.errors.append(str(ERR_UNSAFE_CHARACTERS))
    if not row.pseudonym:
        row.errors.append(_("The pseudonym is missing."))
    email = record.get("email", "")
    if email:
        try:
            validate_email(email)
            row.email = email
        except ValidationError:
            row.errors.append(_("This is not a valid email address."))
    phone = record.get("phone", "")
    if phone:
        row.phone = normalize_phone(phone)
        if len(row.phone.lstrip("+")) < 6:
            row.errors.append(_("This is not a valid phone number."))
    unit = record.get("unit", "")
    if unit:
        row.unit = units.get(unit) or units.get(unit.casefold())
        if row.unit is None:
            row.errors.append(_("Unknown bargaining unit."))
    row.languages = [c for c in re.split(r"[\s,;]+", record.get("languages", "").lower()) if c][:8]
    if any(not LANGUAGE_CODE.match(c) for c in row.languages):
        row.errors.append(_("Unknown language code (use codes such as sw, en, fil or pt-br)."))
        row.languages = []
    status = record.get("status", "").lower() or Member.Status.ACTIVE
    if status not in IMPORT_STATUSES:
        row.errors.append(_("Unknown status (use active, pending or lapsed)."))
    else:
        row.status = status
    dues = record.get("dues", "").lower() or Member.Dues.ARREARS
    if dues not in Member.Dues.values:
        row.errors.append(_("Unknown dues standing (use paid_up, arrears or exempt)."))
    else:
        row.dues = dues
    row.dues_last_paid = record.get("dues_last_paid", "")
    if row.dues_last_paid and not _is_date(row.dues_last_paid):
        row.errors.append(_("Write the last dues payment as a real date, YYYY-MM-DD."))
    return row


def _is_date(text: str) -> bool:
    """YYYY-MM-DD naming a day that exists (2026-02-30 does not)."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _check_duplicates(rows: list[ImportRow], local: Local) -> None:
    """Duplicates within the file and against the union's roll, compared through blind indexes."""
    emails = {r.line: crypto.blind_index(r.email, purpose="email") for r in rows if r.email}
    phones = {r.line: crypto.blind_index(r.phone, purpose="phone") for r in rows if r.phone}
    on_roll_e = set(_existing(local, "email_index", emails.values()))
    on_roll_p = set(_existing(local, "phone_index", phones.values()))
    bare = [r.pseudonym for r in rows if r.pseudonym and not r.email and not r.phone]
    on_roll_names = set(_existing(local, "pseudonym", bare, local_only=True))
    seen_e: set[str] = set()
    seen_p: set[str] = set()
    for row in rows:
        e, p = emails.get(row.line), phones.get(row.line)
        if (e and e in seen_e) or (p and p in seen_p):
            row.errors.append(_("Duplicate: the same email or phone appears earlier in the file."))
        elif (e and e in on_roll_e) or (p and p in on_roll_p):
            row.errors.append(_("Already on the roll: this email or phone is already a member's."))
        elif not e and not p and row.pseudonym in on_roll_names:
            # Nothing else tells two people apart: re-importing an export must not double the roll.
            row.errors.append(_("Already on the roll: a member of this local has this pseudonym, "
                                "and no email or phone tells them apart."))
        if e:
            seen_e.add(e)
        if p:
            seen_p.add(p)


def _existing(local: Local, column: str, values: Iterable[str], *, local_only: bool = False) -> list[str]:
    values = list(values)
    found: list[str] = []
    members = Member.objects.filter(union_id=local.union_id)
    if local_only:
        members = members.filter(local=local, erased_at__isnull=True)
    for start in range(0, len(values), 500):  # stay under SQLite's limit on query parameters
        chunk = values[start : start + 500]
        found += members.filter(**{f"{column}__in": chunk}).values_list(column, flat=True)
    return found


# --- keeping the upload between preview and commit --------------------------------------------

SESSION_KEY = "roll_import"


def stash_upload(session: Any, local: Local, text: str) -> str:
    """Keep the uploaded text in the session, encrypted, under a fresh token; return the token.

    Sessions live in the database: the CSV holds names and addresses, so only ciphertext may go
    there. The associated data binds it to this local and token.
    """
    token = uuid.uuid4().hex
    blob = crypto.encrypt_text(text, aad=f"roll-import:{local.code}:{token}")
    session[SESSION_KEY] = {"token": token, "local": str(local.code), "blob": base64.b64encode(blob).decode()}
    return token


def unstash_upload(session: Any, local: Local, token: str) -> str | None:
    stash = session.get(SESSION_KEY)
    if not stash or stash.get("token") != token or stash.get("local") != str(local.code):
        return None
    return crypto.decrypt_text(base64.b64decode(stash["blob"]), aad=f"roll-import:{local.code}:{token}")


def drop_upload(session: Any) -> None:
    session.pop(SESSION_KEY, None)
