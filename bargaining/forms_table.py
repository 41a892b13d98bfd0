"""Forms of the table log: a position put on the table, and an article's status."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from bargaining.models import Demand
from bargaining.models_table import DemandStatusChange, TableEntry


class EntryForm(forms.ModelForm):
    class Meta:
        model = TableEntry
        fields = ["source", "text", "note"]
        widgets = {"text": forms.Textarea(attrs={"rows": 8})}


class EntryField(forms.ModelChoiceField):
    def label_from_instance(self, obj: TableEntry) -> str:
        return gettext("Position %(number)s (%(source)s)") % {"number": obj.number, "source": obj.get_source_display()}


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=DemandStatusChange.Status.choices)
    entry = EntryField(label=_("Agreed text"), queryset=TableEntry.objects.none(), required=False,
                       help_text=_("For tentatively agreed and agreed: the position whose text was agreed. "
                                   "Empty: the latest."))
    note = forms.CharField(label=_("Note"), max_length=300, required=False)

    def __init__(self, *args: Any, demand: Demand, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        entry = self.fields["entry"]
        assert isinstance(entry, EntryField)
        entry.queryset = demand.table_entries.order_by("-number")
