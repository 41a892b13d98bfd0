"""Forms of the bargaining pages. Choices are limited to the campaign's local and what the editor sees."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from bargaining.models import Campaign, Demand, DemandRevision
from bargaining.selectors import committee_candidates, linkable_grievances
from grievances.models import Grievance
from membership.models import BargainingUnit, Local, User

DATE = forms.DateInput(attrs={"type": "date"})


class CommitteeField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: User) -> str:
        # The pseudonym, as everywhere else in the local: never the login handle.
        member = getattr(obj, "member", None)
        return member.pseudonym if member is not None else gettext("a union officer")


class CaseField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Grievance) -> str:
        # Number and category only: the title is confidential and need not be decrypted for a list.
        return f"{obj.number or '—'} · {gettext(obj.category.name)}"


class RevisionField(forms.ModelChoiceField):
    def label_from_instance(self, obj: DemandRevision) -> str:
        return str(obj.number)


class CampaignForm(forms.ModelForm):
    units = forms.ModelMultipleChoiceField(label=_("Bargaining units"), queryset=BargainingUnit.objects.none(),
                                           widget=forms.CheckboxSelectMultiple)
    committee = CommitteeField(label=_("Bargaining committee"), queryset=User.objects.none(), required=False,
                               widget=forms.CheckboxSelectMultiple,
                               help_text=_("Representatives of the local who draft and edit the demands."))

    class Meta:
        model = Campaign
        fields = ["name", "units", "committee", "language", "consultation_ends_on", "ratification_on",
                  "tabled_on", "agreement_expires_on"]
        widgets = dict.fromkeys(("consultation_ends_on", "ratification_on", "tabled_on", "agreement_expires_on"), DATE)

    def __init__(self, *args: Any, local: Local, with_stage: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        units = BargainingUnit.objects.filter(local=local).select_related("employer", "client")
        cast(forms.ModelMultipleChoiceField, self.fields["units"]).queryset = units
        cast(CommitteeField, self.fields["committee"]).queryset = committee_candidates(local)
        if with_stage:
            self.fields["stage"] = forms.ChoiceField(label=_("Stage"), choices=Campaign.Stage.choices,
                                                     initial=self.instance.stage)


class DemandForm(forms.ModelForm):
    grievances = CaseField(label=_("Grievances that motivate it"), queryset=Grievance.objects.none(),
                           required=False, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Demand
        fields = ["title", "category", "text", "rationale", "priority", "cost_estimate", "grievances"]
        widgets = {"text": forms.Textarea(attrs={"rows": 8}), "rationale": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args: Any, campaign: Campaign, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        shown = Q(pk__in=linkable_grievances(user, campaign).values("pk"))
        if self.instance.pk:
            # Cases already cited stay listed (and kept) even if this editor cannot see them.
            shown |= Q(pk__in=self.instance.grievances.values("pk"))
        cast(CaseField, self.fields["grievances"]).queryset = (Grievance.objects.filter(shown)
                                                               .select_related("category").order_by("-created_at"))


class CompareForm(forms.Form):
    a = RevisionField(queryset=DemandRevision.objects.none(), to_field_name="number", label=_("From revision"))
    b = RevisionField(queryset=DemandRevision.objects.none(), to_field_name="number", label=_("To revision"))

    def __init__(self, *args: Any, demand: Demand, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("a", "b"):
            cast(RevisionField, self.fields[name]).queryset = demand.revisions.all()
