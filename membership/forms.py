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
    """Finds the account through the email's blind index: the email column is encrypted.

    An unknown address costs what a known one does: a token is made and the email rendered for a
    stand-in account, then dropped instead of sent, so the answer's timing does not say whether
    the address has an account. (Handing the message to the mail server is the one step left;
    a local relay keeps it to a fraction of a millisecond.)
    """

    def get_users(self, email: str) -> Any:
        users = list(User.objects.filter(email_index=crypto.blind_index(email, purpose="email"), is_active=True))
        self._found = bool(users)
        if not users:
            self._stand_in = User(pk=0, handle="stand-in", email=email, last_login=None)
            self._stand_in.set_unusable_password()
            return [self._stand_in]
        return users

    def send_mail(self, subject_template_name: str, email_template_name: str, context: dict[str, Any],
                  from_email: str | None, to_email: str, html_email_template_name: str | None = None) -> None:
        if getattr(self, "_found", True):
            super().send_mail(subject_template_name, email_template_name, context, from_email, to_email,
                              html_email_template_name=html_email_template_name)
            return
        from django.core.mail import EmailMultiAlternatives
        from django.template import loader

        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        body = loader.render_to_string(email_template_name, context)
        EmailMultiAlternatives(subject, body, from_email, [to_email]).message()  # built, never sent
