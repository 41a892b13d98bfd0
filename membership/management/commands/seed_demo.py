"""Create the demo union, its locals, employers, units and one user per persona. Idempotent."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from membership.cardtext import ensure_default_card_texts
from membership.devices import Authenticator
from membership.models import BargainingUnit, ClientPlatform, Employer, Local, Member, Union, UnitHistory, User
from membership.services import role_grant
from membership.support import support_levels_seed_defaults

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
EMAIL_DOMAIN = "demo.tessera.invalid"


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
        self.report(officers)
        # Other apps add their demo data through their own commands; membership imports none of them.
        for command in ("seed_demo_grievances",):
            call_command(command, stdout=self.stdout)

    def structure(self) -> tuple[dict[str, Local], dict[str, BargainingUnit]]:
        union, _ = Union.objects.get_or_create(slug="dwu", defaults={"name": "Digital Workers Union (demo)"})
        nairobi, _ = Local.objects.get_or_create(union=union, slug="nairobi", defaults={"name": "Nairobi Content Moderators"})
        manila, _ = Local.objects.get_or_create(union=union, slug="manila", defaults={"name": "Manila Data Annotators"})
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
        labelling = unit(manila, bayan, imagine, "Tagalog image labelling", "PH", site="Quezon City", headcount=150)
        return {"nairobi": nairobi, "manila": manila}, {"nairobi": moderation, "manila": labelling}

    def person(self, handle: str, local: Local, role: str, pseudonym: str, legal_name: str, unit: BargainingUnit) -> User:
        user = User.objects.filter(handle=handle).first()
        if user is None:
            user = User.objects.create_user(handle, DEMO_PASSWORD, email=f"{handle}@{EMAIL_DOMAIN}")
        if not Member.objects.filter(user=user).exists():
            member = Member(user=user, union=local.union, local=local, unit=unit, pseudonym=pseudonym,
                            legal_name=legal_name, status=Member.Status.ACTIVE, dues=Member.Dues.PAID_UP,
                            job_title="Content moderator", verified_at=timezone.now())
            member.set_email(user.email)
            member.set_languages(["sw", "en"] if local.slug == "nairobi" else ["tl", "en"])
            member.save()
            UnitHistory.objects.create(member=member, unit=unit)
        if not user.role_grants.filter(local=local, role=role).exists():
            role_grant(actor=None, user=user, local=local, role=role)
        if role != "member" and not Authenticator.objects.filter(user=user, confirmed=True).exists():
            Authenticator.objects.create(user=user, name="demo authenticator", confirmed=True)
        return user

    def report(self, officers: list[User]) -> None:
        self.stdout.write(f"Demo data ready. Every demo login uses the password: {DEMO_PASSWORD}")
        self.stdout.write("Members: amani (Nairobi), maria (Manila). Officers need a TOTP code:")
        for user in officers:
            device = Authenticator.objects.filter(user=user, confirmed=True).first()
            self.stdout.write(f"  {user.handle:8} {device.config_url}")
        self.stdout.write("Add an officer's otpauth:// link to an authenticator app, or run "
                          "`manage.py demo_totp HANDLE` for the current code.")
