"""Forms of the grievance pages: intake (by the member, or by a steward on a member's behalf) and the timeline."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from grievances.models import Category, Event, Grievance, Step
from membership.models import Local, Member

NARRATIVE_HELP = _(
    "A few sentences are enough. You never have to describe or upload the harmful content itself: "
    "say what happened to you and when, in your own words. You can save a draft and come back later."
)
ERR_UNKNOWN_PSEUDONYM = _("No member of this local uses the pseudonym %(name)s.")
ERR_AMBIGUOUS_PSEUDONYM = _("Several members of this local use the pseudonym %(name)s; ask an organizer.")


class CategoryChoiceField(forms.ModelChoiceField):
    """Category names are stored in English and translated when shown, with their description."""

    def label_from_instance(self, obj: Category) -> str:
        name = gettext(obj.name)
        return f"{name}: {gettext(obj.description)}" if obj.description else name


class StepChoiceField(forms.ModelChoiceField):
    """Step names are stored in English and translated when shown."""

    def label_from_instance(self, obj: Step) -> str:
        return gettext(obj.name)


class IntakeForm(forms.Form):
    """What a member writes about their own case. Only the category and a short title are required."""

    category = CategoryChoiceField(label=_("What kind of problem is it?"), queryset=Category.objects.none(),
                                   widget=forms.RadioSelect, empty_label=None)
    title = forms.CharField(label=_("A short title"), max_length=120,
                            help_text=_("For example: \"Night shift hours not paid\"."))
    incident_date = forms.DateField(label=_("When did it happen?"), required=False,
                                    help_text=_("The date, or your best guess. You can leave it empty."),
                                    widget=forms.DateInput(attrs={"type": "date"}))
    narrative = forms.CharField(label=_("What happened"), required=False, max_length=20000,
                                help_text=NARRATIVE_HELP, widget=forms.Textarea(attrs={"rows": 6}))
    remedy = forms.CharField(label=_("What would put it right?"), required=False, max_length=5000,
                             help_text=_("For example: pay the hours owed, restore my account, counselling."),
                             widget=forms.Textarea(attrs={"rows": 3}))
    sensitive = forms.BooleanField(
        label=_("Mark this case as sensitive"), required=False,
        help_text=_("Anyone opening the case sees a content warning first and chooses whether to read on."))
    letter_may_name = forms.BooleanField(
        label=_("The letter to the employer may name me"), required=False,
        help_text=_("Leave this unticked and the union's letter to the employer will not give your name."))

    def __init__(self, *args: Any, union: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["category"]).queryset = Category.objects.filter(union=union)

    def case_fields(self) -> dict[str, Any]:
        """The cleaned values, as the services take them."""
        data = dict(self.cleaned_data)
        data.pop("grievants", None)
        data["narrative"] = data.get("narrative") or None
        data["remedy"] = data.get("remedy") or None
        return data


class StewardIntakeForm(IntakeForm):
    """A steward files on behalf of one or several members (a group grievance) and sets the case facts."""

    grievants = forms.CharField(
        label=_("Grievants"), max_length=2000,
        help_text=_("The pseudonyms of the members concerned, separated by commas. Several names make a group "
                    "grievance."))
    contract_article = forms.CharField(label=_("Contract article"), max_length=120, required=False)
    confidentiality = forms.ChoiceField(label=_("Confidentiality"), choices=Grievance.Confidentiality.choices,
                                        initial=Grievance.Confidentiality.NORMAL, widget=forms.RadioSelect)
    field_order = ["grievants", "category", "title", "incident_date", "contract_article", "narrative", "remedy",
                   "confidentiality", "sensitive", "letter_may_name"]

    def __init__(self, *args: Any, union: Any, local: Local, with_grievants: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, union=union, **kwargs)
        self.local = local
        self.fields["letter_may_name"].label = _("The letter to the employer may name the grievants")
        self.fields["letter_may_name"].help_text = _("Only with their consent.")
        if not with_grievants:
            del self.fields["grievants"]

    def clean_grievants(self) -> list[Member]:
        names = list(dict.fromkeys(n.strip() for n in self.cleaned_data["grievants"].split(",") if n.strip()))
        if not names:
            raise forms.ValidationError(_("Name at least one grievant."))
        found: dict[str, list[Member]] = {}
        for member in Member.objects.filter(local=self.local, pseudonym__in=names, erased_at__isnull=True):
            found.setdefault(member.pseudonym, []).append(member)
        errors = []
        for name in names:
            if name not in found:
                errors.append(forms.ValidationError(ERR_UNKNOWN_PSEUDONYM, params={"name": name}))
            elif len(found[name]) > 1:
                errors.append(forms.ValidationError(ERR_AMBIGUOUS_PSEUDONYM, params={"name": name}))
        if errors:
            raise forms.ValidationError(errors)
        return [found[name][0] for name in names]


class CaseFilterForm(forms.Form):
    """Filters of the local's case list (GET)."""

    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("Any")), *Grievance.Status.choices])
    step = StepChoiceField(label=_("Step"), required=False, queryset=Step.objects.none(), empty_label=_("Any"))
    category = CategoryChoiceField(label=_("Category"), required=False, queryset=Category.objects.none(),
                                   empty_label=_("Any"))
    needs_steward = forms.BooleanField(label=_("Only open cases that need a steward"), required=False)

    def __init__(self, *args: Any, unions: Any, locals_: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.locals_ = locals_
        cast(StepChoiceField, self.fields["step"]).queryset = Step.objects.filter(union__in=unions)
        cast(forms.ModelChoiceField, self.fields["category"]).queryset = Category.objects.filter(union__in=unions)

    def apply(self, cases: Any) -> Any:
        if not self.is_valid():
            return cases
        data = self.cleaned_data
        if data["status"]:
            cases = cases.filter(status=data["status"])
        if data["step"]:
            cases = cases.filter(step=data["step"])
        if data["category"]:
            cases = cases.filter(category=data["category"])
        if data["needs_steward"]:
            from grievances.selectors import needing_steward

            cases = needing_steward(cases, self.locals_)
        return cases


EVENT_KINDS = (
    (Event.Kind.NOTE, _("Internal note (never shown to the grievants)")),
    (Event.Kind.SHARED_NOTE, _("Note shared with the grievants")),
    (Event.Kind.MEETING, _("Meeting")),
    (Event.Kind.EMPLOYER_RESPONSE, _("Employer response")),
)


class EventForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind of entry"), choices=EVENT_KINDS, initial=Event.Kind.NOTE,
                             widget=forms.RadioSelect)
    body = forms.CharField(label=_("Entry"), max_length=20000, widget=forms.Textarea(attrs={"rows": 4}))
    occurred_on = forms.DateField(label=_("Date (of the meeting or response)"), required=False,
                                  widget=forms.DateInput(attrs={"type": "date"}))
    shared = forms.BooleanField(
        label=_("Share with the grievants"), required=False,
        help_text=_("For meetings and employer responses. Internal notes are never shared."))

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].strip()
        if not body:
            raise forms.ValidationError(_("Write something first."))
        return body


class CorrectionForm(forms.Form):
    body = forms.CharField(label=_("Correction"), max_length=20000, widget=forms.Textarea(attrs={"rows": 4}),
                           help_text=_("The original entry stays as it was written; this correction is shown "
                                       "beside it."))

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].strip()
        if not body:
            raise forms.ValidationError(_("Write something first."))
        return body
