"""Removing personal details from idea texts before they become training data.

`redact` replaces e-mail addresses with `[EMAIL]`, phone numbers with `[TELEFON]`, street addresses with a house
number with `[ADRESSE]`, and names where German (or English) phrasing announces one with `[NAME]`: after "Herr"/
"Frau" (with an academic title), greetings ("Hallo Anna", "Liebe Frau …"), introductions ("mein Name ist …",
"ich heiße …", "ich bin Peter Meier") and sign-offs ("Mit freundlichen Grüßen\\nMax Mustermann", "Gruß Tom").

It aims for precision over recall: a name nobody announced cannot be found without a name list, and redacting
every capitalised word would destroy German text (all nouns are capitalised). Street names without a house number
stay: they identify nobody and are often what the idea is about ("Radweg an der Talstraße").
"""

from __future__ import annotations

import re

EMAIL = "[EMAIL]"
PHONE = "[TELEFON]"
ADDRESS = "[ADRESSE]"
NAME = "[NAME]"

MIN_PHONE_DIGITS = 7  # shorter digit runs are postcodes, years, amounts
MAX_PHONE_DIGITS = 17
# A replacement can expose another match ("Hallo Herr Dr. X"), so `redact` repeats until nothing changes. That
# ends: placeholders never match, and every change turns some non-placeholder characters into a placeholder.
_PASS_LIMIT = 100

_UPPER = "A-ZÄÖÜ"
_LOWER = "a-zäöüßéèáàóòíìúùçñ"
_NAME_WORD = rf"[{_UPPER}][{_LOWER}]+(?:-[{_UPPER}][{_LOWER}]+)?"
_TITLE = r"(?:(?:Dr|Prof|Dipl\.-Ing|Ing|Mag)\.\s*)"
_PARTICLE = r"(?:(?:von|van|de|zu|vom)\s+)"

# Capitalised words that follow a greeting or a sign-off but are no names.
_NOT_NAME_WORDS = """
    Alle Allerseits Bot Bürger Bürgerin Bürgerinnen Damen Herren Freunde Grüße Gruß Hallo Herr Frau Ich Leute
    Liebe Lieber Mitarbeiter Mitarbeiterin Mitarbeitende Nachbarn Rat Redaktion Sie Stadt Stadtverwaltung Team
    Verwaltung Wir Wuppertal Wuppertaler Wuppertalerin Zusammen Und Aus Ihr Ihre Ihnen Der Die Das Es Er Mein
    Meine Mir Mich Uns Unser Unsere Bitte Danke Vielen Dank Everyone All There
"""
_NOT_NAMES = frozenset(_NOT_NAME_WORDS.split())

_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")

# +49 202 563-1234, 0049 (0)202 1234567, (0202) 12 34 56, 0171/1234567, 0202-123456. Separators are single
# spaces, slashes, dashes or dots between digit groups; the digit count decides (see MIN_PHONE_DIGITS).
_PHONE_RE = re.compile(
    r"(?<![\w+\]])"
    r"(?:(?:\+|00)[1-9]\d{0,2}[ ./-]?(?:\(0\)[ ./-]?)?|\(0\d{1,5}\)[ ./-]?|(?=0))"
    r"\d(?:[ ./-]?\d)*"
    r"(?![\w])"
)

_STREET_SUFFIX = r"(?i:straße|strasse|str\.|weg|allee|platz|gasse|ring|ufer|damm|chaussee|pfad|steig|markt)"
_STREET_WORD = r"(?:Straße|Strasse|Str\.|Weg|Allee|Platz|Gasse|Ring|Ufer|Damm|Chaussee|Pfad|Steig|Markt)"
_HOUSE_NUMBER = r"\d{1,3}(?!\d)(?:\s?[a-hA-H](?![\w]))?(?:\s?[-/]\s?\d{1,3}(?!\d))?"
_UNITS = r"(?:m|km|cm|Meter|Kilometer|Minuten|Min|min|Stunden|Uhr|Jahre|Jahren|Euro|EUR|Prozent|%|€|Mal|mal)"
_STREET = (
    rf"(?:[{_UPPER}][{_LOWER}]*(?:-[{_UPPER}]?[{_LOWER}]+)*-?{_STREET_SUFFIX}"  # Bahnhofstraße, Friedrich-Ebert-Str.
    rf"|[{_UPPER}][{_LOWER}]+(?:er|sche|scher|sches)\s+{_STREET_WORD})"  # Berliner Straße, Kaiserlicher Platz
)
_POSTCODE_CITY = rf"\d{{5}}\s+[{_UPPER}][{_LOWER}]+(?:-[{_UPPER}][{_LOWER}]+)*"
_NUMBER_NOT_AMOUNT = rf"(?![.,]\d)(?!\s*{_UNITS}(?![\w]))"
_ADDRESS_RE = re.compile(
    rf"(?<![\w\[]){_STREET}\s*{_HOUSE_NUMBER}{_NUMBER_NOT_AMOUNT}(?:,?\s*{_POSTCODE_CITY})?"
    # "Am Brögel 3" alone could be "Am Ende 3 Busse": without a street word only with postcode and city
    rf"|(?<![\w\[])(?:Am|An\s+der|Auf\s+dem|Auf\s+der|Im|In\s+der|Zum|Zur)\s+[{_UPPER}][{_LOWER}]+\s*{_HOUSE_NUMBER}"
    rf",?\s*{_POSTCODE_CITY}"
)

