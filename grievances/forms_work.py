"""Forms for working a case: workflow steps, outcomes, stewards, adverse actions, evidence, letters."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grievances.models import AdverseAction, Grievance, Step
from membership.models import User
from membership.selectors import users_with_local_perm

ERR_FUTURE = _("This date is in the future.")
DATE = {"type": "date"}


def _not_future(value: date | None) -> date | None:
    if value and value > timezone.localdate():
        raise forms.ValidationError(ERR_FUTURE)
    return value


class StepChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Step) -> str:
        return str(_(obj.name))


class AdvanceForm(forms.Form):
    step = StepChoiceField(label=_("Move to step"), queryset=Step.objects.none(), to_field_name="slug",
                           empty_label=None)
    triggered_on = forms.DateField(label=_("Date of the event that starts this step"), widget=forms.DateInput(DATE),
                                   help_text=_("The deadline counts from this date."))

    def __init__(self, *args: Any, grievance: Grievance, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"triggered_on": timezone.localdate()})
        super().__init__(*args, **kwargs)
        steps = Step.objects.filter(union_id=grievance.union_id)
        if grievance.step is not None:
            steps = steps.filter(position__gt=grievance.step.position)
        field = self.fields["step"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = steps.order_by("position")

    def clean_triggered_on(self) -> date | None:
        return _not_future(self.cleaned_data.get("triggered_on"))


class CloseForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=Grievance.Outcome.choices)
    amount = forms.DecimalField(label=_("Amount agreed (settlements only)"), required=False, min_value=0,
                                max_digits=12, decimal_places=2)
    summary = forms.CharField(label=_("Summary, shared with the grievants"), max_length=5000,
                              widget=forms.Textarea(attrs={"rows": 4}))


class ReopenForm(forms.Form):
    reason = forms.CharField(label=_("Why reopen this case?"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 3}))


class StewardChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return obj.handle


class AssignForm(forms.Form):
    steward = StewardChoiceField(label=_("Steward"), queryset=User.objects.none(), to_field_name="handle",
                                 empty_label=None)

    def __init__(self, *args: Any, grievance: Grievance, **kwargs: Any) -> None:
        if grievance.steward is not None:
            kwargs.setdefault("initial", {"steward": grievance.steward.handle})
        super().__init__(*args, **kwargs)
        field = self.fields["steward"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = users_with_local_perm(grievance.local, "manage_grievances").order_by("handle")


class AdverseActionForm(forms.Form):
    kind = forms.ChoiceField(label=_("What the employer did"), choices=AdverseAction.Kind.choices)
    occurred_on = forms.DateField(label=_("When"), widget=forms.DateInput(DATE))
    description = forms.CharField(label=_("Details (optional)"), required=False, max_length=5000,
                                  widget=forms.Textarea(attrs={"rows": 3}))

    def clean_occurred_on(self) -> date | None:
        return _not_future(self.cleaned_data.get("occurred_on"))


class EvidenceForm(forms.Form):
    file = forms.FileField(label=_("File to upload"), allow_empty_file=True,
                           help_text=_("PDF, PNG, JPEG, plain text or CSV, at most 10 MB. Photos lose their "
                                       "location and camera details before they are stored."))


class LetterForm(forms.Form):
    facts = forms.CharField(label=_("Facts, as the employer will read them"), max_length=20000,
                            widget=forms.Textarea(attrs={"rows": 12}),
                            help_text=_("Write only what the employer should read. The case narrative is not "
                                        "copied here unless you choose to start from it."))
