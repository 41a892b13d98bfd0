"""Default wording of the union card, in the four languages the platform ships.

Card texts are data, not gettext strings: what a worker signed must stay exactly as it was shown,
even after the translations change, so each version is a CardText row per language. These are the
first version a new union starts from; officers write later versions.
"""

from __future__ import annotations

from membership.models import CardText, Union

DEFAULT_CARD_TEXTS: dict[str, tuple[str, str]] = {
    "en": (
        "Union membership card",
        "I want to join {union}. I authorise {union} to represent me in collective bargaining "
        "with my employer of record and with any company whose content or data I work on, "
        "about my pay, hours, working conditions and wellbeing.\n\n"
        "I understand that this card is confidential: it is stored encrypted, it is never shown "
        "to my employer, and I can withdraw it at any time.",
    ),
    "fr": (
        "Carte d'adhésion syndicale",
        "Je souhaite adhérer à {union}. J'autorise {union} à me représenter dans la négociation "
        "collective avec mon employeur et avec toute entreprise dont je traite les contenus ou "
        "les données, pour mon salaire, mes horaires, mes conditions de travail et ma santé.\n\n"
        "Je comprends que cette carte est confidentielle : elle est conservée chiffrée, elle n'est "
        "jamais montrée à mon employeur, et je peux la retirer à tout moment.",
    ),
    "sw": (
        "Kadi ya uanachama wa chama cha wafanyakazi",
        "Ninataka kujiunga na {union}. Ninaidhinisha {union} kuniwakilisha katika majadiliano ya "
        "pamoja na mwajiri wangu na kampuni yoyote ambayo maudhui au data yake ninashughulikia, "
        "kuhusu mshahara, saa za kazi, mazingira ya kazi na ustawi wangu.\n\n"
        "Ninaelewa kuwa kadi hii ni ya siri: imehifadhiwa kwa usimbaji fiche, haionyeshwi kamwe "
        "kwa mwajiri wangu, na ninaweza kuiondoa wakati wowote.",
    ),
    "es": (
        "Tarjeta de afiliación sindical",
        "Quiero afiliarme a {union}. Autorizo a {union} a representarme en la negociación "
        "colectiva con mi empleador y con cualquier empresa cuyos contenidos o datos trabajo, "
        "sobre mi salario, horario, condiciones de trabajo y bienestar.\n\n"
        "Entiendo que esta tarjeta es confidencial: se guarda cifrada, nunca se muestra a mi "
        "empleador y puedo retirarla en cualquier momento.",
    ),
}


def ensure_default_card_texts(union: Union) -> list[CardText]:
    """Create version 1 of the card in every default language that the union does not have yet.

    Idempotent: a language already present in version 1 is left as it is (an officer may have
    edited it). Returns the rows created.
    """
    have = set(CardText.objects.filter(union=union, version=1).values_list("language", flat=True))
    created = []
    for language, (title, body) in DEFAULT_CARD_TEXTS.items():
        if language in have:
            continue
        created.append(CardText.objects.create(
            union=union, version=1, language=language, title=title, body=body.format(union=union.name)
        ))
    return created
