"""The public join form: the minimum to join, and the signature of the union card."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.utils.translation import gettext_lazy as _

from membership.models import BargainingUnit, Local, Union, User, handle_validator, normalize_phone
from membership.names import ERR_PSEUDONYM_CLOSE, validate_display_text

NOT_LISTED = "other"
# Languages members often speak at work; the interface ones first. Names are in the language itself.
EXTRA_LANGUAGES = [("tl", "Tagalog"), ("pt", "Português"), ("ar", "العربية"), ("am", "አማርኛ"), ("hi", "हिन्दी")]

CONSENTS = (
    ("consent_join", _("I want to join the union.")),
    ("consent_represent", _("I authorise the union to represent me with my employer.")),
    ("consent_privacy", _("I understand that my data is encrypted and never shared with my employer.")),
)
ERR_HANDLE_TAKEN = _("This handle is taken. Choose another one.")
ERR_LOCAL_NEEDED = _("Your workplace is not listed: choose the local closest to you.")
ERR_PHONE = _("Write the number with its country code, for example +254 700 000 000.")


def language_choices() -> list[tuple[str, str]]:
    return [*settings.LANGUAGES, *EXTRA_LANGUAGES]


class JoinForm(forms.Form):
    unit = forms.ChoiceField(label=_("Where do you work?"),
                             help_text=_("Your employer, the client and your project or queue."))
    local = forms.ChoiceField(label=_("Local"), required=False,
                              help_text=_("Only if your workplace is not listed: the local closest to you."))
    pseudonym = forms.CharField(label=_("Pseudonym"), max_length=80, validators=[validate_display_text],
                                help_text=_("The name your coworkers see in the union. It can be a nickname."))
    email = forms.EmailField(label=_("Email"), max_length=254,
                             help_text=_("We send you a link to confirm. Never shown to your employer."))
    phone = forms.CharField(label=_("Phone (optional)"), max_length=32, required=False)
    languages = forms.MultipleChoiceField(label=_("Languages you speak"), required=False,
                                          widget=forms.CheckboxSelectMultiple)
    handle = forms.CharField(label=_("Login name"), max_length=40, validators=[handle_validator],
                             help_text=_("To log in. 3 to 40 lowercase letters, digits, dots, dashes or underscores."))
    password = forms.CharField(label=_("Password"), strip=False, widget=forms.PasswordInput(render_value=False),
                               help_text=_("At least 10 characters. A few unrelated words work well."))
    legal_name = forms.CharField(label=_("Your full legal name (your signature)"), max_length=200,
                                 validators=[validate_display_text], help_text=_("Typing your name here signs the card above."))
    consent_join = forms.BooleanField(label=CONSENTS[0][1])
    consent_represent = forms.BooleanField(label=CONSENTS[1][1])
    consent_privacy = forms.BooleanField(label=CONSENTS[2][1])

    def __init__(self, *args: Any, union: Union, local: Local | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.union, self.fixed_local = union, local
        locals_ = [local] if local else list(union.locals.order_by("name"))
        units = BargainingUnit.objects.filter(local__in=locals_).select_related("local", "employer", "client")
        by_local: dict[int, list[tuple[str, str]]] = {loc.pk: [] for loc in locals_}
        for unit in sorted(units, key=str):
            by_local[unit.local_id].append((str(unit.code), str(unit)))
        cast(forms.ChoiceField, self.fields["unit"]).choices = [
            ("", _("Choose…")), *[(loc.name, by_local[loc.pk]) for loc in locals_ if by_local[loc.pk]],
            (NOT_LISTED, _("My workplace is not listed"))]
        cast(forms.ChoiceField, self.fields["local"]).choices = [("", _("Choose…")), *[(str(loc.code), loc.name) for loc in locals_]]
        cast(forms.ChoiceField, self.fields["languages"]).choices = language_choices()
        if local is not None:
            del self.fields["local"]
        attrs = {"pseudonym": "nickname", "email": "email", "phone": "tel", "handle": "username",
                 "password": "new-password", "legal_name": "name"}
        for name, value in attrs.items():
            self.fields[name].widget.attrs["autocomplete"] = value
        self.fields["phone"].widget.input_type = "tel"
        self._units = {str(u.code): u for u in units}
        self._locals = {str(loc.code): loc for loc in locals_}

    def clean_handle(self) -> str:
        return self.cleaned_data["handle"].strip().lower()

    def clean_phone(self) -> str:
        phone = normalize_phone(self.cleaned_data["phone"])
        digits = phone.lstrip("+")
        if self.cleaned_data["phone"].strip() and not 6 <= len(digits) <= 15:
            raise forms.ValidationError(ERR_PHONE)
        return phone

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        validate_password(password, User(handle=self.data.get("handle", "")))
        return password

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        unit_code = data.get("unit")
        data["unit_obj"] = self._units.get(unit_code or "")
        if data["unit_obj"] is not None:
            data["local_obj"] = data["unit_obj"].local
        elif self.fixed_local is not None:
            data["local_obj"] = self.fixed_local
        else:
            data["local_obj"] = self._locals.get(data.get("local") or "")
            if unit_code == NOT_LISTED and data["local_obj"] is None:
                self.add_error("local", ERR_LOCAL_NEEDED)
        self._check_taken(data)
        return data

    def _check_taken(self, data: dict[str, Any]) -> None:
        """Whether the handle is taken, or the pseudonym too close to a member's: last, and only
        for a form that is otherwise valid, so the form cannot be used to test handles or
        pseudonyms one field at a time (and the per-address limit bounds whole-form tries)."""
        from membership.services import pseudonym_clashes

        if self.errors:
            return
        if User.objects.filter(handle=data["handle"]).exists():
            self.add_error("handle", ERR_HANDLE_TAKEN)
        if pseudonym_clashes(union=self.union, pseudonym=data["pseudonym"]):
            self.add_error("pseudonym", ERR_PSEUDONYM_CLOSE)

    def consents(self) -> dict[str, str]:
        """What was agreed, as the words shown (in the visitor's language), kept with the card.

        Keyed "1", "2", "3" so the order survives JSON with sorted keys.
        """
        return {str(n): str(label) for n, (name, label) in enumerate(CONSENTS, 1) if self.cleaned_data.get(name)}
