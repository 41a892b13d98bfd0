from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import PasswordResetForm
from django.utils.translation import gettext_lazy as _

from membership.models import User
from union import crypto


class LoginForm(forms.Form):
    username = forms.CharField(
        label=_("Handle or email"), max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class TokenForm(forms.Form):
    otp_token = forms.CharField(
        label=_("Code from your authenticator app, or a backup code"),
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )

    def clean_otp_token(self) -> str:
        return "".join(self.cleaned_data["otp_token"].split())


class EmailPasswordResetForm(PasswordResetForm):
    """Finds the account through the email's blind index: the email column is encrypted."""

    def get_users(self, email: str) -> Any:
        return User.objects.filter(email_index=crypto.blind_index(email, purpose="email"), is_active=True)
