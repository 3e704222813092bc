"""Text preparation shared by training and classification: robust to odd input, identical in both."""

from __future__ import annotations

import re
import unicodedata

DEFAULT_MAX_CHARS = 2000
_WHITESPACE = re.compile(r"\s+")
# German umlauts folded the way keyboards without them spell them, so "Straße", "Strasse" and "STRASSE" meet.
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ẞ": "ss"})


def has_letters(text: str) -> bool:
    """True when the text holds at least one letter of any script (emoji, digits and punctuation do not count)."""
    return any(char.isalpha() for char in text)


def prepare(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Make any input safe to classify: valid UTF-8, whitespace collapsed, NUL removed, capped at `max_chars`.

    The cap keeps latency bounded for pasted novels; the opening of a citizen's message carries its topic.
    """
    # Lone surrogates (e.g. from a terminal with a broken encoding) cannot be encoded for the embedder.
    clean = text.encode("utf-8", errors="replace").decode("utf-8").replace("\x00", " ")
    # Cap before collapsing whitespace too, so a 100 MB input is never scanned in full.
    clean = _WHITESPACE.sub(" ", clean[: max_chars * 2]).strip()
    # Composed form: some keyboards send "u" + combining diaeresis, which must meet "ü" (and fold to "ue").
    return unicodedata.normalize("NFC", clean[:max_chars]).rstrip()


def fold(text: str) -> str:
    """Lower-case and fold umlauts: the spelling-robust form the character n-grams are built from."""
    return text.lower().translate(_FOLD)


PLACE = "ORT"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Street names ("Kaiserstraße 12", "Hauptstr.", "Friedrich-Ebert-Straße") say where, not what; their n-grams
# ("strasse", "weg") otherwise pull a report about a bench or a hedge towards mobility. Generic nouns built the
# same way ("Radweg", "Spielplatz", "Hauptstraße") are real signal and stay, unless a house number proves a name.
# Suffixes that also end many ordinary words ("Carsharing", "Flussufer", "Kursplatz"): a name only with evidence.
_EVIDENCE_ONLY = frozenset({"ring", "damm", "ufer", "platz"})
_GENERIC_STEMS: dict[str, frozenset[str]] = {
    "strasse": _words(
        "haupt land bundes schnell wohn einbahn umgehungs spiel einkaufs durchgangs ausfall neben seiten kreis "
        "staats zufahrts anlieger fahrrad rad sammel innenstadt stadt durchfahrts verbindungs ring geschaefts "
        "dorf quer zubringer erschliessungs fussgaenger strassen wohngebiets schul"
    ),
    "weg": _words(
        "geh rad fuss schul um mehr ein arbeits wald feld schotter not nachhause kontakt fernrad fahrrad "
        "radschnell wander spazier heim rueck hin loesungs lebens zu aus seiten rettungs flucht treppen trampel "
        "zugangs verbindungs rund reit kreuz irr hohl ufer post dienst rechts bildungs verwaltungs instanzen fahr "
        "online schleich fuehr anfahrts zufahrts wirtschafts park friedhofs bahn spiel kinder"
    ),
    "allee": _words("baum linden kastanien"),
    "platz": _words(
        "spiel markt park sport bolz wasserspiel bahnhofsvor ausbildungs arbeits therapie sitz kurs kita frei "
        "kinderspiel hundeauslauf camping boule stell abstell quartiers kirch rathaus dorf schul wohn halte "
        "praktikums studien parkplatz pflege heim betreuungs kindergarten krippen grill fest rast wende "
        "lager wertstoff container recycling bus lade dreh veranstaltungs stadt unterkunfts liege zelt "
        "sammel treff aussichts pendlerpark kinder bau fahrrad rad hunde spielplatz tennis fussball basketball "
        "skate"
    ),
    "gasse": _words("sack rettungs"),
}
_STREET = re.compile(
    r"(?<![\w-])(?P<stem>[A-ZÄÖÜ][A-Za-zÄÖÜäöüß]*(?:-[A-Za-zÄÖÜäöüß]+)*-?)"
    r"(?P<suffix>(?i:straße|strasse|str\.|weg|allee|platz|gasse|ring|damm|ufer))(?![\w-])"
    # A house number ("12", "12a", "12 a") that is not a quantity ("12 km", "30 Minuten").
    r"(?P<number>\s+\d{1,4}(?:\s?[a-zA-Z])?\b(?!\s*(?i:%|km|m\b|meter|min|minuten|stunden|tage|wochen|jahre|uhr|"
    r"euro|€|cm|kg|prozent|mal\b)))?"
)
# "Berliner Straße", "Wuppertaler Str. 3": an adjective of a place in front of a bare street word.
_ADJECTIVE_STREET = re.compile(
    r"(?<![\w-])(?P<adjective>[A-ZÄÖÜ][a-zäöüß]+er)\s+(?:Straße|Strasse|Str\.|Weg|Allee|Platz|Gasse|Ring|Damm|Ufer)"
    r"(?![\w-])(?:\s+\d{1,4}(?:\s?[a-zA-Z])?\b)?"
)
_NOT_PLACE_ADJECTIVES = _words(
    "der jeder dieser jener unser euer ihrer seiner meiner deiner keiner einer aber oder immer wieder hier "
    "weiter leider sicher unter hinter ueber spaeter vorher nachher neuer alter langer breiter enger "
    "schmaler gefaehrlicher kaputter dunkler"
)
_CORNER = re.compile(r"\bEcke\s+[A-ZÄÖÜ][\w.-]*(?:\s*(?:/|und|&)\s*[A-ZÄÖÜ][\w.-]*)?")
_HOUSE = re.compile(r"\b(?:Hausnummer|Hausnr\.?|Haus|Nr\.?)\s*\d{1,4}(?:\s?[a-zA-Z])?\b")


def _street(match: re.Match[str]) -> str:
    stem, suffix = match.group("stem"), match.group("suffix").lower()
    key = "strasse" if suffix == "straße" else suffix
    generic = _GENERIC_STEMS.get(key, frozenset())
    parts = stem.rstrip("-").split("-")
    if suffix == "str." or match.group("number") is not None:
        named = True
    elif stem.endswith("-"):  # "Friedrich-Ebert-Straße", but not "Kita-Platz" or "Online-Weg"
        named = len(parts) > 1 or fold(parts[-1]) not in generic
    else:  # "Kaiserstraße", "Kirchweg"; "Zoo-Parkplatz" is looked up by its last part
        named = key not in _EVIDENCE_ONLY and fold(parts[-1]) not in generic
    return PLACE if named else match.group(0)


def _adjective_street(match: re.Match[str]) -> str:
    return match.group(0) if fold(match.group("adjective")) in _NOT_PLACE_ADJECTIVES else PLACE


def mask_places(text: str) -> str:
    """Replace street names, house numbers and corners ("Ecke A/B") with the neutral word `PLACE`.

    Case matters (German capitalises names), so this runs on the prepared, not yet folded text. Generic nouns
    ("der Radweg ist kaputt", "die Straße hat Schlaglöcher") are kept: they describe the problem.
    """
    masked = _ADJECTIVE_STREET.sub(_adjective_street, text)
    masked = _STREET.sub(_street, masked)
    # Corners last, so "Ecke Berliner Str./Hofaue" sees "Ecke ORT/Hofaue" and takes both names.
    masked = _CORNER.sub(PLACE, masked)
    return _HOUSE.sub(PLACE, masked)