# "ich wohne Hofkamp 12": where someone says they live, any capitalised name with a house number is an address.
_LIVES_AT_RE = re.compile(
    rf"(\b(?i:wohne|wohnen|wohnhaft)\s+(?:(?i:in|an|auf)\s+(?:der|dem|den)\s+|(?i:im|am|in)\s+)?)"
    rf"([{_UPPER}][{_LOWER}]+(?:[- ][{_UPPER}][{_LOWER}]+)?\s*{_HOUSE_NUMBER}{_NUMBER_NOT_AMOUNT})"
)

_FULL_NAME = rf"{_TITLE}*{_PARTICLE}?{_NAME_WORD}(?:\s+{_PARTICLE}?{_NAME_WORD})?"
_SALUTATION_RE = re.compile(rf"\b(Herrn?|Frau)(\s+)({_FULL_NAME})")
_GREETING_RE = re.compile(
    rf"(?i:\b(hallo|hi|hey|moin|servus|guten\s+tag|liebe|lieber|sehr\s+geehrte|sehr\s+geehrter|dear))"
    rf"(\s+)({_NAME_WORD}(?:\s+{_NAME_WORD})?)"
)
_INTRODUCTION_RE = re.compile(
    rf"(?i:\b(mein\s+name\s+ist|mein\s+name:|ich\s+hei(?:ß|ss)e|my\s+name\s+is|name:))(\s*)({_FULL_NAME})"
)
# "ich bin" is followed by nouns just as often ("ich bin Rentnerin"): only a first and last name count.
_I_AM_RE = re.compile(rf"(?i:\b(ich\s+bin|i\s+am|i'm))(\s+)({_NAME_WORD}\s+{_NAME_WORD})(?=\s*(?:[,.!;:)\n]|$))")
_SIGN_OFF_RE = re.compile(
    r"(?i:\b(mit\s+freundlichen\s+gr(?:ü|ue)(?:ß|ss)en|freundliche\s+gr(?:ü|ue)(?:ß|ss)e|"
    r"(?:viele|liebe|beste|herzliche|schöne|sonnige)\s+gr(?:ü|ue)(?:ß|ss)e|gr(?:ü|ue)(?:ß|ss)e|gru(?:ß|ss)|"
    r"mfg|lg|vg|best\s+regards|kind\s+regards|regards|cheers))"
    rf"(,?[ \t]*\n?[ \t]*|,?[ \t]+)({_FULL_NAME}(?:\s+{_NAME_WORD})?)(?=[ \t]*(?:[.!]?[ \t]*(?:\n|$)))"
)


def _phone(match: re.Match[str]) -> str:
    digits = sum(char.isdigit() for char in match.group(0))
    return PHONE if MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS else match.group(0)


def _looks_like_date_or_amount(text: str) -> bool:
    # 01.02.2026, 0,50 — dots/commas between short groups are dates and amounts, not phone separators
    return bool(re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{2,4}", text))


def _phone_checked(match: re.Match[str]) -> str:
    if _looks_like_date_or_amount(match.group(0)):
        return match.group(0)
    return _phone(match)


def _keep_prefix(match: re.Match[str]) -> str:
    words = match.group(3).split()
    if words[0] in _NOT_NAMES:
        return match.group(0)
    return f"{match.group(1)}{match.group(2)}{NAME}"


def _greeting(match: re.Match[str]) -> str:
    words = match.group(3).split()
    if words[0] in _NOT_NAMES:
        return match.group(0)
    # "Hallo Anna Ich finde…": a second word that is no name stays
    if len(words) == 2 and words[1] in _NOT_NAMES:
        tail = match.group(3)[len(words[0]) :]
        return f"{match.group(1)}{match.group(2)}{NAME}{tail}"
    return f"{match.group(1)}{match.group(2)}{NAME}"


# Cheap pre-checks (speed only, same results): every match of the e-mail pattern holds an "@"; every phone,
# address and "ich wohne …" match holds a digit; every name match starts at a word boundary with one of these cues
# (a case-insensitive superset of the name patterns' leading words). A text without them skips those passes.
_DIGIT_RE = re.compile(r"\d")
_NAME_CUE_RE = re.compile(
    r"(?i:\b(?:herr|frau|hallo|hi|hey|moin|servus|guten|liebe|sehr|dear|mein|my|name|ich|i\s|i'm|mit|freundliche"
    r"|viele|beste|herzliche|schöne|sonnige|gr(?:ü|ue)|gru|mfg|lg|vg|best|kind|regards|cheers))"
)


def _once(text: str) -> str:
    if "@" in text:
        text = _EMAIL_RE.sub(EMAIL, text)
    if _DIGIT_RE.search(text) is not None:
        text = _PHONE_RE.sub(_phone_checked, text)
        text = _ADDRESS_RE.sub(ADDRESS, text)
        text = _LIVES_AT_RE.sub(lambda m: f"{m.group(1)}{ADDRESS}", text)
    if _NAME_CUE_RE.search(text) is None:
        return text
    text = _SIGN_OFF_RE.sub(_keep_prefix, text)
    text = _INTRODUCTION_RE.sub(_keep_prefix, text)
    text = _I_AM_RE.sub(_keep_prefix, text)
    text = _SALUTATION_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{NAME}", text)
    return _GREETING_RE.sub(_greeting, text)


def redact(text: str) -> str:
    """`text` with e-mail addresses, phone numbers, street addresses and announced names replaced by placeholders.

    Never raises; idempotent (`redact(redact(t)) == redact(t)`).
    """
    for _ in range(_PASS_LIMIT):  # only a guard: real texts settle after one or two passes
        redacted = _once(text)
        if redacted == text:
            break
        text = redacted
    return text
