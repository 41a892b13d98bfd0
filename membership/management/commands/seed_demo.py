"""Create the demo union, its locals, employers, units and one user per persona. Idempotent.

Beside the personas, each unit gets a crowd of coworkers (members without an account, as from a
paper roll) who signed their union card over the last months, so the organizing dashboard shows
units at different distances from their threshold. The crowd is generated from a fixed seed: a
second run finds every unit at its target and creates nothing.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone, translation

from membership.cardtext import ensure_default_card_texts
from membership.devices import Authenticator
from membership.models import (
    BargainingUnit,
    CardText,
    ClientPlatform,
    Employer,
    Local,
    Member,
    SupportAssessment,
    SupportLevel,
    Union,
    UnionCard,
    UnitHistory,
    User,
)
from membership.services import card_sign, current_card_text, role_grant
from membership.support import support_levels_seed_defaults
from membership.tally import tally_rebuild

DEMO_PASSWORD = "tessera-demo-2026"  # noqa: S105 - public demo credential, refused in production
# handle, local slug, role, pseudonym, legal name (fictional)
PEOPLE = (
    ("amani", "nairobi", "member", "Amani K.", "Amani Kariuki"),
    ("wanjiru", "nairobi", "steward", "Wanjiru", "Wanjiru Mwangi"),
    ("baraka", "nairobi", "organizer", "Baraka", "Baraka Otieno"),
    ("neema", "nairobi", "representative", "Neema", "Neema Achieng"),
    ("otieno", "nairobi", "local_admin", "Otieno", "Otieno Kamau"),
    ("maria", "manila", "member", "Maria S.", "Maria Santos"),
)
# A worker who joined and confirmed their email, waiting for an organizer: their home page says
# what happens next, and baraka can verify them.
APPLICANT = ("juma", "nairobi", "member", "Juma", "Juma Hassan")
EMAIL_DOMAIN = "demo.tessera.invalid"
# Per unit (by project): signed cards of coworkers besides the personas, and how many of them
# still wait for an organizer's verification. Chosen so the units sit at different distances
# from their thresholds: one past it, one past its milestone, two still well short.
CROWD = {
    "Swahili and English moderation queue": (99, 3),   # 105 of 121 with the personas: 16 to go
    "RLHF annotation (remote)": (27, 1),               # 27 of 41, past the 30% milestone (24)
    "Somali and Amharic moderation queue": (21, 0),    # 21 of 19: threshold reached
    "Tagalog image labelling": (30, 2),                # 31 of 76 with Maria: 45 to go
}
FIRST_NAMES = (
    "Achieng", "Akinyi", "Atieno", "Chebet", "Njeri", "Wambui", "Wairimu", "Nyambura", "Zawadi", "Imani",
    "Halima", "Fatuma", "Mwanaisha", "Rehema", "Makena", "Kamau", "Kiprop", "Mutua", "Odhiambo", "Ochieng",
    "Kibet", "Juma", "Hassan", "Abdi", "Farah", "Hodan", "Ayaan", "Tesfaye", "Selam", "Mekdes",
)
MANILA_NAMES = (
    "Andrea", "Bea", "Carlo", "Dindo", "Ella", "Gabriel", "Isko", "Jasmine", "Joy", "Kiko", "Lorna", "Mark",
    "Nico", "Paolo", "Rica", "Rommel", "Tess", "Vilma", "Jun", "Marites",
)
SUPPORT_SPREAD = (1, 2, 2, 2, 3, 3, 3, 3, 4, 5)  # a few leaders, many supporters and undecided


class Command(BaseCommand):
    help = "Load demo data for development (refused in production). Safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("seed_demo refuses to run in production: it creates accounts with a public password.")
        with transaction.atomic():
            locals_by_slug, units = self.structure()
            support_levels_seed_defaults(actor=None, union=locals_by_slug["nairobi"].union)
            officers = []
            for handle, local_slug, role, pseudonym, legal_name in PEOPLE:
                user = self.person(handle, locals_by_slug[local_slug], role, pseudonym, legal_name, units[local_slug])
                if role != "member":
                    officers.append(user)
            handle, local_slug, role, pseudonym, legal_name = APPLICANT
            self.person(handle, locals_by_slug[local_slug], role, pseudonym, legal_name, units[local_slug],
                        status=Member.Status.PENDING)
            rng = random.Random(2026)  # noqa: S311 - demo names, not secrets
            for unit in BargainingUnit.objects.filter(local__union__slug="dwu").select_related("local__union"):
                self.crowd(unit, rng)
            self.assessments(locals_by_slug["nairobi"], rng)
            # The crowd is bulk-created past the services: recount the dashboard's tallies from the rows.
            tally_rebuild()
        self.report(officers)
        # Other apps add their demo data through their own commands; membership imports none of them.
        for command in ("seed_demo_grievances",):
            call_command(command, stdout=self.stdout)

    def structure(self) -> tuple[dict[str, Local], dict[str, BargainingUnit]]:
        union, _ = Union.objects.get_or_create(slug="dwu", defaults={"name": "Digital Workers Union (demo)"})
        # The demo union welcomes anyone: its join link is on the home page (off by default).
        Union.objects.filter(pk=union.pk, publish_join_link=False).update(publish_join_link=True)
        nairobi, _ = Local.objects.get_or_create(union=union, slug="nairobi", defaults={"name": "Nairobi Content Moderators"})
        manila, _ = Local.objects.get_or_create(union=union, slug="manila", defaults={"name": "Manila Data Annotators"})
        Local.objects.filter(pk=nairobi.pk, time_zone="").update(time_zone="Africa/Nairobi")
        Local.objects.filter(pk=manila.pk, time_zone="").update(time_zone="Asia/Manila")
        savanna, _ = Employer.objects.get_or_create(union=union, name="Savanna Data Services Ltd (fictional)")
        bayan, _ = Employer.objects.get_or_create(union=union, name="Bayanihan BPO Inc. (fictional)")
        Employer.objects.get_or_create(union=union, name="Andes Outsourcing SAS (fictional)")
        ensure_default_card_texts(union)
        chirp, _ = ClientPlatform.objects.get_or_create(union=union, name="Chirp Social (fictional)")
        imagine, _ = ClientPlatform.objects.get_or_create(union=union, name="Imagine AI Lab (fictional)")

        def unit(local: Local, employer: Employer, client: ClientPlatform, project: str, country: str, **extra: Any) -> BargainingUnit:
            found, _ = BargainingUnit.objects.get_or_create(
                local=local, employer=employer, client=client, project=project, country=country, defaults=extra
            )
            return found

        moderation = unit(nairobi, savanna, chirp, "Swahili and English moderation queue", "KE",
                          site="Nairobi, Mombasa Road", headcount=240)
        unit(nairobi, savanna, imagine, "RLHF annotation (remote)", "KE", headcount=80, milestone_percent=30)
        unit(nairobi, savanna, chirp, "Somali and Amharic moderation queue", "KE", site="Nairobi, Mombasa Road",
             headcount=36)
        labelling = unit(manila, bayan, imagine, "Tagalog image labelling", "PH", site="Quezon City", headcount=150)
        return {"nairobi": nairobi, "manila": manila}, {"nairobi": moderation, "manila": labelling}

    def person(self, handle: str, local: Local, role: str, pseudonym: str, legal_name: str, unit: BargainingUnit,
               status: str = Member.Status.ACTIVE) -> User:
        user = User.objects.filter(handle=handle).first()
        if user is None:
            user = User.objects.create_user(handle, DEMO_PASSWORD, email=f"{handle}@{EMAIL_DOMAIN}")
        if not Member.objects.filter(user=user).exists():
            verified = status == Member.Status.ACTIVE
            member = Member(user=user, union=local.union, local=local, unit=unit, pseudonym=pseudonym,
                            legal_name=legal_name, status=status,
                            dues=Member.Dues.PAID_UP if verified else Member.Dues.ARREARS,
                            job_title="Content moderator", verified_at=timezone.now() if verified else None)
            member.set_email(user.email)
            member.set_languages(["sw", "en"] if local.slug == "nairobi" else ["tl", "en"])
            member.save()
            UnitHistory.objects.create(member=member, unit=unit)
        if not user.role_grants.filter(local=local, role=role).exists():
            role_grant(actor=None, user=user, local=local, role=role)
        member = Member.objects.get(user=user)
        if not member.cards.exists():
            # Every persona signed their card (amani's card page and PDF show it), through the
            # same service as the join form, in the first language they speak.
            language = member.language_list[0] if member.language_list else "en"
            card_text = current_card_text(local.union, language)
            if card_text is not None:
                card_sign(member=member, card_text=card_text, signature_name=legal_name,
                          consents=self.consents(card_text.language), advance_status=False)
        if role != "member" and not Authenticator.objects.filter(user=user, confirmed=True).exists():
            Authenticator.objects.create(user=user, name="demo authenticator", confirmed=True)
        return user

    @staticmethod
    def consents(language: str) -> dict[str, str]:
        """The consent sentences as the join form records them: in the language the card was read in."""
        from membership.forms_join import CONSENTS

        with translation.override(language):
            return {str(n): str(label) for n, (_name, label) in enumerate(CONSENTS, 1)}

    def crowd(self, unit: BargainingUnit, rng: random.Random) -> None:
        """Coworkers of `unit` who signed a card, up to the unit's target in CROWD (none past it)."""
        target, pending = CROWD.get(unit.project, (0, 0))
        have = Member.objects.filter(unit=unit, user__isnull=True).count()
        if have >= target:
            return
        manila = unit.country == "PH"
        language = "en" if manila else "sw"
        card_text = (CardText.objects.filter(union=unit.local.union, language=language).order_by("-version").first()
                     or current_card_text(unit.local.union, "en"))
        if card_text is None:  # structure() creates the texts; only a union edited by hand lacks them
            return
        names = MANILA_NAMES if manila else FIRST_NAMES
        now = timezone.now()
        members, signed = [], []
        for index in range(have, target):
            first = names[index % len(names)]
            initial = chr(ord("A") + (index * 7 + len(unit.project)) % 26)
            waiting = index >= target - pending
            # Recent weeks busier than older ones, as a campaign picks up; the waiting ones signed last.
            days = rng.randint(0, 6) if waiting else int(120 * rng.random() ** 1.6)
            signed_at = now - timedelta(days=days, hours=rng.randint(0, 10))
            signed.append(signed_at)
            members.append(Member(
                union=unit.local.union, local=unit.local, unit=unit, pseudonym=f"{first} {initial}.",
                legal_name=f"{first} {initial}{'abcdefghij'[index % 10]}nda (fictional)",
                status=Member.Status.PENDING if waiting else Member.Status.ACTIVE,
                dues=Member.Dues.ARREARS if waiting or rng.random() < 0.15 else Member.Dues.PAID_UP,
                job_title="Data annotator" if "annotation" in unit.project or manila else "Content moderator",
                languages=",tl,en," if manila else rng.choice((",sw,en,", ",sw,", ",en,sw,", ",so,sw,en,")),
                joined_at=signed_at, status_changed_at=signed_at,
                verified_at=None if waiting else min(signed_at + timedelta(days=2), now),
            ))
        created = Member.objects.bulk_create(members)
        UnionCard.objects.bulk_create([
            UnionCard(member=member, card_text=card_text, signed_at=signed_at, signed={
                "title": card_text.title, "body": card_text.body, "version": card_text.version,
                "language": card_text.language, "signature": member.legal_name, "consents": self.consents(card_text.language),
                "signed_at": signed_at.isoformat()})
            for member, signed_at in zip(created, signed, strict=True)
        ])
        UnitHistory.objects.bulk_create([UnitHistory(member=m, unit=unit, started_at=m.joined_at) for m in created])

    def assessments(self, local: Local, rng: random.Random) -> None:
        """One-to-five support assessments by the organizer for part of the crowd (once)."""
        if SupportAssessment.objects.filter(member__local=local).exists():
            return
        organizer = User.objects.filter(handle="baraka").first()
        levels = {level.value: level for level in SupportLevel.objects.filter(union=local.union)}
        contacts = list(Member.objects.filter(local=local, user__isnull=True).order_by("pk")[:48])
        SupportAssessment.objects.bulk_create([
            SupportAssessment(member=member, level=levels[rng.choice(SUPPORT_SPREAD)], recorded_by=organizer)
            for member in contacts if levels
        ])

    def report(self, officers: list[User]) -> None:
        self.stdout.write(f"Demo data ready. Every demo login uses the password: {DEMO_PASSWORD}")
        self.stdout.write("Members: amani (Nairobi), maria (Manila); juma (Nairobi) waits for verification. "
                          "Officers need a TOTP code:")
        for user in officers:
            device = Authenticator.objects.filter(user=user, confirmed=True).first()
            self.stdout.write(f"  {user.handle:8} {device.config_url if device is not None else '-'}")
        self.stdout.write("Add an officer's otpauth:// link to an authenticator app, or run "
                          "`manage.py demo_totp HANDLE` for the current code.")
