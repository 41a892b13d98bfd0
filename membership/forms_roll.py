"""Forms of the roll pages: filters, status and dues changes, verification, CSV import."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from membership.models import BargainingUnit, Local, Member
from membership.roles import Role

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class UnitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: BargainingUnit) -> str:
        return str(obj)


class RollFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200,
                        help_text=_("Part of a pseudonym, or a whole email address or phone number."))
    unit = UnitChoiceField(label=_("Bargaining unit"), queryset=BargainingUnit.objects.none(), required=False,
                           to_field_name="code", empty_label=_("All units"))
    status = forms.ChoiceField(label=_("Status"), required=False)
    role = forms.ChoiceField(label=_("Role"), required=False)
    dues = forms.ChoiceField(label=_("Dues standing"), required=False)
    language = forms.ChoiceField(label=_("Language"), required=False)

    def __init__(self, *args: Any, local: Local, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        unit_field = self.fields["unit"]
        assert isinstance(unit_field, forms.ModelChoiceField)
        unit_field.queryset = BargainingUnit.objects.filter(local=local).select_related("employer", "client")
        every = [("", _("Any"))]
        self.fields["status"].choices = every + list(Member.Status.choices)  # type: ignore[attr-defined]
        self.fields["role"].choices = every + list(Role.choices)  # type: ignore[attr-defined]
        self.fields["dues"].choices = every + list(Member.Dues.choices)  # type: ignore[attr-defined]
        self.fields["language"].choices = every + list(settings.LANGUAGES)  # type: ignore[attr-defined]


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("New status"), choices=Member.Status.choices)
    reason = forms.CharField(label=_("Reason (kept encrypted with the member's record)"), max_length=500,
                             widget=forms.TextInput())


class DuesForm(forms.Form):
    dues = forms.ChoiceField(label=_("Dues standing"), choices=Member.Dues.choices)
    last_paid = forms.DateField(label=_("Last dues payment"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"}))


class NotesForm(forms.Form):
    notes = forms.CharField(
        label=_("Notes (encrypted; the member can read them in their data download)"), required=False,
        max_length=4000, widget=forms.Textarea(attrs={"rows": 4}))


class UnitForm(forms.Form):
    unit = forms.ModelChoiceField(label=_("Workplace (bargaining unit)"), queryset=BargainingUnit.objects.none(),
                                  required=False, empty_label=_("None or not known"))

    def __init__(self, *args: Any, local: Local, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["unit"]).queryset = local.units.select_related("employer", "client")


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role in this local"))

    def __init__(self, *args: Any, choices: list[tuple[str, StrOrPromise]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["role"]).choices = choices


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("Reason for rejecting (kept encrypted with the application, not sent)"),
                             max_length=500)


class ImportUploadForm(forms.Form):
    file = forms.FileField(label=_("CSV file"),
                           help_text=_("UTF-8 or Latin-1, first line naming the columns, at most 2 MB."))


class ImportCommitForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)
    valid_only = forms.BooleanField(label=_("Import only the valid rows and skip the rejected ones"),
                                    required=False)
