"""Forms of the member's own pages (self-service)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from membership.models import Member, User, normalize_phone
from membership.names import validate_display_text

# Languages a member may say they work or speak in, named in their own language (no translation
# needed, and a reader finds their own language whatever the page's language is).
MEMBER_LANGUAGES = (
    ("en", "English"), ("fr", "Français"), ("sw", "Kiswahili"), ("es", "Español"), ("tl", "Tagalog"),
    ("pt", "Português"), ("ar", "العربية (Arabic)"), ("am", "አማርኛ (Amharic)"), ("so", "Soomaali"), ("hi", "हिन्दी (Hindi)"),
)


class ProfileForm(forms.Form):
    pseudonym = forms.CharField(
        label=_("Pseudonym"), max_length=80, validators=[validate_display_text],
        help_text=_("What coworkers in the union see. It does not need to be your real name."),
    )
    languages = forms.MultipleChoiceField(
        label=_("Languages you speak"), required=False, widget=forms.CheckboxSelectMultiple,
    )
    email = forms.EmailField(
        label=_("Email"), required=False, max_length=254,
        help_text=_("Stored encrypted. Use a personal address, never your work email."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phone = forms.CharField(
        label=_("Phone"), required=False, max_length=40,
        help_text=_("Stored encrypted. With the country code, for example +254 700 000 000."),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel", "type": "tel"}),
    )
    ui_language = forms.ChoiceField(label=_("Language of this site"), choices=())

    def __init__(self, data: Any = None, *, member: Member, user: User, **kwargs: Any) -> None:
        initial = {
            "pseudonym": member.pseudonym, "languages": member.language_list, "email": member.email or "",
            "phone": member.phone or "", "ui_language": user.language,
        }
        super().__init__(data, initial=initial, **kwargs)
        known = dict(MEMBER_LANGUAGES)
        # Keep languages recorded elsewhere (at joining, by an import) even when not in our list.
        extra = [(code, code) for code in member.language_list if code not in known]
        cast(forms.ChoiceField, self.fields["languages"]).choices = [*MEMBER_LANGUAGES, *extra]
        cast(forms.ChoiceField, self.fields["ui_language"]).choices = settings.LANGUAGES

    def clean_pseudonym(self) -> str:
        pseudonym = self.cleaned_data["pseudonym"].strip()
        if not pseudonym:
            raise forms.ValidationError(_("Choose a pseudonym."))
        return pseudonym

    def clean_phone(self) -> str:
        phone = normalize_phone(self.cleaned_data["phone"])
        digits = phone.lstrip("+")
        if self.cleaned_data["phone"].strip() and not 6 <= len(digits) <= 15:
            raise forms.ValidationError(_("Enter a phone number of 6 to 15 digits, with the country code."))
        return phone


class ConfirmForm(forms.Form):
    confirm = forms.BooleanField(label=_("Yes, I understand and I want to do this."))


class EraseForm(ConfirmForm):
    password = forms.CharField(
        label=_("Your password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(_("That is not your password."))
        return password
