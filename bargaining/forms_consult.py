"""Forms of consultation: comments, endorsements, opening a survey and answering it (no JavaScript needed)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from bargaining.consultation import COMMENT_MAX, DOTS_MAX, ERR_DOTS, ERR_NO_DOTS, ERR_RANKS, REASON_MAX
from bargaining.models import Demand, Survey

ANONYMOUS_HELP = _("Other members and the representatives see “anonymous member” instead of your name.")


class CommentForm(forms.Form):
    body = forms.CharField(label=_("Your comment"), max_length=COMMENT_MAX,
                           widget=forms.Textarea(attrs={"rows": 4, "maxlength": COMMENT_MAX}))
    anonymous = forms.BooleanField(label=_("Post anonymously"), required=False, help_text=ANONYMOUS_HELP)


class CommentEditForm(forms.Form):
    body = forms.CharField(label=_("Your comment"), max_length=COMMENT_MAX,
                           widget=forms.Textarea(attrs={"rows": 6, "maxlength": COMMENT_MAX}))


class HideForm(forms.Form):
    reason = forms.CharField(label=_("Reason, shown in place of the comment"), max_length=REASON_MAX,
                             widget=forms.Textarea(attrs={"rows": 2, "maxlength": REASON_MAX}))


class EndorseForm(forms.Form):
    anonymous = forms.BooleanField(label=_("Endorse anonymously"), required=False, help_text=ANONYMOUS_HELP)


class SurveyOpenForm(forms.Form):
    method = forms.ChoiceField(label=_("How members answer"), choices=Survey.Method.choices,
                               widget=forms.RadioSelect, initial=Survey.Method.RANKING)
    dots = forms.IntegerField(label=_("Dots for each member (dot-voting only)"), min_value=1, max_value=DOTS_MAX,
                              initial=10, required=False)
    anonymous = forms.BooleanField(
        label=_("Anonymous answers"), required=False, initial=True,
        help_text=_("Recommended. The answers are stored with no name and no time: nobody, not even with "
                    "the server's keys, can tell who answered what."))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("method") == Survey.Method.DOTS and not data.get("dots"):
            self.add_error("dots", ERR_DOTS)
        return data


class SurveyAnswerForm(forms.Form):
    """One field per demand, named by its article number: a rank (select) or a number of dots."""

    def __init__(self, *args: Any, survey: Survey, demands: list[Demand], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.survey, self.demands = survey, demands
        for demand in demands:
            label = gettext("Article %(number)s. %(title)s") % {"number": demand.number, "title": demand.title}
            if survey.method == Survey.Method.RANKING:
                choices = [("", gettext("Choose a rank")), *((str(i), str(i)) for i in range(1, len(demands) + 1))]
                self.fields[self.name_for(demand)] = forms.TypedChoiceField(label=label, choices=choices, coerce=int)
            else:
                self.fields[self.name_for(demand)] = forms.IntegerField(
                    label=label, min_value=0, max_value=survey.dots, initial=0,
                    widget=forms.NumberInput(attrs={"inputmode": "numeric"}))

    @staticmethod
    def name_for(demand: Demand) -> str:
        return f"article_{demand.number}"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        values = [data.get(self.name_for(d)) for d in self.demands]
        if any(v is None for v in values):
            return data
        if self.survey.method == Survey.Method.RANKING:
            if sorted(values) != list(range(1, len(values) + 1)):  # type: ignore[type-var]
                raise forms.ValidationError(ERR_RANKS)
        else:
            spent = sum(values)  # type: ignore[arg-type]
            if spent > self.survey.dots:
                raise forms.ValidationError(
                    gettext("You placed %(spent)s dots; you have %(dots)s.") % {"spent": spent, "dots": self.survey.dots})
            if spent < 1:
                raise forms.ValidationError(ERR_NO_DOTS)
        return data

    def values(self) -> dict[int, int]:
        return {d.pk: self.cleaned_data[self.name_for(d)] for d in self.demands}
