"""Country names for the two-letter codes units are stored with (ISO 3166-1 alpha-2).

A person reads "Kenya", never "KE". The list covers the countries where the outsourcing vendors our
members work for run content moderation and data annotation, plus their neighbours; a code missing
here is shown as it is stored (add it here, translated, rather than showing codes).
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

COUNTRIES: dict[str, Promise] = {
    "AR": _("Argentina"), "BD": _("Bangladesh"), "BG": _("Bulgaria"), "BR": _("Brazil"),
    "CI": _("Côte d'Ivoire"), "CM": _("Cameroon"), "CO": _("Colombia"), "DE": _("Germany"),
    "EG": _("Egypt"), "ES": _("Spain"), "ET": _("Ethiopia"), "FR": _("France"), "GB": _("United Kingdom"),
    "GH": _("Ghana"), "GR": _("Greece"), "ID": _("Indonesia"), "IE": _("Ireland"), "IN": _("India"),
    "IT": _("Italy"), "KE": _("Kenya"), "LT": _("Lithuania"), "LV": _("Latvia"), "MA": _("Morocco"),
    "MG": _("Madagascar"), "MU": _("Mauritius"), "MX": _("Mexico"), "MY": _("Malaysia"), "NG": _("Nigeria"),
    "PE": _("Peru"), "PH": _("Philippines"), "PK": _("Pakistan"), "PL": _("Poland"), "PT": _("Portugal"),
    "RO": _("Romania"), "RW": _("Rwanda"), "SN": _("Senegal"), "TN": _("Tunisia"), "TR": _("Türkiye"),
    "TZ": _("Tanzania"), "UG": _("Uganda"), "US": _("United States"), "VE": _("Venezuela"),
    "VN": _("Vietnam"), "ZA": _("South Africa"),
}


def country_name(code: str) -> str:
    """The translated name of a country code, or the code itself when we have no name for it."""
    name = COUNTRIES.get((code or "").upper())
    return str(name) if name is not None else code
